/**
 * A rate-limited work queue for string keys, modelled on client-go's `workqueue` as controller-runtime
 * uses it: keys are deduplicated, one key is never processed by two workers at once, and failures
 * come back with per-key exponential backoff under an overall token bucket.
 */

import { backoffDelay } from "../util/backoff.js";
import { clampTimerMs } from "../util/clock.js";

/**
 * What a handler says about the key it processed.
 *
 * - `done`: success; the key's failure count is reset.
 * - `requeue-after`: success, but look again after `ms` (periodic resync, waiting on something).
 * - `retry`: failure; the key comes back with backoff. `retryAfterMs` (e.g. from a `Retry-After`
 *   header) is a lower bound on the wait.
 * - `terminal`: failure that retrying cannot fix (bad config); the key is forgotten until added again.
 */
export type HandlerResult =
  | { readonly kind: "done" }
  | { readonly kind: "requeue-after"; readonly ms: number }
  | { readonly kind: "retry"; readonly error: unknown; readonly retryAfterMs?: number | undefined }
  | { readonly kind: "terminal"; readonly error: unknown };

/**
 * Metrics hooks. All are optional and called synchronously; they must be cheap. An observer that
 * throws is ignored so metrics can never stop reconciliation.
 */
export interface QueueObserver {
  /** Number of keys ready to be handed out, after every change. */
  onDepth?(depth: number): void;
  /** Time a key waited between being added (or becoming due) and a worker starting on it. */
  onLatency?(key: string, waitedMs: number): void;
  /** Outcome of one handler call; a handler that threw reports `retry`. */
  onResult?(key: string, kind: HandlerResult["kind"], durationMs: number): void;
}

/** Tuning for {@link WorkQueue}. The defaults match controller-runtime's default rate limiter. */
export interface WorkQueueOptions {
  /** First retry delay of a key, doubled on every further failure. Default 5 ms. */
  readonly baseDelayMs?: number | undefined;
  /** Cap of the per-key backoff. Default 60 000 ms. */
  readonly maxDelayMs?: number | undefined;
  /** Refill rate of the overall retry token bucket, in keys per second. Default 50. */
  readonly qps?: number | undefined;
  /** Size of the overall retry token bucket. Default 300. */
  readonly burst?: number | undefined;
  readonly observer?: QueueObserver | undefined;
  /** Monotonic clock in milliseconds; injectable for tests. Default `performance.now()`. */
  readonly now?: (() => number) | undefined;
}

/** Options of {@link WorkQueue.run}. */
export interface RunOptions {
  /** Concurrent handler calls. Default 4. */
  readonly workers?: number | undefined;
  /** Stops the queue: no new key is handed out, delayed keys are dropped, `run` resolves once in-flight handlers finish. */
  readonly signal: AbortSignal;
}

/** Handler called by {@link WorkQueue.run} for one key. Throwing counts as `retry`. */
export type QueueHandler = (key: string) => Promise<HandlerResult>;

interface Delayed {
  readonly readyAt: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * Rate-limited, deduplicating work queue for string keys.
 *
 * A key is in exactly one of these places (plus possibly a pending delayed add):
 * queued (ready), processing, or processing-and-dirty (added again while being processed; it is
 * queued once the handler finishes, so it never runs concurrently with itself).
 */
export class WorkQueue {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #qps: number;
  readonly #burst: number;
  readonly #observer: QueueObserver | undefined;
  readonly #now: () => number;

  /** Ready keys in FIFO order; a Set gives dedup and insertion order in one structure. */
  readonly #queue = new Set<string>();
  /** Keys that need processing: queued ones, plus processing ones that were added again. */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  /** When each dirty key was added, for the latency hook. */
  readonly #addedAt = new Map<string, number>();
  readonly #delayed = new Map<string, Delayed>();
  readonly #failures = new Map<string, number>();

  #tokens: number;
  #tokensAt: number;

  #shutDown = false;
  #running = false;
  /** Workers blocked waiting for a key; a new key is handed straight to the first one. */
  readonly #getters: ((key: string | undefined) => void)[] = [];
  readonly #idleWaiters: (() => void)[] = [];

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = positive("baseDelayMs", options.baseDelayMs ?? 5);
    this.#maxDelayMs = positive("maxDelayMs", options.maxDelayMs ?? 60_000);
    this.#qps = positive("qps", options.qps ?? 50);
    this.#burst = positive("burst", options.burst ?? 300);
    if (this.#burst < 1) throw new RangeError("burst must be at least 1");
    this.#observer = options.observer;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.#burst;
    this.#tokensAt = this.#now();
  }

  /** Keys ready to be handed out (not counting delayed or in-flight keys). */
  get length(): number {
    return this.#queue.size;
  }

  /** Whether the queue has been stopped; adds are ignored from then on. */
  get isShutDown(): boolean {
    return this.#shutDown;
  }

  /** Queues `key` unless it is already waiting; if it is being processed, it runs once more afterwards. */
  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    this.#addedAt.set(key, this.#now());
    if (this.#processing.has(key)) return;
    this.#enqueue(key);
  }

  /**
   * Adds `key` after `ms`. A pending delayed add of the same key keeps the earlier deadline, so a
   * short retry is never pushed back by a long resync. `ms <= 0` (or NaN) adds immediately.
   */
  addAfter(key: string, ms: number): void {
    if (this.#shutDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    // setTimeout turns longer delays into 1 ms; never let a long backoff become a hot loop.
    const delay = clampTimerMs(ms);
    const readyAt = this.#now() + delay;
    const existing = this.#delayed.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(key);
      this.add(key);
    }, delay);
    this.#delayed.set(key, { readyAt, timer });
  }

  /** Adds `key` after its backoff delay (and the bucket's), counting one more failure for it. */
  addRateLimited(key: string): void {
    this.addAfter(key, this.#when(key));
  }

  /** Resets the failure count of `key`; call on success so the next failure starts from the base delay. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  /** Failures counted for `key` since it was last forgotten. */
  retries(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** True when nothing is queued, delayed or being processed. */
  isIdle(): boolean {
    return this.#queue.size === 0 && this.#delayed.size === 0 && this.#processing.size === 0;
  }

  /**
   * Resolves the next time the queue is idle (at once if it already is). Keys only drain while
   * {@link run} is running; stopping the queue drops pending keys, so it also resolves once in-flight
   * handlers finish after a stop.
   */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Processes keys with `workers` concurrent loops until `signal` aborts, then resolves once the
   * in-flight handlers have finished. Stopping is final: the queue ignores adds afterwards.
   */
  async run(handler: QueueHandler, options: RunOptions): Promise<void> {
    const workers = options.workers ?? 4;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError("workers must be a positive integer");
    if (this.#running) throw new Error("the work queue is already running");
    if (this.#shutDown) throw new Error("the work queue has been shut down");
    this.#running = true;
    const { signal } = options;
    const stop = (): void => this.#stop();
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
    try {
      await Promise.all(Array.from({ length: workers }, () => this.#worker(handler)));
    } finally {
      signal.removeEventListener("abort", stop);
      this.#running = false;
    }
  }

  async #worker(handler: QueueHandler): Promise<void> {
    for (;;) {
      const key = await this.#get();
      if (key === undefined) return;
      await this.#process(handler, key);
    }
  }

  #get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const next = this.#queue.values().next();
    if (!next.done) {
      this.#take(next.value);
      return Promise.resolve(next.value);
    }
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  async #process(handler: QueueHandler, key: string): Promise<void> {
    const started = this.#now();
    let result: HandlerResult;
    try {
      result = await handler(key);
    } catch (error) {
      result = { kind: "retry", error };
    }
    // Handlers written in plain JS may return anything; an unusable answer is a failure, not a crash.
    const kind = isResult(result) ? result.kind : "retry";
    this.#notify((o) => o.onResult?.(key, kind, this.#now() - started));
    // Requeue before marking done: a zero delay then lands in `dirty` and runs once more, and
    // whenIdle cannot resolve in between.
    if (!isResult(result)) {
      this.addRateLimited(key);
    } else {
      switch (result.kind) {
        case "done":
        case "terminal":
          this.forget(key);
          break;
        case "requeue-after":
          this.forget(key);
          this.addAfter(key, result.ms);
          break;
        case "retry": {
          // Retry-After is a floor: the server asked for at least that long, backoff may ask for more.
          const retryAfter = result.retryAfterMs;
          const floor = retryAfter !== undefined && retryAfter > 0 ? retryAfter : 0;
          this.addAfter(key, Math.max(this.#when(key), floor));
          break;
        }
      }
    }
    this.#done(key);
  }

  /** Per-key backoff combined with the shared bucket, like client-go's MaxOfRateLimiter. */
  #when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoff = backoffDelay({ initialMs: this.#baseDelayMs, maxMs: this.#maxDelayMs, jitter: 0 }, failures + 1);
    return Math.max(backoff, this.#reserveToken());
  }

  /** Takes one token, going into debt like golang.org/x/time/rate; returns how long until it is covered. */
  #reserveToken(): number {
    if (this.#qps === Infinity) return 0;
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#tokensAt);
    this.#tokensAt = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#qps);
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  #enqueue(key: string): void {
    const getter = this.#getters.shift();
    if (getter) {
      this.#take(key);
      getter(key);
      return;
    }
    this.#queue.add(key);
    this.#notifyDepth();
  }

  /** Moves `key` from ready to processing. */
  #take(key: string): void {
    const wasQueued = this.#queue.delete(key);
    this.#dirty.delete(key);
    this.#processing.add(key);
    const addedAt = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (addedAt !== undefined) this.#notify((o) => o.onLatency?.(key, this.#now() - addedAt));
    if (wasQueued) this.#notifyDepth();
  }

  #done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.has(key) && !this.#shutDown) this.#enqueue(key);
    this.#checkIdle();
  }

  #stop(): void {
    if (this.#shutDown) return;
    this.#shutDown = true;
    for (const { timer } of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    const hadQueued = this.#queue.size > 0;
    this.#queue.clear();
    this.#dirty.clear();
    this.#addedAt.clear();
    if (hadQueued) this.#notifyDepth();
    for (const getter of this.#getters.splice(0)) getter(undefined);
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #notifyDepth(): void {
    const depth = this.#queue.size;
    this.#notify((o) => o.onDepth?.(depth));
  }

  #notify(call: (observer: QueueObserver) => void): void {
    if (!this.#observer) return;
    try {
      call(this.#observer);
    } catch {
      // Metrics are best effort; a broken observer must not wedge a worker.
    }
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || Number.isNaN(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number`);
  }
  return value;
}

function isResult(value: unknown): value is HandlerResult {
  if (typeof value !== "object" || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === "done" || kind === "requeue-after" || kind === "retry" || kind === "terminal";
}
