import { Watch, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { backoffDelay, type BackoffPolicy } from "../util/backoff.js";
import { describeError } from "../util/errors.js";
import { sleep } from "../util/sleep.js";
import { classifyApiError, type ClassifiedError } from "./errors.js";
import type { Informer, InformerHandlers } from "./informer.js";

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

/** Kept under its first name for callers of the reflector. */
export type ReflectorHandlers<T> = InformerHandlers<T>;

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

/** How a watch that client-node reports as done ended: closed by the server, stalled, or failed. */
function watchEnded(err: unknown): WatchOutcome {
  if (err === null || err === undefined) return { reason: "closed" };
  if (err instanceof Error && err.name === "TimeoutError") return { reason: "watchdog" };
  return { reason: "error", error: err };
}

/**
 * List-then-watch cache of one resource, in the style of client-go's reflector. Written here rather
 * than using client-node's informer to get: paging, bookmarks, a watchdog for silent stalls, 410
 * handling by relist, Retry-After, a transform that keeps memory small, and a relist that diffs
 * against the store so deletions missed while disconnected still fire.
 */
export class Reflector<TRaw extends { metadata?: { resourceVersion?: string } | undefined }, T> implements Informer<T> {
  readonly #opts: ReflectorOptions<TRaw, T>;
  readonly #backoff: BackoffPolicy;
  readonly #store = new Map<string, T>();
  readonly #handlers: ReflectorHandlers<T>[] = [];
  #synced = false;
  #syncWaiters: (() => void)[] = [];
  #lastEventAt = 0;
  #problem: string | undefined;

  constructor(options: ReflectorOptions<TRaw, T>) {
    this.#opts = options;
    const [initialMs, maxMs] = options.backoffMs ?? [500, 30_000];
    this.#backoff = { initialMs, maxMs };
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
    const failures = { count: 0 };
    while (!signal.aborted) {
      const resourceVersion = await this.#tryRelist(signal, failures);
      if (resourceVersion !== undefined) await this.#watchUntilRelist(resourceVersion, signal, failures);
    }
  }

  /** The listed resourceVersion, or `undefined` after a failed list (and its backoff). */
  async #tryRelist(signal: AbortSignal, failures: { count: number }): Promise<string | undefined> {
    try {
      const resourceVersion = await this.#relist();
      // A refused watch keeps its backoff across relists; anything else starts afresh.
      if (!this.#problem) failures.count = 0;
      return resourceVersion;
    } catch (err) {
      const c = classifyApiError(err);
      this.#setProblem(this.#describe("list", c.message, c.status));
      await this.#backOff(signal, failures, c, "list failed");
      return undefined;
    }
  }

  /** Watches from `resourceVersion` until the server says it is too old, the watchdog fires or a relist helps. */
  async #watchUntilRelist(resourceVersion: string, signal: AbortSignal, failures: { count: number }): Promise<void> {
    let from = resourceVersion;
    while (!signal.aborted) {
      const started = Date.now();
      const outcome = await this.#watch(from, signal, (rv) => (from = rv));
      if (signal.aborted) return;
      this.#opts.observer?.onWatchRestart?.(this.#opts.name, outcome.reason);
      if (!(await this.#watchAgain(outcome, Date.now() - started, signal, failures))) return;
    }
  }

  /** Handles how a watch ended: true to watch again from the last version seen, false to relist. */
  async #watchAgain(
    outcome: WatchOutcome,
    ranMs: number,
    signal: AbortSignal,
    failures: { count: number },
  ): Promise<boolean> {
    // The server's own timeout: a healthy watch, resumed at once.
    if (outcome.reason === "closed" && ranMs > 1000) {
      failures.count = 0;
      this.#setProblem(undefined);
      return true;
    }
    if (outcome.reason === "gone" || outcome.reason === "watchdog") {
      this.#opts.logger.info({ reflector: this.#opts.name, reason: outcome.reason }, "relisting");
      return false;
    }
    const c = outcome.error === undefined ? undefined : classifyApiError(outcome.error);
    if (c?.kind === "gone") return false;
    // Retrying the same request cannot help (e.g. 403: no "watch" verb). Relist after the backoff,
    // so the cache does not freeze, and say what is missing until a watch works again.
    if (c?.kind === "terminal") this.#setProblem(this.#describe("watch", c.message, c.status));
    await this.#backOff(signal, failures, c, "watch failed");
    return c?.kind !== "terminal";
  }

  /** Waits before the next attempt: the backoff for this many failures, or longer if the server asked. */
  async #backOff(
    signal: AbortSignal,
    failures: { count: number },
    c: ClassifiedError | undefined,
    what: string,
  ): Promise<void> {
    failures.count++;
    const wait = Math.max(c?.retryAfterMs ?? 0, backoffDelay(this.#backoff, failures.count));
    this.#opts.logger.warn(
      { reflector: this.#opts.name, error: c?.message ?? "watch closed early", retryInMs: wait },
      what,
    );
    await sleep(wait, signal);
  }

  async #relist(): Promise<string> {
    this.#opts.observer?.onRelist?.(this.#opts.name);
    const { objects, resourceVersion } = await this.#listAll();
    this.#replaceStore(objects);
    this.#lastEventAt = Date.now();
    if (this.#problem?.startsWith("list ")) this.#setProblem(undefined);
    if (!this.#synced) {
      this.#synced = true;
      for (const waiter of this.#syncWaiters.splice(0)) waiter();
    }
    this.#emit((h) => h.synced?.());
    return resourceVersion;
  }

  /** Every page of the list, by key, and the resourceVersion to watch from. */
  async #listAll(): Promise<{ objects: Map<string, T>; resourceVersion: string }> {
    const o = this.#opts;
    const objects = new Map<string, T>();
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
        objects.set(o.key(obj), obj);
      }
      cont = page.metadata?._continue || undefined;
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    } while (cont);
    return { objects, resourceVersion };
  }

  /** Makes the store match a full list; deletions missed while disconnected fire here. */
  #replaceStore(listed: Map<string, T>): void {
    for (const [key, old] of this.#store) {
      if (listed.has(key)) continue;
      this.#store.delete(key);
      this.#emit((h) => h.delete?.(old));
    }
    for (const [key, obj] of listed) {
      const old = this.#store.get(key);
      this.#store.set(key, obj);
      if (old === undefined) this.#emit((h) => h.add?.(obj));
      else if (this.#rv(old) !== this.#rv(obj)) this.#emit((h) => h.update?.(old, obj));
    }
  }

  #rv(obj: T): string | undefined {
    return (obj as { resourceVersion?: string }).resourceVersion;
  }

  #watch(resourceVersion: string, signal: AbortSignal, onResourceVersion: (rv: string) => void): Promise<WatchOutcome> {
    const o = this.#opts;
    const watch = new Watch(o.kubeConfig);
    // client-node 2.0 aborts a watch after `requestTimeoutMs` without bytes (default 30 s, which
    // would cut healthy idle watches); raised to our watchdog window. The field is TS-private in
    // 2.0.1, hence the cast; the e2e watchdog test guards this.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = o.inactivityTimeoutMs ?? 330_000;
    return new Promise<WatchOutcome>((resolve) => {
      let outcome: WatchOutcome | undefined;
      let controller: AbortController | undefined;
      // Stopping never waits for a server that has not answered yet.
      const onAbort = (): void => finish({ reason: "closed" });
      const finish = (result: WatchOutcome): void => {
        if (outcome) return;
        outcome = result;
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        resolve(result);
      };
      if (signal.aborted) return finish({ reason: "closed" });
      signal.addEventListener("abort", onAbort, { once: true });
      watch
        .watch(
          o.watchPath,
          this.#watchQuery(resourceVersion),
          (type: string, raw: TRaw & { code?: number }) => this.#onWatchEvent(type, raw, finish, onResourceVersion),
          (err: unknown) => finish(watchEnded(err)),
        )
        .then(
          (c) => {
            controller = c;
            if (outcome) c.abort();
            // Connected: a watch refused before (say for RBAC) works again, events or not.
            else this.#setProblem(undefined);
          },
          (err: unknown) => finish({ reason: "error", error: err }),
        );
    });
  }

  #watchQuery(resourceVersion: string): Record<string, string | number | boolean> {
    const o = this.#opts;
    const [minT, maxT] = o.watchTimeoutSeconds ?? [240, 300];
    const query: Record<string, string | number | boolean> = {
      resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(minT + Math.random() * (maxT - minT)),
    };
    if (o.labelSelector) query.labelSelector = o.labelSelector;
    if (o.fieldSelector) query.fieldSelector = o.fieldSelector;
    return query;
  }

  #onWatchEvent(
    type: string,
    raw: TRaw & { code?: number },
    finish: (o: WatchOutcome) => void,
    onResourceVersion: (rv: string) => void,
  ): void {
    this.#lastEventAt = Date.now();
    if (type === "ERROR") {
      const error = Object.assign(new Error("watch error event"), { statusCode: raw.code });
      finish(raw.code === 410 ? { reason: "gone" } : { reason: "error", error });
      return;
    }
    this.#setProblem(undefined);
    const rv = raw.metadata?.resourceVersion;
    if (rv) onResourceVersion(rv);
    if (type !== "BOOKMARK") this.#apply(type, raw);
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
        this.#opts.logger.error({ reflector: this.#opts.name, error: describeError(err) }, "event handler threw");
      }
    }
  }
}
