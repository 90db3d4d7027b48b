/** Callbacks of a cache of one resource. Handlers must not throw; one that does is logged and skipped. */
export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(oldObj: T, newObj: T): void;
  delete?(obj: T): void;
  /** After each full list, once the store matches it. */
  synced?(): void;
}

/**
 * A list-then-watch cache of one resource, as the engine reads it. The {@link Reflector} is the
 * real one; tests hand the engine in-memory ones.
 */
export interface Informer<T> {
  /** For logs and metrics, e.g. `namespaces`. */
  readonly name: string;
  /** True once the first full list is in the store. */
  readonly hasSynced: boolean;
  /** Milliseconds since the watch last delivered anything; 0 before the first list. */
  readonly msSinceLastEvent: number;
  /** Why the cache may be stale, while listing or watching keeps failing; `undefined` when healthy. */
  readonly problem: string | undefined;
  readonly size: number;
  on(handlers: InformerHandlers<T>): void;
  get(key: string): T | undefined;
  list(): IterableIterator<T>;
  /** Resolves once synced, or when `signal` aborts. */
  waitForSync(signal: AbortSignal): Promise<void>;
  /** Lists and watches until `signal` aborts. Never throws. */
  run(signal: AbortSignal): Promise<void>;
}
