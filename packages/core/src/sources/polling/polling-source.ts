import { parseDockerConfigJson, type DockerConfigJson } from "../../credentials/docker-config.js";
import { silentLogger, type Logger } from "../../logging/logger.js";
import type { SourceProvider, SourceState, SourceStatus, SourceValue } from "../../plugins/contracts.js";
import { MAX_TIMER_MS, systemClock, type PollingClock, type PollingTimer } from "./clock.js";
import { SourceFetchError, describeSourceError } from "./errors.js";

/** What one fetch produced: the candidate `.dockerconfigjson` and, for short-lived ones, its expiry. */
export interface PolledValue {
  readonly bytes: Uint8Array | string;
  readonly expiresAt?: Date | undefined;
}

/**
 * Reads the backend once. Must honour `signal` (it aborts on stop and on the attempt timeout).
 * Throw {@link SourceFetchError} with a secret-free message for problems worth showing as they are.
 */
export type PollFetch = (signal: AbortSignal) => Promise<PolledValue>;

/** Settings of a {@link PollingSource}: what to fetch, how often, and how to back off. */
export interface PollingSourceOptions {
  /** Identity for logs, status and errors, e.g. `vault secret/registry`. Never a secret. */
  readonly description: string;
  readonly fetch: PollFetch;
  /** Refresh period while the backend answers. */
  readonly refreshIntervalMs: number;
  readonly logger?: Logger | undefined;
  /** Defaults to {@link systemClock}; tests pass a {@link ManualClock}. */
  readonly clock?: PollingClock | undefined;
  /** Uniform in [0, 1); defaults to `Math.random`. Drives the expiry jitter and the backoff jitter. */
  readonly random?: (() => number) | undefined;
  /** First retry delay after a failure (default 1 s); doubles per consecutive failure. */
  readonly initialBackoffMs?: number | undefined;
  /** Retry delay cap (default 5 min). */
  readonly maxBackoffMs?: number | undefined;
  /** An attempt that has not settled by then is aborted and counts as a failure (default 60 s). */
  readonly attemptTimeoutMs?: number | undefined;
  /** Floor for any scheduled delay, so a value that is about to expire cannot cause a busy loop (default 1 s). */
  readonly minDelayMs?: number | undefined;
  /** Passed through to {@link SourceProvider.secretsRead}. */
  readonly secretsRead?: readonly { namespace: string; name: string }[] | undefined;
}

/** Fraction of the remaining lifetime after which a value with `expiresAt` is refreshed. */
export const EXPIRY_REFRESH_FRACTION = 0.8;
/** Up to this fraction of the remaining lifetime is taken off at random, so replicas spread out. */
export const EXPIRY_JITTER_FRACTION = 0.1;
/** A value with `expiresAt` is refreshed at the latest this long before it expires. */
export const EXPIRY_SAFETY_MARGIN_MS = 30_000;
export const DEFAULT_INITIAL_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 60_000;
export const DEFAULT_MIN_DELAY_MS = 1_000;

function clampDelay(ms: number, minDelayMs: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.max(minDelayMs, Math.round(ms)));
}

/**
 * Delay until the next refresh after a success: `refreshIntervalMs`, or earlier for a value that
 * expires: at 80 % of its remaining lifetime minus up to 10 % jitter, and never later than 30 s
 * before it expires (but not sooner than `minDelayMs`).
 */
export function refreshDelay(input: {
  now: number;
  refreshIntervalMs: number;
  expiresAt?: Date | undefined;
  random: () => number;
  minDelayMs?: number | undefined;
}): number {
  let delay = input.refreshIntervalMs;
  if (input.expiresAt) {
    const remaining = input.expiresAt.getTime() - input.now;
    const early = remaining * (EXPIRY_REFRESH_FRACTION - EXPIRY_JITTER_FRACTION * input.random());
    delay = Math.min(delay, early, remaining - EXPIRY_SAFETY_MARGIN_MS);
  }
  return clampDelay(delay, input.minDelayMs ?? DEFAULT_MIN_DELAY_MS);
}

/**
 * Delay before retry number `failures` (1 for the first failure): `initial * 2^(failures-1)` capped
 * at `max`, minus up to 10 % jitter.
 */
export function backoffDelay(input: {
  failures: number;
  random: () => number;
  initialBackoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
}): number {
  const initial = input.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS;
  const max = input.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const exponent = Math.min(Math.max(0, input.failures - 1), 40);
  const base = Math.min(max, initial * 2 ** exponent);
  return Math.max(0, Math.round(base * (1 - 0.1 * input.random())));
}

class AttemptTimeoutError extends SourceFetchError {
  override readonly name = "AttemptTimeoutError";
}

/** Rejects when `signal` aborts, even if `promise` ignores it. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        // Pass through whatever the fetch threw; describeSourceError copes with non-errors.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      },
    );
  });
}

type Outcome =
  | { ok: true; credential: DockerConfigJson; expiresAt: Date | undefined }
  | { ok: false; error: string };

/**
 * Turns a `fetch(signal)` into a {@link SourceProvider}: it polls, validates every value with
 * {@link parseDockerConfigJson}, keeps the last good value through outages (`degraded`), retries
 * with capped exponential backoff, refreshes expiring values early, and notifies listeners only on
 * real changes. Third-party sources build on it instead of reimplementing these rules.
 *
 * ```ts
 * const source = new PollingSource({
 *   description: "my-backend team-a/registry",
 *   refreshIntervalMs: 60_000,
 *   fetch: async (signal) => ({ bytes: await readFromBackend(signal) }),
 * });
 * ```
 */
export class PollingSource implements SourceProvider {
  readonly description: string;
  readonly secretsRead: readonly { namespace: string; name: string }[];

  readonly #fetch: PollFetch;
  readonly #logger: Logger;
  readonly #clock: PollingClock;
  readonly #random: () => number;
  readonly #refreshIntervalMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #minDelayMs: number;
  readonly #listeners = new Set<() => void>();

  #value: SourceValue | undefined;
  #state: SourceState = "pending";
  #error: string | undefined;
  #lastSuccessAt: Date | undefined;
  #failures = 0;
  #attempts = 0;
  #started = false;
  #stopped = false;
  #signal: AbortSignal | undefined;
  #timer: { readonly handle: PollingTimer } | undefined;
  #nextAttemptAt: number | undefined;
  #inFlight: Promise<void> | undefined;

  constructor(options: PollingSourceOptions) {
    if (!options.description) throw new TypeError("PollingSource: description is required");
    if (!(options.refreshIntervalMs > 0)) throw new TypeError("PollingSource: refreshIntervalMs must be positive");
    this.description = options.description;
    this.secretsRead = options.secretsRead ?? [];
    this.#fetch = options.fetch;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#refreshIntervalMs = options.refreshIntervalMs;
    this.#initialBackoffMs = options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS;
    this.#maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.#minDelayMs = options.minDelayMs ?? DEFAULT_MIN_DELAY_MS;
  }

  async start(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error(`${this.description}: start() was called twice`);
    this.#started = true;
    this.#signal = signal;
    if (signal.aborted) {
      this.#stop();
      return;
    }
    signal.addEventListener("abort", () => this.#stop(), { once: true });
    await this.#attempt();
  }

  current(): SourceValue | undefined {
    return this.#value;
  }

  status(): SourceStatus {
    return {
      state: this.#state,
      error: this.#error,
      lastSuccessAt: this.#lastSuccessAt,
      expiresAt: this.#value?.expiresAt,
    };
  }

  onChange(listener: () => void): () => void {
    // Wrap so one function registered twice is two registrations, each removable on its own.
    const entry = (): void => listener();
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Fetches now instead of waiting for the timer (e.g. after a webhook said the value changed).
   * Joins an attempt already running. Does nothing before `start` or after the signal aborted.
   */
  refreshNow(): Promise<void> {
    if (!this.#started || this.#stopped) return Promise.resolve();
    return this.#attempt();
  }

  /** When the next attempt is scheduled, for status pages and tests. */
  nextAttemptAt(): Date | undefined {
    return this.#nextAttemptAt === undefined ? undefined : new Date(this.#nextAttemptAt);
  }

  /** Consecutive failed attempts since the last success. */
  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Attempts made so far, successful or not. */
  get attempts(): number {
    return this.#attempts;
  }

  #stop(): void {
    this.#stopped = true;
    this.#cancelTimer();
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
    this.#nextAttemptAt = undefined;
  }

  #schedule(delayMs: number): void {
    this.#cancelTimer();
    if (this.#stopped) return;
    this.#nextAttemptAt = this.#clock.now() + delayMs;
    const handle = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#nextAttemptAt = undefined;
      void this.#attempt();
    }, delayMs);
    this.#timer = { handle };
  }

  #attempt(): Promise<void> {
    if (this.#inFlight) return this.#inFlight;
    this.#cancelTimer();
    const running = this.#runAttempt().finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = running;
    return running;
  }

  async #runAttempt(): Promise<void> {
    const outer = this.#signal;
    if (!outer || this.#stopped) return;
    this.#attempts++;
    const controller = new AbortController();
    const onStop = (): void => controller.abort(outer.reason);
    outer.addEventListener("abort", onStop, { once: true });
    const timeoutMs = this.#attemptTimeoutMs;
    const timeout = this.#clock.setTimeout(
      () => controller.abort(new AttemptTimeoutError(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    let outcome: Outcome;
    try {
      const polled = await raceAbort(
        Promise.resolve().then(() => this.#fetch(controller.signal)),
        controller.signal,
      );
      if (polled === null || typeof polled !== "object") {
        throw new SourceFetchError("fetch returned no value", false);
      }
      const credential = parseDockerConfigJson(polled.bytes, this.description);
      const expiresAt = polled.expiresAt;
      if (expiresAt !== undefined) {
        if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
          throw new SourceFetchError("the value came with an invalid expiry time", false);
        }
        if (expiresAt.getTime() <= this.#clock.now()) {
          throw new SourceFetchError(`the value had already expired (at ${expiresAt.toISOString()})`, false);
        }
      }
      outcome = { ok: true, credential, expiresAt: expiresAt === undefined ? undefined : new Date(expiresAt.getTime()) };
    } catch (err) {
      outcome = { ok: false, error: describeSourceError(this.description, err) };
    } finally {
      this.#clock.clearTimeout(timeout);
      outer.removeEventListener("abort", onStop);
    }
    // Stopped while the attempt ran: leave the state as it was, schedule nothing.
    if (this.#stopped) return;
    if (outcome.ok) this.#succeeded(outcome.credential, outcome.expiresAt);
    else this.#failed(outcome.error);
  }

  #succeeded(credential: DockerConfigJson, expiresAt: Date | undefined): void {
    const now = this.#clock.now();
    const previous = this.#value;
    const previousState = this.#state;
    this.#value = { credential, expiresAt, fetchedAt: new Date(now) };
    this.#state = "ready";
    this.#error = undefined;
    this.#lastSuccessAt = new Date(now);
    this.#failures = 0;
    const delay = refreshDelay({
      now,
      refreshIntervalMs: this.#refreshIntervalMs,
      expiresAt,
      random: this.#random,
      minDelayMs: this.#minDelayMs,
    });
    this.#schedule(delay);

    const bytesChanged = previous?.credential.hash !== credential.hash;
    const expiryChanged = previous?.expiresAt?.getTime() !== expiresAt?.getTime();
    const stateChanged = previousState !== "ready";
    const fields = { source: this.description, hash: credential.hash, registries: credential.registries };
    if (bytesChanged) {
      this.#logger.info(
        { ...fields, previousHash: previous?.credential.hash, expiresAt: expiresAt?.toISOString() },
        previous ? "credential changed" : "credential loaded",
      );
    } else if (previousState === "degraded") {
      this.#logger.info(fields, "source recovered");
    } else {
      this.#logger.debug({ ...fields, nextRefreshMs: delay }, "credential unchanged");
    }
    if (bytesChanged || expiryChanged || stateChanged) this.#emit();
  }

  #failed(error: string): void {
    const previousState = this.#state;
    this.#failures++;
    this.#error = error;
    this.#state = this.#value ? "degraded" : "pending";
    let delay = backoffDelay({
      failures: this.#failures,
      random: this.#random,
      initialBackoffMs: this.#initialBackoffMs,
      maxBackoffMs: this.#maxBackoffMs,
    });
    // Do not let a long backoff sleep through the refresh deadline of a value that expires.
    const expiresAt = this.#value?.expiresAt;
    if (expiresAt) {
      const untilDeadline = expiresAt.getTime() - EXPIRY_SAFETY_MARGIN_MS - this.#clock.now();
      if (untilDeadline > 0) delay = Math.min(delay, untilDeadline);
    }
    delay = clampDelay(delay, Math.min(this.#minDelayMs, this.#initialBackoffMs));
    this.#schedule(delay);
    this.#logger.warn(
      {
        source: this.description,
        error,
        state: this.#state,
        consecutiveFailures: this.#failures,
        retryInMs: delay,
        keptHash: this.#value?.credential.hash,
      },
      this.#value ? "source failed; keeping the last good credential" : "source failed; no credential yet",
    );
    if (previousState !== this.#state) this.#emit();
  }

  #emit(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (err) {
        this.#logger.error(
          { source: this.description, error: describeSourceError("onChange listener", err) },
          "onChange listener threw",
        );
      }
    }
  }
}

/** Functional form of {@link PollingSource}. */
export function createPollingSource(options: PollingSourceOptions): PollingSource {
  return new PollingSource(options);
}
