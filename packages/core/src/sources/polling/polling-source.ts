import type { DockerConfigJson } from "../../credentials/docker-config.js";
import { silentLogger, type Logger } from "../../logging/logger.js";
import type { SourceProvider, SourceStatus, SourceValue } from "../../plugins/contracts.js";
import { systemClock, type Clock, type Timer } from "../../util/clock.js";
import { runAttempt, type PollFetch } from "./attempt.js";
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MIN_DELAY_MS,
  EXPIRY_SAFETY_MARGIN_MS,
  backoffDelay,
  clampDelay,
  refreshDelay,
} from "./delays.js";
import { SourceStateMachine } from "./source-state.js";

export { type PolledValue, type PollFetch } from "./attempt.js";
export {
  EXPIRY_REFRESH_FRACTION,
  EXPIRY_JITTER_FRACTION,
  EXPIRY_SAFETY_MARGIN_MS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_MIN_DELAY_MS,
  refreshDelay,
  backoffDelay,
} from "./delays.js";

/** Settings of a {@link PollingSource}: what to fetch, how often, and how to back off. */
export interface PollingSourceOptions {
  /** Identity for logs, status and errors, e.g. `vault secret/registry`. Never a secret. */
  readonly description: string;
  readonly fetch: PollFetch;
  /** Refresh period while the backend answers. */
  readonly refreshIntervalMs: number;
  readonly logger?: Logger | undefined;
  /** Defaults to {@link systemClock}; tests pass a {@link ManualClock}. */
  readonly clock?: Clock | undefined;
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
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #refreshIntervalMs: number;
  readonly #initialBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #minDelayMs: number;
  readonly #state: SourceStateMachine;

  #failures = 0;
  #attempts = 0;
  #stopped = false;
  #signal: AbortSignal | undefined;
  #timer: { readonly handle: Timer } | undefined;
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
    this.#state = new SourceStateMachine(this.description, this.#logger);
  }

  async start(signal: AbortSignal): Promise<void> {
    if (!this.#state.begin(signal, () => this.#stop())) return;
    this.#signal = signal;
    await this.#attempt();
  }

  current(): SourceValue | undefined {
    return this.#state.current();
  }

  status(): SourceStatus {
    return this.#state.status();
  }

  onChange(listener: () => void): () => void {
    return this.#state.onChange(listener);
  }

  /**
   * Fetches now instead of waiting for the timer (e.g. after a webhook said the value changed).
   * Joins an attempt already running. Does nothing before `start` or after the signal aborted.
   */
  refreshNow(): Promise<void> {
    if (!this.#signal || this.#stopped) return Promise.resolve();
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
    const signal = this.#signal;
    if (!signal || this.#stopped) return;
    this.#attempts++;
    const outcome = await runAttempt({
      description: this.description,
      fetch: this.#fetch,
      clock: this.#clock,
      timeoutMs: this.#attemptTimeoutMs,
      signal,
    });
    // Stopped while the attempt ran: leave the state as it was, schedule nothing.
    if (this.#stopped) return;
    if (outcome.ok) this.#succeeded(outcome.credential, outcome.expiresAt);
    else this.#failed(outcome.error);
  }

  #succeeded(credential: DockerConfigJson, expiresAt: Date | undefined): void {
    const now = this.#clock.now();
    this.#failures = 0;
    const delay = refreshDelay({
      now,
      refreshIntervalMs: this.#refreshIntervalMs,
      expiresAt,
      random: this.#random,
      minDelayMs: this.#minDelayMs,
    });
    this.#schedule(delay);
    const { previous, previousState, valueChanged } = this.#state.succeeded(credential, new Date(now), expiresAt);

    const fields = { source: this.description, hash: credential.hash, registries: credential.registries };
    if (valueChanged) {
      this.#logger.info(
        { ...fields, previousHash: previous?.credential.hash, expiresAt: expiresAt?.toISOString() },
        previous ? "credential changed" : "credential loaded",
      );
    } else if (previousState === "degraded") {
      this.#logger.info(fields, "source recovered");
    } else {
      this.#logger.debug({ ...fields, nextRefreshMs: delay }, "credential unchanged");
    }
  }

  #failed(error: string): void {
    this.#failures++;
    const delay = this.#retryDelay();
    this.#schedule(delay);
    const { previous, state } = this.#state.failed(error);
    this.#logger.warn(
      {
        source: this.description,
        error,
        state,
        consecutiveFailures: this.#failures,
        retryInMs: delay,
        keptHash: previous?.credential.hash,
      },
      previous ? "source failed; keeping the last good credential" : "source failed; no credential yet",
    );
  }

  /** Backoff, but never sleeping through the refresh deadline of a value that expires. */
  #retryDelay(): number {
    let delay = backoffDelay({
      failures: this.#failures,
      random: this.#random,
      initialBackoffMs: this.#initialBackoffMs,
      maxBackoffMs: this.#maxBackoffMs,
    });
    const expiresAt = this.#state.current()?.expiresAt;
    if (expiresAt) {
      const untilDeadline = expiresAt.getTime() - EXPIRY_SAFETY_MARGIN_MS - this.#clock.now();
      if (untilDeadline > 0) delay = Math.min(delay, untilDeadline);
    }
    return clampDelay(delay, Math.min(this.#minDelayMs, this.#initialBackoffMs));
  }
}

/** Functional form of {@link PollingSource}. */
export function createPollingSource(options: PollingSourceOptions): PollingSource {
  return new PollingSource(options);
}
