import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { classifyApiError } from "./errors.js";

/** One page of a LIST response, as client-node returns it. */
export interface ListPage<TRaw> {
  items: TRaw[];
  metadata?: { resourceVersion?: string; _continue?: string } | undefined;
}

export interface ListParams {
  limit: number;
  _continue?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  resourceVersion?: string | undefined;
}

export interface ReflectorHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
  /** After each full list, once the store matches it. */
  synced?(): void;
}

export interface ReflectorObserver {
  onWatchRestart?(reflector: string, reason: "closed" | "watchdog" | "gone" | "error"): void;
  onRelist?(reflector: string): void;
}

export interface ReflectorOptions<TRaw, T> {
  /** For logs and metrics, e.g. `namespaces`. */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch URL path, e.g. `/api/v1/namespaces`. */
  watchPath: string;
  list(params: ListParams): Promise<ListPage<TRaw>>;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** Turns a wire object into what the store keeps; drop what is not needed (managedFields). */
  transform(raw: TRaw): T;
  key(obj: T): string;
  logger: Logger;
  observer?: ReflectorObserver | undefined;
  /** LIST page size; paging keeps memory flat on large clusters. */
  pageSize?: number | undefined;
  /**
   * Watchdog: a watch that delivers nothing (not even a bookmark) for this long is treated as
   * stalled, closed and replaced after a relist. Bookmarks come about once a minute but only after
   * a random initial delay, and always just before the server-side timeout; so the default sits
   * above the longest server-side timeout, and a healthy idle watch never trips it.
   */
  inactivityTimeoutMs?: number | undefined;
  /** Server-side watch timeout range; the watch is re-established from its resourceVersion after. */
  watchTimeoutSeconds?: readonly [number, number] | undefined;
  /** Backoff bounds for failed lists and watches. */
  backoffMs?: readonly [number, number] | undefined;
  /** Called when the list or watch starts failing, or recovers (`undefined`). */
  onProblem?: ((problem: string | undefined) => void) | undefined;
}

interface WatchOutcome {
  reason: "closed" | "watchdog" | "gone" | "error";
  error?: unknown;
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * List-then-watch cache of one resource, in the style of client-go's reflector. Written here rather
 * than using client-node's informer to get: paging, bookmarks, a watchdog for silent stalls, 410
 * handling by relist, Retry-After, a transform that keeps memory small, and a relist that diffs
 * against the store so deletions missed while disconnected still fire.
 */
export class Reflector<TRaw extends { metadata?: { resourceVersion?: string } | undefined }, T> {
  readonly #opts: ReflectorOptions<TRaw, T>;
  readonly #store = new Map<string, T>();
  readonly #handlers: ReflectorHandlers<T>[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #lastEventAt = 0;
  #problem: string | undefined;

  constructor(options: ReflectorOptions<TRaw, T>) {
    this.#opts = options;
  }

  get name(): string {
    return this.#opts.name;
  }

  /** True once the first full list is in the store. */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** Milliseconds since the watch last delivered anything; for health checks. */
  get msSinceLastEvent(): number {
    return this.#lastEventAt === 0 ? 0 : Date.now() - this.#lastEventAt;
  }

  /**
   * Why the cache may be stale, while listing or watching keeps failing: names the verb and the
   * resource, e.g. a watch refused with 403 for lack of RBAC. `undefined` when healthy.
   */
  get problem(): string | undefined {
    return this.#problem;
  }

  #setProblem(problem: string | undefined): void {
    if (problem === this.#problem) return;
    this.#problem = problem;
    this.#opts.onProblem?.(problem);
  }

  #describe(verb: "list" | "watch", message: string, status: number | undefined): string {
    const o = this.#opts;
    const scope = `${o.watchPath}${o.fieldSelector ? `?fieldSelector=${o.fieldSelector}` : ""}`;
    const hint = status === 403 || status === 401 ? ` (RBAC: the patcher needs "${verb}" here)` : "";
    return `${verb} ${scope} failed: ${message}${hint}`;
  }

  on(handlers: ReflectorHandlers<T>): void {
    this.#handlers.push(handlers);
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(): IterableIterator<T> {
    return this.#store.values();
  }

  get size(): number {
    return this.#store.size;
  }

  waitForSync(signal: AbortSignal): Promise<void> {
    if (this.#synced || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#syncWaiters.push(resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }

  /** Lists and watches until `signal` aborts. Never throws: failures are logged and retried. */
  async run(signal: AbortSignal): Promise<void> {
    const [minBackoff, maxBackoff] = this.#opts.backoffMs ?? [500, 30_000];
    let backoff = minBackoff;
    const log = this.#opts.logger;
    while (!signal.aborted) {
      let resourceVersion: string;
      try {
        resourceVersion = await this.#relist();
        // A refused watch keeps its backoff across relists; anything else starts afresh.
        if (!this.#problem) backoff = minBackoff;
      } catch (err) {
        const c = classifyApiError(err);
        const wait = Math.max(c.retryAfterMs ?? 0, backoff);
        this.#setProblem(this.#describe("list", c.message, c.status));
        log.warn({ reflector: this.#opts.name, error: c.message, retryInMs: wait }, "list failed");
        await abortableSleep(wait, signal);
        backoff = Math.min(backoff * 2, maxBackoff);
        continue;
      }
      // Watch from the listed version until the server says it is too old or the watchdog fires.
      while (!signal.aborted) {
        const started = Date.now();
        const outcome = await this.#watch(resourceVersion, signal, (rv) => (resourceVersion = rv));
        if (signal.aborted) break;
        this.#opts.observer?.onWatchRestart?.(this.#opts.name, outcome.reason);
        if (outcome.reason === "closed" && Date.now() - started > 1000) {
          backoff = minBackoff;
          this.#setProblem(undefined);
          continue;
        }
        if (outcome.reason === "gone" || outcome.reason === "watchdog") {
          log.info({ reflector: this.#opts.name, reason: outcome.reason }, "relisting");
          break;
        }
        const c = outcome.error === undefined ? undefined : classifyApiError(outcome.error);
        if (c?.kind === "gone") break;
        const wait = Math.max(c?.retryAfterMs ?? 0, backoff);
        log.warn({ reflector: this.#opts.name, error: c?.message ?? "watch closed early", retryInMs: wait }, "watch failed");
        await abortableSleep(wait, signal);
        backoff = Math.min(backoff * 2, maxBackoff);
        if (c?.kind === "terminal") {
          // Retrying the same request cannot help (e.g. 403: no "watch" verb). Relist, so the cache
          // does not freeze, and say what is missing until a watch works again.
          this.#setProblem(this.#describe("watch", c.message, c.status));
          break;
        }
      }
    }
  }

  async #relist(): Promise<string> {
    const o = this.#opts;
    this.#opts.observer?.onRelist?.(o.name);
    const seen = new Map<string, T>();
    let cont: string | undefined;
    let resourceVersion = "";
    do {
      const page = await o.list({
        limit: o.pageSize ?? 500,
        _continue: cont,
        labelSelector: o.labelSelector,
        fieldSelector: o.fieldSelector,
      });
      for (const raw of page.items) {
        const obj = o.transform(raw);
        seen.set(o.key(obj), obj);
      }
      cont = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (cont);

    for (const [key, old] of this.#store) {
      if (!seen.has(key)) {
        this.#store.delete(key);
        this.#emit((h) => h.delete?.(old));
      }
    }
    for (const [key, obj] of seen) {
      const old = this.#store.get(key);
      this.#store.set(key, obj);
      if (old === undefined) this.#emit((h) => h.add?.(obj));
      else if (this.#rv(old) !== this.#rv(obj)) this.#emit((h) => h.update?.(old, obj));
    }
    this.#lastEventAt = Date.now();
    if (this.#problem?.startsWith("list ")) this.#setProblem(undefined);
    if (!this.#synced) {
      this.#synced = true;
      for (const waiter of this.#syncWaiters.splice(0)) waiter();
    }
    this.#emit((h) => h.synced?.());
    return resourceVersion;
  }

  #rv(obj: T): string | undefined {
    return (obj as { resourceVersion?: string }).resourceVersion;
  }

  #watch(resourceVersion: string, signal: AbortSignal, onResourceVersion: (rv: string) => void): Promise<WatchOutcome> {
    const o = this.#opts;
    const [minT, maxT] = o.watchTimeoutSeconds ?? [240, 300];
    const timeoutSeconds = Math.floor(minT + Math.random() * (maxT - minT));
    const watch = new Watch(o.kubeConfig);
    // client-node 2.0 aborts a watch after `requestTimeoutMs` without bytes (default 30 s, which
    // would cut healthy idle watches); raised to our watchdog window. The field is TS-private in
    // 2.0.1, hence the cast; the e2e watchdog test guards this.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = o.inactivityTimeoutMs ?? 330_000;
    return new Promise<WatchOutcome>((resolve) => {
      let outcome: WatchOutcome | undefined;
      let controller: AbortController | undefined;
      const onAbort = (): void => controller?.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      const finish = (result: WatchOutcome): void => {
        if (outcome) return;
        outcome = result;
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        resolve(result);
      };
      const query: Record<string, string | number | boolean> = {
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      if (o.labelSelector) query.labelSelector = o.labelSelector;
      if (o.fieldSelector) query.fieldSelector = o.fieldSelector;
      watch
        .watch(
          o.watchPath,
          query,
          (type: string, raw: TRaw & { code?: number }) => {
            this.#lastEventAt = Date.now();
            if (type !== "ERROR") this.#setProblem(undefined);
            if (type === "ERROR") {
              finish(raw.code === 410 ? { reason: "gone" } : { reason: "error", error: Object.assign(new Error("watch error event"), { statusCode: raw.code }) });
              return;
            }
            const rv = raw.metadata?.resourceVersion;
            if (rv) onResourceVersion(rv);
            if (type === "BOOKMARK") return;
            this.#apply(type, raw);
          },
          (err: unknown) => {
            if (err === null || err === undefined) finish({ reason: "closed" });
            else if (err instanceof Error && err.name === "TimeoutError") finish({ reason: "watchdog" });
            else finish({ reason: "error", error: err });
          },
        )
        .then(
          (c) => {
            controller = c;
            if (signal.aborted || outcome) c.abort();
          },
          (err: unknown) => finish({ reason: "error", error: err }),
        );
      if (signal.aborted) finish({ reason: "closed" });
    });
  }

  #apply(type: string, raw: TRaw): void {
    const o = this.#opts;
    const obj = o.transform(raw);
    const key = o.key(obj);
    const old = this.#store.get(key);
    if (type === "DELETED") {
      this.#store.delete(key);
      this.#emit((h) => h.delete?.(old ?? obj));
      return;
    }
    this.#store.set(key, obj);
    if (old === undefined) this.#emit((h) => h.add?.(obj));
    else this.#emit((h) => h.update?.(old, obj));
  }

  #emit(call: (h: ReflectorHandlers<T>) => void): void {
    for (const h of this.#handlers) {
      try {
        call(h);
      } catch (err) {
        this.#opts.logger.error({ reflector: this.#opts.name, error: String(err) }, "event handler threw");
      }
    }
  }
}
