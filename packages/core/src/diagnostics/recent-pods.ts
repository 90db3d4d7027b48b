/**
 * The Pods handled lately, by uid, with what was decided: a bounded LRU, so a Pod whose kubelet
 * keeps reporting the same failure (every back-off retry) is looked at once per `quietMs`, and
 * memory stays flat however many Pods fail. The oldest entry goes when `capacity` is reached.
 */
export class RecentPods<V> {
  readonly #entries = new Map<string, { value: V; at: number }>();

  constructor(
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(capacity >= 1)) throw new Error(`invalid capacity ${capacity}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value recorded for `uid`, and how long ago (ms). Refreshes its place as most recent. */
  get(uid: string): { value: V; ageMs: number } | undefined {
    const entry = this.#entries.get(uid);
    if (!entry) return undefined;
    this.#entries.delete(uid);
    this.#entries.set(uid, entry);
    return { value: entry.value, ageMs: this.now() - entry.at };
  }

  set(uid: string, value: V): void {
    this.#entries.delete(uid);
    this.#entries.set(uid, { value, at: this.now() });
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }
}
