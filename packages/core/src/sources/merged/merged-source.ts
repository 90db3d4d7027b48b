import { InvalidCredentialError } from "../../credentials/docker-config.js";
import { type Logger, silentLogger } from "../../logging/logger.js";
import type { SourceProvider, SourceStatus, SourceValue } from "../../plugins/contracts.js";
import { describeError } from "../../util/errors.js";
import { type HostConflict, mergeAuths } from "./merge-auths.js";

/** What {@link MergedSource} needs besides its children. */
export interface MergedSourceOptions {
  /** Where host conflicts and listener failures are logged; never with credential data. */
  readonly logger?: Logger | undefined;
}

function earliest(dates: readonly (Date | undefined)[]): Date | undefined {
  let first: Date | undefined;
  for (const date of dates) if (date && (!first || date < first)) first = date;
  return first;
}

function sameStatus(a: SourceStatus, b: SourceStatus): boolean {
  return a.state === b.state && a.error === b.error && a.expiresAt?.getTime() === b.expiresAt?.getTime();
}

const conflictKey = (c: HostConflict): string => JSON.stringify([c.host, c.kept, c.ignored]);

/**
 * The sources of a mapping that lists `sources:`, as one source: its credential's `auths` is the
 * union of the children's, the first listed source winning a registry host two of them list.
 *
 * - Each child keeps its last good value, so one failing child keeps its part in the merge while
 *   the others go on updating; the merge is `degraded` while any child is not ready, and the error
 *   names which.
 * - Nothing is exposed before every child's first attempt settled (`pending` until then), so a
 *   copy never holds only the part of the fastest child.
 * - `onChange` fires when the merged bytes, the expiry or the status change; a child refreshing to
 *   the same value fires nothing.
 */
export class MergedSource implements SourceProvider {
  readonly description: string;
  readonly secretsRead: readonly { namespace: string; name: string }[];
  readonly children: readonly SourceProvider[];
  readonly #logger: Logger;
  readonly #listeners = new Set<() => void>();
  readonly #startFailures = new Map<SourceProvider, string>();
  #conflicts = new Set<string>();
  #value: SourceValue | undefined;
  #mergeError: string | undefined;
  #status: SourceStatus = { state: "pending" };
  #started = false;
  #settled = false;
  #stopped = false;

  /** @throws Error when `children` is empty. */
  constructor(children: readonly SourceProvider[], options: MergedSourceOptions = {}) {
    if (children.length === 0) throw new Error("a merged source needs at least one source");
    this.children = Object.freeze([...children]);
    this.#logger = options.logger ?? silentLogger;
    this.description = `merged [${children.map((c) => c.description).join(", ")}]`;
    const read = new Map<string, { namespace: string; name: string }>();
    for (const s of children.flatMap((c) => c.secretsRead ?? [])) read.set(`${s.namespace}/${s.name}`, s);
    this.secretsRead = Object.freeze([...read.values()]);
  }

  /** Starts every child under `signal`; resolves once all their first attempts settled. */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`${this.description}: already started (start() was called twice)`);
    this.#started = true;
    if (signal.aborted) return;
    const unsubscribe = this.children.map((child) => child.onChange(() => this.#update()));
    signal.addEventListener(
      "abort",
      () => {
        this.#stopped = true;
        for (const off of unsubscribe) off();
      },
      { once: true },
    );
    await Promise.all(this.children.map((child) => this.#startChild(child, signal)));
    this.#settled = true;
    this.#update();
  }

  current(): SourceValue | undefined {
    // Children confirm an unchanged value without telling listeners: read the freshness now, or
    // source_age_seconds would count from the last change of the merge rather than the last read.
    const value = this.#value;
    const fetchedAt = value && !this.#mergeError ? this.#oldestFetch() : undefined;
    if (value && fetchedAt && fetchedAt.getTime() !== value.fetchedAt.getTime()) this.#value = { ...value, fetchedAt };
    return this.#value;
  }

  status(): SourceStatus {
    // As fresh as its stalest part, read now for the same reason as in current().
    if (!this.#settled) return this.#status;
    return { ...this.#status, lastSuccessAt: earliest(this.children.map((child) => child.status().lastSuccessAt)) };
  }

  onChange(listener: () => void): () => void {
    // Wrap so one function registered twice is two registrations, each removable on its own.
    const entry = (): void => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** A child whose `start` throws is dead; the merge goes on with the others and says why. */
  async #startChild(child: SourceProvider, signal: AbortSignal): Promise<void> {
    try {
      await child.start(signal);
    } catch (err) {
      const failure = `${child.description}: failed to start: ${describeError(err)}`;
      this.#startFailures.set(child, failure);
      this.#logger.error({ source: this.description, error: failure }, "source of a merge failed to start");
    }
  }

  /** Recomputes the merge and the status from the children; tells listeners when either changed. */
  #update(): void {
    if (!this.#settled || this.#stopped) return;
    const previous = this.#value;
    const previousStatus = this.#status;
    this.#value = this.#merge() ?? previous;
    this.#status = this.#statusNow();
    const valueChanged =
      previous?.credential.hash !== this.#value?.credential.hash ||
      previous?.expiresAt?.getTime() !== this.#value?.expiresAt?.getTime();
    if (valueChanged || !sameStatus(previousStatus, this.#status)) this.#emit();
  }

  /** The union of the children's values; undefined when none has one, or when the union is refused. */
  #merge(): SourceValue | undefined {
    const values = this.children.flatMap((child) => {
      const value = child.current();
      return value ? [{ description: child.description, value }] : [];
    });
    if (values.length === 0) return undefined;
    const parts = values.map(({ description, value }) => ({ description, credential: value.credential }));
    try {
      const merged = mergeAuths(parts, this.description);
      this.#mergeError = undefined;
      this.#warnOfNewConflicts(merged.conflicts);
      return {
        credential: merged.credential,
        expiresAt: earliest(values.map((v) => v.value.expiresAt)),
        fetchedAt: this.#oldestFetch() ?? new Date(),
      };
    } catch (err) {
      if (!(err instanceof InvalidCredentialError)) throw err;
      this.#mergeError = err.message;
      return undefined;
    }
  }

  /** Logs each host conflict once, when it appears; it is logged again only if it goes away and comes back. */
  #warnOfNewConflicts(conflicts: readonly HostConflict[]): void {
    const now = new Set(conflicts.map(conflictKey));
    for (const c of conflicts) {
      if (this.#conflicts.has(conflictKey(c))) continue;
      this.#logger.warn(
        { source: this.description, host: c.host, kept: c.kept, ignored: c.ignored },
        "registry host listed by two sources of a merge; the first listed wins",
      );
    }
    this.#conflicts = now;
  }

  /** When the stalest part of the merge was read: the earliest `fetchedAt` of the children that have a value. */
  #oldestFetch(): Date | undefined {
    return earliest(this.children.map((child) => child.current()?.fetchedAt));
  }

  #statusNow(): SourceStatus {
    const problems = this.children.flatMap((child) => this.#problemOf(child) ?? []);
    if (this.#mergeError) problems.push(this.#mergeError);
    const state = !this.#value ? "pending" : problems.length ? "degraded" : "ready";
    return {
      state,
      error: problems.length ? problems.join("; ") : undefined,
      expiresAt: this.#value?.expiresAt,
    };
  }

  /** Why a child is not ready, starting with its description; undefined when it is. */
  #problemOf(child: SourceProvider): string | undefined {
    const failure = this.#startFailures.get(child);
    if (failure) return failure;
    const status = child.status();
    if (status.state === "ready") return undefined;
    const error = status.error ?? (status.state === "pending" ? "has no value yet" : "is degraded");
    return error.startsWith(child.description) ? error : `${child.description}: ${error}`;
  }

  #emit(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (err) {
        this.#logger.error(
          { source: this.description, error: describeError(err) },
          "onChange listener of a merged source threw",
        );
      }
    }
  }
}
