import type { DockerConfigJson } from "../../credentials/docker-config.js";
import type { Logger } from "../../logging/logger.js";
import type { SourceState, SourceStatus, SourceValue } from "../../plugins/contracts.js";
import { describeSourceError } from "./errors.js";

/** What one success or failure did to a source's state. */
export interface SourceTransition {
  /** The value before (on a failure, also after: a failure never replaces it). */
  readonly previous: SourceValue | undefined;
  readonly previousState: SourceState;
  readonly state: SourceState;
  /** The credential's bytes differ from the previous value's, or there was none. */
  readonly valueChanged: boolean;
  /** Listeners were told: the value, its expiry, the state or the error changed. */
  readonly announced: boolean;
}

/**
 * The state every source keeps, whatever drives it (a poll timer, a file watch, an informer):
 * the last good value, `pending` / `ready` / `degraded`, the last error, and the `onChange`
 * listeners. It holds the {@link SourceProvider} rules in one place:
 * - a failure never replaces a good value: with one it is `degraded`, without one `pending`;
 * - listeners hear of a new value, expiry, state or error, never of an identical refresh;
 * - one throwing listener does not keep the others from hearing.
 *
 * The source decides when to call {@link succeeded} and {@link failed}, and what to log.
 */
export class SourceStateMachine {
  readonly #description: string;
  readonly #logger: Logger;
  readonly #listeners = new Set<() => void>();
  #value: SourceValue | undefined;
  #state: SourceState = "pending";
  #error: string | undefined;
  #lastSuccessAt: Date | undefined;
  #started = false;

  constructor(description: string, logger: Logger) {
    this.#description = description;
    this.#logger = logger;
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
   * Marks the source started and calls `onStop` once `signal` aborts. Throws on a second start.
   * Returns false when `signal` has already aborted (then `onStop` has run and nothing should start).
   */
  begin(signal: AbortSignal, onStop: () => void): boolean {
    if (this.#started) throw new Error(`${this.#description}: already started (start() was called twice)`);
    this.#started = true;
    if (signal.aborted) {
      onStop();
      return false;
    }
    signal.addEventListener("abort", onStop, { once: true });
    return true;
  }

  /** Records a good value read at `fetchedAt`. Its timestamps move on every confirming read. */
  succeeded(credential: DockerConfigJson, fetchedAt: Date, expiresAt?: Date): SourceTransition {
    const previous = this.#value;
    const previousState = this.#state;
    this.#value = { credential, expiresAt, fetchedAt };
    this.#state = "ready";
    this.#error = undefined;
    this.#lastSuccessAt = fetchedAt;
    const valueChanged = previous?.credential.hash !== credential.hash;
    const expiryChanged = previous?.expiresAt?.getTime() !== expiresAt?.getTime();
    const announced = valueChanged || expiryChanged || previousState !== "ready";
    if (announced) this.#emit();
    return { previous, previousState, state: "ready", valueChanged, announced };
  }

  /** Records a failed read. `error` must already be safe to show (no credential data). */
  failed(error: string): SourceTransition {
    const previousState = this.#state;
    const previousError = this.#error;
    this.#state = this.#value ? "degraded" : "pending";
    this.#error = error;
    const announced = previousState !== this.#state || previousError !== error;
    if (announced) this.#emit();
    return { previous: this.#value, previousState, state: this.#state, valueChanged: false, announced };
  }

  #emit(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (err) {
        this.#logger.error(
          { source: this.#description, error: describeSourceError("onChange listener", err) },
          "onChange listener threw",
        );
      }
    }
  }
}
