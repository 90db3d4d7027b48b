import type { Logger } from "../logging/logger.js";
import type { ClusterCache } from "./cache.js";
import { retiredId } from "./keys.js";
import type { MappingTable } from "./mapping-table.js";
import { leftBehind, recordedByInstance } from "./retired.js";
import type { KeyStatuses } from "./status.js";

/** Retired entries are pruned this soon after their cleanup settles, not only on resync. */
const PRUNE_DELAY_MS = 1000;

/**
 * Keeps track of retired entries (removed mappings, former copy names): finds them in what this
 * instance left behind, and forgets them, their statuses and their copy watches once nothing of
 * them is left.
 */
export class RetiredCleanup {
  readonly #table: MappingTable;
  readonly #cache: ClusterCache;
  readonly #statuses: KeyStatuses;
  readonly #log: Logger;
  /** Whether the engine runs and its caches have synced: only then is "nothing left" known. */
  readonly #ready: () => boolean;
  /** Whether the cache shows every write this instance made: until then "nothing left" is not known. */
  readonly #writesSeen: () => boolean;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    table: MappingTable,
    cache: ClusterCache,
    statuses: KeyStatuses,
    log: Logger,
    ready: () => boolean,
    writesSeen: () => boolean,
  ) {
    this.#table = table;
    this.#cache = cache;
    this.#statuses = statuses;
    this.#log = log;
    this.#ready = ready;
    this.#writesSeen = writesSeen;
  }

  /**
   * After a restart, mappings removed or renamed while the patcher was down are only known from
   * what they left: this instance's records on ServiceAccounts name the mapping and the copy.
   */
  retireFromRecords(): void {
    const recorded = recordedByInstance(this.#table.instance, this.#cache.allServiceAccounts());
    const fresh = recorded.filter((r) => this.#table.retire(r.name, r.secretName));
    if (fresh.length)
      this.#log.info(
        { retired: fresh.map((r) => retiredId(r.name, r.secretName)) },
        "found entries of mappings no longer configured; cleaning up",
      );
  }

  /** Drops retired entries that left nothing behind: no copy of theirs, no record on any ServiceAccount. */
  prune(): void {
    if (!this.#ready() || this.#table.retired.size === 0) return;
    // A copy just written may not be in the cache yet; forgetting its mapping now would also stop
    // the watch that is about to show it, and leave the copy behind.
    if (!this.#writesSeen()) {
      this.schedule();
      return;
    }
    let unknown = false;
    for (const [id, r] of [...this.#table.retired]) {
      const copies = this.#cache.copies(r.secretName);
      if (!copies?.hasSynced) {
        // Its copies' watch has not synced yet (a busy API server): nothing can be said, so look again.
        if (!copies) this.#cache.watchCopies(r.secretName);
        unknown = true;
        continue;
      }
      if (leftBehind(r, this.#table.instance, copies, this.#cache.serviceAccountsByNamespace())) continue;
      this.#table.retired.delete(id);
      this.#statuses.forgetId(id);
    }
    this.#cache.stopCopyWatchesExcept(this.#table.namesInUse());
    if (unknown) this.schedule();
  }

  /** Prunes soon, once; for cleanup work that just settled. */
  schedule(): void {
    if (this.#timer || this.#table.retired.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.prune();
    }, PRUNE_DELAY_MS);
    this.#timer.unref();
  }
}
