import type { Logger } from "../logging/logger.js";
import type { CachedSecret, CachedServiceAccount } from "../kube/views.js";
import { MAX_RETIRED, retiredId, type Retired } from "./keys.js";
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MAPPING_LABEL, addedRecords } from "./ownership.js";

/**
 * Removed mappings and former copy names an instance still has to clean up, by retired id. Capped,
 * because anyone who can label a Secret named like a copy can name a mapping: past the cap, new ones
 * are refused with one warning.
 */
export class RetiredMappings implements Iterable<[string, Retired]> {
  readonly #entries = new Map<string, Retired>();
  readonly #log: Logger;
  readonly #cap: number;
  #warned = false;

  constructor(log: Logger, cap = MAX_RETIRED) {
    this.#log = log;
    this.#cap = cap;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): Retired | undefined {
    return this.#entries.get(id);
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  keys(): IterableIterator<string> {
    return this.#entries.keys();
  }

  values(): IterableIterator<Retired> {
    return this.#entries.values();
  }

  [Symbol.iterator](): IterableIterator<[string, Retired]> {
    return this.#entries.entries();
  }

  /** Tracks (mapping, copy name); false when already tracked or at the cap. */
  add(name: string, secretName: string): boolean {
    const id = retiredId(name, secretName);
    if (this.#entries.has(id)) return false;
    if (this.#entries.size >= this.#cap) {
      if (!this.#warned)
        this.#log.warn(
          { limit: this.#cap, mapping: name, secretName },
          "too many removed mappings to track; not cleaning up this one",
        );
      this.#warned = true;
      return false;
    }
    this.#entries.set(id, { name, secretName });
    return true;
  }
}

/** The (mapping, copy name) pairs this instance's records on ServiceAccounts name. */
export function recordedByInstance(instance: string, serviceAccounts: Iterable<CachedServiceAccount>): Retired[] {
  const out: Retired[] = [];
  for (const sa of serviceAccounts) {
    for (const r of addedRecords(sa))
      if (r.instance === instance && r.mapping) out.push({ name: r.mapping, secretName: r.secretName });
  }
  return out;
}

/**
 * Whether a retired mapping left anything of this instance behind: a copy labelled with it, or a
 * record of its entry on a ServiceAccount. A record without owner (older versions) counts only in
 * a namespace where its copy still is.
 */
export function leftBehind(
  r: Retired,
  instance: string,
  copies: { list(): Iterable<CachedSecret>; get(key: string): CachedSecret | undefined },
  serviceAccountsByNamespace: Iterable<[string, Iterable<CachedServiceAccount>]>,
): boolean {
  const theirs = (s: CachedSecret | undefined): boolean =>
    s?.labels[MAPPING_LABEL] === r.name && (s.labels[INSTANCE_LABEL] ?? "") === instance;
  for (const s of copies.list()) if (theirs(s) && s.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) return true;
  for (const [namespace, accounts] of serviceAccountsByNamespace) {
    for (const sa of accounts) {
      const rec = addedRecords(sa).find((x) => x.secretName === r.secretName);
      if (!rec) continue;
      if (
        rec.instance === undefined
          ? theirs(copies.get(`${namespace}/${r.secretName}`))
          : rec.instance === instance && rec.mapping === r.name
      )
        return true;
    }
  }
  return false;
}
