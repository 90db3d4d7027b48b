import type { Clock } from "../util/clock.js";
import { holderRecord, recordKey, type ObservedRecord } from "./decisions.js";
import { callLock } from "./lock-call.js";
import type { LeaderElectionRecord, ResourceLock, VersionedRecord } from "./lock.js";

/**
 * The lock as this replica sees it. Every read and write goes through here and records what came
 * back: the record (whose version the next write must match), the local time it last changed
 * (expiry counts from there, never from the holder's clock), and the time of the last successful
 * request (readiness). Failures are thrown as `LeaderElectionError`s.
 */
export class ObservedLock {
  readonly name: string;
  readonly #lock: ResourceLock;
  readonly #clock: Clock;
  readonly #onLeaderChange: (identity: string | undefined) => void;
  #current: VersionedRecord | undefined;
  #changed: { key: string; atMs: number } | undefined;
  #lastObservedMs: number | undefined;
  #leader: string | undefined;
  #transitions: number | undefined;

  /** `onLeaderChange` is called when the holder named in the lock changes (undefined: nobody). */
  constructor(lock: ResourceLock, clock: Clock, onLeaderChange: (identity: string | undefined) => void) {
    this.#lock = lock;
    this.name = lock.describe();
    this.#clock = clock;
    this.#onLeaderChange = onLeaderChange;
  }

  /** The record as last read or written; undefined when it did not exist or was not read yet. */
  get current(): VersionedRecord | undefined {
    return this.#current;
  }

  /** The current record with the local time it last changed, for `decideAcquire`. */
  get observed(): ObservedRecord | undefined {
    if (!this.#current || !this.#changed) return undefined;
    return { record: this.#current.record, changedAtMs: this.#changed.atMs };
  }

  get lastObservedMs(): number | undefined {
    return this.#lastObservedMs;
  }

  /** The holder as last seen; undefined when nobody holds the lock or it was not read yet. */
  get leader(): string | undefined {
    return this.#leader;
  }

  get leaderTransitions(): number | undefined {
    return this.#transitions;
  }

  async read(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const at = { lock: this.name, operation: "read" };
    this.#saw(await callLock(this.#clock, at, signal, timeoutMs, (s) => this.#lock.get(s)));
  }

  /** Writes `record` over the version last seen, or creates it when there was none. */
  async write(operation: string, record: LeaderElectionRecord, signal: AbortSignal, timeoutMs: number): Promise<void> {
    const over = this.#current;
    const at = { lock: this.name, operation: over ? operation : "create" };
    const written = await callLock(this.#clock, at, signal, timeoutMs, (s) =>
      over ? this.#lock.update(record, over.version, s) : this.#lock.create(record, s),
    );
    this.#saw(written);
  }

  /** Writes "held by `identity`, renewed now"; returns when it was sent (the leader's deadline counts from there). */
  async claim(
    identity: string,
    durationSeconds: number,
    operation: string,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<number> {
    const sentAtMs = this.#clock.now();
    await this.write(
      operation,
      holderRecord(this.#current?.record, identity, sentAtMs, durationSeconds),
      signal,
      timeoutMs,
    );
    return sentAtMs;
  }

  setLeader(identity: string | undefined): void {
    if (identity === this.#leader) return;
    this.#leader = identity;
    this.#onLeaderChange(identity);
  }

  #saw(current: VersionedRecord | undefined): void {
    const nowMs = this.#clock.now();
    this.#current = current;
    this.#lastObservedMs = nowMs;
    if (!current) {
      this.#changed = undefined;
      this.setLeader(undefined);
      return;
    }
    const key = recordKey(current);
    if (this.#changed?.key !== key) this.#changed = { key, atMs: nowMs };
    this.#transitions = current.record.leaderTransitions;
    this.setLeader(current.record.holderIdentity || undefined);
  }
}
