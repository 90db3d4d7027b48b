import type { SourceProvider } from "../plugins/contracts.js";
import type { CachedSecret } from "../kube/views.js";
import type { ClusterCache } from "./cache.js";
import { keyOf, retiredId } from "./keys.js";
import type { MappingTable } from "./mapping-table.js";
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MAPPING_LABEL } from "./ownership.js";

/**
 * Maps what changed to the keys it affects, and adds them to the queue: a namespace to its keys, a
 * copy to the keys of its name in its namespace, a source to its mappings' keys everywhere.
 */
export class KeyEnqueuer {
  readonly #table: MappingTable;
  readonly #cache: ClusterCache;
  readonly #add: (key: string) => void;

  constructor(table: MappingTable, cache: ClusterCache, add: (key: string) => void) {
    this.#table = table;
    this.#cache = cache;
    this.#add = add;
  }

  namespace(namespace: string): void {
    for (const key of this.#table.keysOf(namespace)) this.#add(key);
  }

  /** A copy (or a same-name Secret) changed. */
  copy(secret: CachedSecret, deleted: boolean): void {
    for (const id of this.#table.idsWriting(secret.name)) this.#add(keyOf(id, secret.namespace));
    // One of this instance's copies from a mapping (or name) not configured now, e.g. removed
    // while the patcher was down. Another instance's copies are never ours to retire.
    const mapping = secret.labels[MAPPING_LABEL];
    const ours =
      secret.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE &&
      (secret.labels[INSTANCE_LABEL] ?? "") === this.#table.instance;
    if (!deleted && mapping && ours && this.#table.retire(mapping, secret.name))
      this.#add(keyOf(retiredId(mapping, secret.name), secret.namespace));
  }

  /** Every key about copies of this name, once namespaces are known. */
  name(secretName: string): void {
    if (this.#cache.baseSynced) this.#ids(this.#table.idsWriting(secretName));
  }

  /** Every key of the mappings reading this source, once namespaces are known. */
  source(source: SourceProvider): void {
    if (this.#cache.baseSynced) this.#ids(this.#table.idsReading(source));
  }

  /** Every key there is; none before namespaces are known. */
  all(): void {
    if (!this.#cache.baseSynced) return;
    for (const key of this.keys()) this.#add(key);
  }

  *keys(): Generator<string> {
    for (const ns of this.#cache.namespaces.list()) yield* this.#table.keysOf(ns.name);
  }

  #ids(ids: readonly string[]): void {
    for (const ns of this.#cache.namespaces.list()) for (const id of ids) this.#add(keyOf(id, ns.name));
  }
}
