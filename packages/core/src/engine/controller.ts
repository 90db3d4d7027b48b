import type { Logger } from "../logging/logger.js";
import { WorkQueue, type HandlerResult, type QueueObserver } from "../queue/work-queue.js";
import { splitKey } from "./keys.js";
import type { ReconcileMode } from "./reconciler.js";
import type { KeyStatuses } from "./status.js";

/** Reconciles one key; see {@link KeyReconciler}. */
export type Reconcile = (key: string, mode: ReconcileMode) => Promise<HandlerResult>;

export interface ControllerOptions {
  readonly log: Logger;
  readonly observer?: QueueObserver | undefined;
  readonly statuses: KeyStatuses;
  readonly namespaceExists: (namespace: string) => boolean;
  /** One-off passes: how long a key may keep failing retryably before it is given up. */
  readonly onceRetryBudgetMs: number;
}

/**
 * The loop: a deduplicating, rate-limited work queue of keys and the workers that reconcile them.
 * In a one-off pass, a key still retrying or waiting after the retry budget is given up, so the
 * pass always ends.
 */
export class Controller {
  readonly #queue: WorkQueue;
  readonly #reconcile: Reconcile;
  readonly #opts: ControllerOptions;
  /** One-off passes: when each key started failing. */
  readonly #failingSince = new Map<string, number>();

  constructor(reconcile: Reconcile, options: ControllerOptions) {
    this.#reconcile = reconcile;
    this.#opts = options;
    this.#queue = new WorkQueue({ observer: options.observer });
  }

  get length(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    this.#queue.add(key);
  }

  whenIdle(): Promise<void> {
    return this.#queue.whenIdle();
  }

  /** Reconciles keys with `workers` workers until `signal` aborts; resolves when in-flight keys finish. */
  run(signal: AbortSignal, workers: number, mode: ReconcileMode = {}): Promise<void> {
    return this.#queue.run((key) => this.#handle(key, mode), { workers, signal });
  }

  async #handle(key: string, mode: ReconcileMode): Promise<HandlerResult> {
    const result = await this.#reconcile(key, mode);
    if (result.kind !== "retry" && result.kind !== "requeue-after") {
      this.#failingSince.delete(key);
      return result;
    }
    if (!mode.once) return result;
    const since = this.#failingSince.get(key) ?? Date.now();
    this.#failingSince.set(key, since);
    const left = this.#opts.onceRetryBudgetMs - (Date.now() - since);
    if (left <= 0) return this.#giveUp(key, since);
    if (result.kind === "retry" && result.retryAfterMs !== undefined)
      return { ...result, retryAfterMs: Math.min(result.retryAfterMs, left) };
    return result;
  }

  #giveUp(key: string, since: number): HandlerResult {
    this.#failingSince.delete(key);
    const [id, namespace] = splitKey(key);
    const { statuses } = this.#opts;
    const previous = statuses.get(key);
    const why =
      previous && previous.outcome !== "in-sync" ? previous.reason : "its last write never showed up in the watch";
    const message = `gave up after ${Math.round((Date.now() - since) / 1000)}s: ${why}`;
    if (this.#opts.namespaceExists(namespace)) {
      const outcome = previous?.outcome === "waiting" ? "waiting" : "error";
      statuses.set(key, {
        mapping: previous?.mapping ?? id,
        namespace,
        secretName: previous?.secretName,
        outcome,
        reason: message,
        at: new Date(),
      });
    }
    this.#opts.log.error({ key, reason: message }, "key did not settle; giving up for this pass");
    return { kind: "terminal", error: new Error(message) };
  }
}
