// Expectations: after a write, the cache lags until its watch delivers the change. Planning a key
// from the stale cache would repeat the write, so the key waits until the cache caught up. Kubernetes
// resourceVersions are opaque: they are only ever compared for equality here, never ordered.

/** How long an expectation may stay unmet before it is dropped (a watch that lost our event). */
export const EXPECTATION_TTL_MS = 30_000;

/** Cache key of a Secret copy, as expectations and writes name it. */
export function secretCacheKey(namespace: string, name: string): string {
  return `secret/${namespace}/${name}`;
}

/** Cache key of a ServiceAccount, as expectations and writes name it. */
export function serviceAccountCacheKey(namespace: string, name: string): string {
  return `sa/${namespace}/${name}`;
}

/** One write the cache has not shown yet. "" stands for "absent" in both versions. */
interface Expectation {
  /** The version the write was planned from: the cache showing it has not caught up. */
  readonly before: string;
  /** The version the write returned ("" for a delete). */
  readonly after: string;
  readonly at: number;
}

/**
 * Whether the cache, showing `observed`, has caught up with the write. It has when it shows the
 * version the write returned, or any other change from the version the write was planned from:
 * someone wrote after us, or a relist skipped our version. One exception: a present object planned
 * from a present one, now shown absent, is the middle of a delete-and-create, not its end.
 */
function met(e: Expectation, observed: string): boolean {
  if (observed === e.after) return true;
  if (observed === e.before) return false;
  const midRecreate = observed === "" && e.after !== "" && e.before !== "";
  return !midRecreate;
}

/** Writes waiting to show up in the cache, by cache key; bounded by the TTL. */
export class Expectations {
  readonly #byKey = new Map<string, Expectation>();
  readonly #now: () => number;
  readonly #ttlMs: number;

  constructor(now: () => number = Date.now, ttlMs = EXPECTATION_TTL_MS) {
    this.#now = now;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** Records a write of `cacheKey` planned from `before` that returned `after`; the cache shows `observed` now. */
  expect(cacheKey: string, before: string, after: string, observed: string): void {
    this.#byKey.set(cacheKey, { before, after, at: this.#now() });
    // The watch may have delivered the write already, before the expectation existed.
    this.observe(cacheKey, observed);
  }

  /** The cache now shows `observed` for `cacheKey`; drops the expectation if that meets it. */
  observe(cacheKey: string, observed: string): void {
    const e = this.#byKey.get(cacheKey);
    if (e && met(e, observed)) this.#byKey.delete(cacheKey);
  }

  /** Whether a write of `cacheKey` is still to show up, the cache showing `observed`. */
  pending(cacheKey: string, observed: string): boolean {
    const e = this.#byKey.get(cacheKey);
    if (!e) return false;
    // A watch that lost our event must not block the key forever; the relist fixes the cache.
    if (met(e, observed) || this.#expired(e)) {
      this.#byKey.delete(cacheKey);
      return false;
    }
    return true;
  }

  /** Whether every write is seen in the cache (or given up on after the TTL). */
  settled(): boolean {
    this.prune();
    return this.#byKey.size === 0;
  }

  /** Drops expectations past their TTL. */
  prune(): void {
    for (const [key, e] of this.#byKey) if (this.#expired(e)) this.#byKey.delete(key);
  }

  #expired(e: Expectation): boolean {
    return this.#now() - e.at > this.#ttlMs;
  }
}
