/**
 * Leader election on a {@link ResourceLock}, after client-go's `tools/leaderelection`.
 *
 * Every replica runs the same loop:
 * - acquire: a follower reads the lock every retryPeriod (with jitter). It takes the lock when it is
 *   absent (create), released (empty holder) or expired (unchanged for the lease duration by the
 *   follower's own clock), writing over the version it read: optimistic concurrency lets exactly one
 *   of several contenders win; the others get 409 Conflict and read again.
 * - renew: the leader rewrites the record every retryPeriod. When renewDeadline passes after its
 *   last successful renewal, a timer ends its term (not the renew loop, so a hanging request cannot
 *   delay it). Since renewDeadline < leaseDuration, that is at least `leaseDuration - renewDeadline`
 *   before any follower may take over.
 * - release: when `run()`'s signal aborts, `leaderSignal` aborts, the leader keeps renewing until the
 *   work started by `onStartedLeading` has settled, then writes an empty holder with a one-second
 *   duration so a follower takes over at its next poll (client-go's ReleaseOnCancel).
 *
 * A follower never reads the holder's clock: expiry counts from when it saw the record change.
 */
import type { Logger } from "../logging/logger.js";
import type { Clock } from "../util/clock.js";
import { describeError } from "../util/errors.js";
import { sleepOn } from "../util/sleep.js";
import {
  acquireDelayMs,
  decideAcquire,
  electorState,
  jitteredRetryMs,
  releasedRecord,
  stepDownAt,
  type AcquireDecision,
  type ElectionTimings,
  type ElectorState,
} from "./decisions.js";
import { LeaderElectionError } from "./lock-call.js";
import { ObservedLock } from "./observed-lock.js";
import {
  resolveElectorSettings,
  type ElectorSettings,
  type LeaderCallbacks,
  type LeaderElectorOptions,
} from "./options.js";
import { Term, deadlineReason } from "./term.js";

type AttemptResult =
  | { kind: "acquired"; sentAtMs: number }
  | { kind: "wait"; expiresAtMs: number }
  | { kind: "conflict" }
  | { kind: "error"; error: LeaderElectionError };

type RenewResult =
  | { kind: "renewed"; sentAtMs: number }
  | { kind: "lost"; holder: string | undefined }
  | { kind: "error"; error: LeaderElectionError };

export class LeaderElector {
  readonly identity: string;
  readonly timings: Readonly<ElectionTimings>;
  readonly #s: ElectorSettings;
  readonly #lock: ObservedLock;
  readonly #name: string;
  readonly #log: Logger;
  readonly #clock: Clock;
  #running = false;
  #isLeader = false;
  #failureStreak = 0;

  constructor(options: LeaderElectorOptions) {
    this.#s = resolveElectorSettings(options);
    this.identity = this.#s.identity;
    this.timings = this.#s.timings;
    this.#log = this.#s.logger;
    this.#clock = this.#s.clock;
    this.#name = options.lock.describe();
    this.#lock = new ObservedLock(options.lock, this.#clock, (identity) => this.#leaderChanged(identity));
  }

  /** True between onStartedLeading and the abort of its leaderSignal. */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** The holder named in the lock as last seen (undefined: none, or not read yet). */
  get currentLeader(): string | undefined {
    return this.#lock.leader;
  }

  /** The record's leader transitions as last seen. */
  get leaseTransitions(): number | undefined {
    return this.#lock.leaderTransitions;
  }

  /** For a readiness probe: "unknown" when not running or the lock could not be read for a lease duration. */
  get state(): ElectorState {
    return electorState({
      running: this.#running,
      isLeader: this.#isLeader,
      lastObservedMs: this.#lock.lastObservedMs,
      nowMs: this.#clock.now(),
      leaseDurationMs: this.timings.leaseDurationMs,
    });
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead while renewals succeed, step down and campaign
   * again when they do not. Resolves after `signal` aborts (and the lock was released if held);
   * rejects only when `onStartedLeading` fails or `run` is called while already running.
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    if (this.#running) throw new Error(`leader election on ${this.#name}: run() is already active`);
    this.#running = true;
    this.#log.info({ ...this.#fields(), ...this.timings }, "leader election started");
    try {
      while (!signal.aborted) {
        const acquiredAtMs = await this.#acquire(signal);
        if (acquiredAtMs === undefined) break;
        if (signal.aborted) {
          // Cancelled just as we won: hand the lock straight back without starting any work.
          if (this.#s.releaseOnCancel) await this.#release();
          break;
        }
        await this.#lead(signal, callbacks, acquiredAtMs);
      }
    } finally {
      this.#running = false;
      this.#setLeader(false);
      this.#log.info(this.#fields(), "leader election stopped");
    }
  }

  // --- acquire ---------------------------------------------------------------------------------

  /** When the winning write was sent; undefined when `signal` aborted first. */
  async #acquire(signal: AbortSignal): Promise<number | undefined> {
    let conflicts = 0;
    while (!signal.aborted) {
      const result = await this.#tryAcquire(signal);
      // Won just as we were cancelled: report it anyway, so that run() hands the lock straight back.
      if (signal.aborted) return result.kind === "acquired" ? result.sentAtMs : undefined;
      if (result.kind === "acquired") this.#failureStreak = 0;
      if (result.kind === "acquired" && this.#clock.now() < stepDownAt(result.sentAtMs, this.timings.renewDeadlineMs)) {
        return result.sentAtMs;
      }
      conflicts = result.kind === "conflict" ? conflicts + 1 : 0;
      await sleepOn(this.#clock, this.#acquireDelay(result, conflicts), signal);
    }
    return undefined;
  }

  #acquireDelay(result: AttemptResult, conflicts: number): number {
    switch (result.kind) {
      case "acquired":
        // The write took longer than the renew deadline: the lock names us, so the next attempt renews it.
        this.#log.warn(this.#fields(), "acquired the lease too late to lead safely; renewing first");
        return 0;
      case "conflict":
        // Someone else wrote between our read and our write: read again at once, once.
        return conflicts === 1 ? 0 : jitteredRetryMs(this.timings, this.#s.random);
      case "wait":
        this.#failureStreak = 0;
        return acquireDelayMs(this.timings, this.#s.random, this.#clock.now(), result.expiresAtMs);
      case "error":
        this.#reportFailure(result.error, "cannot acquire the lease");
        return jitteredRetryMs(this.timings, this.#s.random);
    }
  }

  async #tryAcquire(signal: AbortSignal): Promise<AttemptResult> {
    try {
      await this.#lock.read(signal, this.#s.requestTimeoutMs);
    } catch (err) {
      return { kind: "error", error: err as LeaderElectionError };
    }
    const nowMs = this.#clock.now();
    const decision = decideAcquire(this.#lock.observed, this.identity, nowMs, this.timings.leaseDurationMs);
    if (decision.action === "wait") {
      const fields = { ...this.#fields(), holder: decision.holder, expiresInMs: decision.expiresAtMs - nowMs };
      this.#log.debug(fields, "lease is held by another replica");
      return { kind: "wait", expiresAtMs: decision.expiresAtMs };
    }
    try {
      const sentAtMs = await this.#claim(decision.action, signal, this.#s.requestTimeoutMs);
      this.#logAcquired(decision);
      return { kind: "acquired", sentAtMs };
    } catch (err) {
      const error = err as LeaderElectionError;
      // Written by someone else since our read, or deleted meanwhile.
      return error.isStale ? { kind: "conflict" } : { kind: "error", error };
    }
  }

  #logAcquired(decision: Exclude<AcquireDecision, { action: "wait" }>): void {
    const fields: Record<string, unknown> = { ...this.#fields(), transitions: this.#lock.leaderTransitions };
    if (decision.action === "takeover") {
      fields.reason = decision.reason;
      if (decision.previousHolder) fields.previousHolder = decision.previousHolder;
    }
    this.#log.info(fields, decision.action === "create" ? "created the lease and became leader" : "acquired the lease");
  }

  // --- lead and renew --------------------------------------------------------------------------

  async #lead(runSignal: AbortSignal, callbacks: LeaderCallbacks, acquiredAtMs: number): Promise<void> {
    const term = new Term({
      lock: this.#name,
      clock: this.#clock,
      renewDeadlineMs: this.timings.renewDeadlineMs,
      acquiredAtMs,
      onLeadershipEnd: () => this.#setLeader(false),
      onLost: (reason) => this.#log.warn({ ...this.#fields(), reason }, "lost leadership; stepping down"),
      onWorkError: (error, endedTerm) => {
        const fields = { ...this.#fields(), error: describeError(error) };
        if (endedTerm) this.#log.error(fields, "leader work failed; stepping down");
        else this.#log.debug(fields, "leader work ended with an error after leadership ended");
      },
    });
    this.#setLeader(true);
    const workDone = term.startWork((leaderSignal) => callbacks.onStartedLeading(leaderSignal));
    const onCancel = (): void => {
      if (!term.cancel() || term.loopSignal.aborted) return;
      this.#log.info(
        this.#fields(),
        "cancelled while leading; waiting for the leader work to stop before releasing the lease",
      );
    };
    runSignal.addEventListener("abort", onCancel, { once: true });
    if (runSignal.aborted) onCancel();
    try {
      await this.#renewLoop(term);
    } finally {
      runSignal.removeEventListener("abort", onCancel);
    }
    const outcome = term.close();
    if (outcome.kind === "failed" || (outcome.kind === "cancelled" && this.#s.releaseOnCancel)) await this.#release();
    this.#safe("onStoppedLeading", () => callbacks.onStoppedLeading());
    // Never let a new term start while the previous term's work is still running.
    await workDone;
    if (outcome.kind === "failed") {
      const detail = `leader work failed: ${describeError(outcome.error)}`;
      throw new LeaderElectionError(this.#name, "onStartedLeading", detail, { cause: outcome.error });
    }
  }

  async #renewLoop(term: Term): Promise<void> {
    const stop = term.loopSignal;
    while (!stop.aborted) {
      await sleepOn(this.#clock, this.timings.retryPeriodMs, stop);
      if (stop.aborted) return;
      const timeLeft = term.timeLeftMs();
      if (timeLeft <= 0) return term.lose(deadlineReason(this.timings.renewDeadlineMs));
      const result = await this.#renew(stop, Math.min(this.#s.requestTimeoutMs, timeLeft));
      // Stopped meanwhile (lost, failed, or cancelled and the work has stopped): nothing left to do.
      if (stop.aborted) return;
      if (result.kind === "renewed") {
        this.#failureStreak = 0;
        term.renewed(result.sentAtMs);
        this.#log.debug(this.#fields(), "renewed the lease");
      } else if (result.kind === "lost") {
        term.lose(result.holder ? `the lease is now held by ${result.holder}` : "the lease was taken away");
      } else {
        this.#reportFailure(result.error, "cannot renew the lease", { renewDeadlineInMs: term.timeLeftMs() });
      }
    }
  }

  /** Rewrites the record over the version last seen; on a conflict reads once and retries if it is still ours. */
  async #renew(signal: AbortSignal, timeoutMs: number): Promise<RenewResult> {
    const deadline = this.#clock.now() + timeoutMs;
    const remaining = (): number => Math.max(1, deadline - this.#clock.now());
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        return { kind: "renewed", sentAtMs: await this.#claim("renew", signal, remaining()) };
      } catch (err) {
        const error = err as LeaderElectionError;
        if (attempt > 0 || !error.isStale) return { kind: "error", error };
      }
      try {
        await this.#lock.read(signal, remaining());
      } catch (err) {
        return { kind: "error", error: err as LeaderElectionError };
      }
      // Deleted under us: the next attempt recreates it (and fails with 409 if someone else was faster).
      const holder = this.#lock.current?.record.holderIdentity;
      if (holder !== undefined && holder !== this.identity) return { kind: "lost", holder: holder || undefined };
    }
    return { kind: "error", error: new LeaderElectionError(this.#name, "renew", "conflicting writes") };
  }

  /** Gives the lock up if it still names us, so a follower can take it at once. */
  async #release(): Promise<void> {
    const signal = new AbortController().signal; // not tied to the (aborted) run signal
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = this.#lock.current;
      if (current?.record.holderIdentity !== this.identity) return;
      try {
        await this.#lock.write(
          "release",
          releasedRecord(current.record, this.#clock.now()),
          signal,
          this.#s.requestTimeoutMs,
        );
        this.#log.info(this.#fields(), "released the lease");
        return;
      } catch (err) {
        const error = err as LeaderElectionError;
        if (error.kind === "not-found") return;
        if (error.kind !== "conflict" || attempt > 0) return this.#releaseFailed(error);
      }
      // Our version is stale (e.g. an aborted renewal was committed after all): read and retry.
      try {
        await this.#lock.read(signal, this.#s.requestTimeoutMs);
      } catch (err) {
        return this.#releaseFailed(err as LeaderElectionError);
      }
    }
  }

  #releaseFailed(error: LeaderElectionError): void {
    this.#log.warn({ ...this.#fields(), error: error.message }, "could not release the lease; it will expire instead");
  }

  #claim(operation: string, signal: AbortSignal, timeoutMs: number): Promise<number> {
    return this.#lock.claim(this.identity, this.#s.durationSeconds, operation, signal, timeoutMs);
  }

  // --- state, hooks and logs -------------------------------------------------------------------

  #setLeader(isLeader: boolean): void {
    if (isLeader === this.#isLeader) return;
    this.#isLeader = isLeader;
    if (isLeader) this.#lock.setLeader(this.identity);
    this.#safe("onTransition", () => this.#s.observer.onTransition?.(isLeader));
  }

  #leaderChanged(identity: string | undefined): void {
    if (identity !== undefined && identity !== this.identity)
      this.#log.info({ lock: this.#name, leader: identity }, "new leader observed");
    this.#safe("onLeaderChange", () => this.#s.observer.onLeaderChange?.(identity));
  }

  #reportFailure(error: LeaderElectionError, message: string, extra: Record<string, unknown> = {}): void {
    this.#failureStreak++;
    const fields = { ...this.#fields(), error: error.message, failures: this.#failureStreak, ...extra };
    // First failure of a streak (and every tenth) at warn; the rest at debug.
    if (this.#failureStreak === 1 || this.#failureStreak % 10 === 0) this.#log.warn(fields, message);
    else this.#log.debug(fields, message);
  }

  #safe(hook: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ lock: this.#name, hook, error: describeError(err) }, "leader election hook threw");
    }
  }

  #fields(): Record<string, unknown> {
    return { lock: this.#name, identity: this.identity };
  }
}
