import type { Logger } from "../logging/logger.js";
import type { SourceProvider } from "../plugins/contracts.js";
import { describeError } from "../util/errors.js";

/** A source the engine runs, with the controller that stops it when no mapping uses it any more. */
interface RunningSource {
  readonly stop: AbortController;
  readonly unsubscribe: () => void;
  /** Settles when the source's first attempt settled (its `start` contract), failed or not. */
  started: Promise<void>;
  /** Set when `start` threw: the source is dead until the engine is rebuilt. */
  failure?: string | undefined;
}

/**
 * Starts and stops the mappings' sources. Each runs in the background: one that cannot be read (say
 * a 403 on its namespace) makes its own mappings wait and report why, and never holds up the others.
 */
export class SourceRunner {
  readonly #log: Logger;
  readonly #changed: (source: SourceProvider) => void;
  readonly #running = new Map<SourceProvider, RunningSource>();

  /** `changed` is called when a source's value or state may have changed, and after its first attempt. */
  constructor(log: Logger, changed: (source: SourceProvider) => void) {
    this.#log = log;
    this.#changed = changed;
  }

  /** Starts `source` (once) under `signal`; `mapping` names it in logs. */
  start(source: SourceProvider, mapping: string, signal: AbortSignal): void {
    if (this.#running.has(source) || signal.aborted) return;
    const stop = new AbortController();
    signal.addEventListener("abort", () => stop.abort(), { once: true, signal: stop.signal });
    const running: RunningSource = {
      stop,
      unsubscribe: source.onChange(() => this.#changed(source)),
      started: Promise.resolve(),
    };
    this.#running.set(source, running);
    running.started = source.start(stop.signal).then(
      () => this.#changed(source),
      (err: unknown) => {
        running.failure = `source ${source.description} failed to start: ${describeError(err)}`;
        this.#log.error({ mapping, source: source.description, error: running.failure }, "source failed to start");
        this.#changed(source);
      },
    );
  }

  stop(source: SourceProvider): void {
    const running = this.#running.get(source);
    this.#running.delete(source);
    if (!running) return;
    running.unsubscribe();
    running.stop.abort();
  }

  /** Stops every source; returns them. */
  stopAll(): SourceProvider[] {
    const sources = [...this.#running.keys()];
    for (const source of sources) this.stop(source);
    return sources;
  }

  /** Why the source is dead, if its `start` threw. */
  failure(source: SourceProvider): string | undefined {
    return this.#running.get(source)?.failure;
  }

  /** Resolves when each of `sources` settled its first attempt (a value, or a problem), or after `maxMs`. */
  async firstAttempts(sources: Iterable<SourceProvider>, signal: AbortSignal, maxMs: number): Promise<void> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(maxMs)]);
    const gaveUp = new Promise<void>((resolve) => deadline.addEventListener("abort", () => resolve(), { once: true }));
    const started = [...sources].map((s) => this.#running.get(s)?.started ?? Promise.resolve());
    await Promise.race([Promise.all(started), gaveUp]);
  }
}
