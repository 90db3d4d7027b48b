import type { CachedNamespace } from "../kube/views.js";
import { selects } from "../selectors/opt-out.js";
import type { KeyStatus, Mapping, MappingStatus } from "./engine-types.js";
import { keyOf, splitKey } from "./keys.js";

/** At most this many distinct reasons for skipped namespaces are listed per mapping. */
const MAX_SKIPPED_REASONS = 10;

/**
 * The last outcome of each (mapping, namespace) key. Kept only for namespaces that exist and ids
 * still tracked, so the map stays bounded by the cluster.
 */
export class KeyStatuses {
  readonly #byKey = new Map<string, KeyStatus>();

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): KeyStatus | undefined {
    return this.#byKey.get(key);
  }

  set(key: string, status: KeyStatus): void {
    this.#byKey.set(key, status);
  }

  delete(key: string): void {
    this.#byKey.delete(key);
  }

  values(): KeyStatus[] {
    return [...this.#byKey.values()];
  }

  /** Keys left failing, in conflict or waiting: what a one-off pass reports. */
  unsettled(): KeyStatus[] {
    return this.values().filter((s) => s.outcome === "error" || s.outcome === "conflict" || s.outcome === "waiting");
  }

  /** Forgets every key of a namespace that is gone. */
  forgetNamespace(namespace: string): void {
    for (const key of [...this.#byKey.keys()]) if (splitKey(key)[1] === namespace) this.#byKey.delete(key);
  }

  /** Forgets every key of one id (a removed mapping that is cleaned up). */
  forgetId(id: string): void {
    for (const key of [...this.#byKey.keys()]) if (splitKey(key)[0] === id) this.#byKey.delete(key);
  }

  /** Forgets every key of ids not in `ids` (mappings removed and cleaned up). */
  keepOnly(ids: ReadonlySet<string>): void {
    for (const key of [...this.#byKey.keys()]) if (!ids.has(splitKey(key)[0])) this.#byKey.delete(key);
  }
}

/** What the engine knows of a mapping's source besides the source's own status. */
export interface SourceHealth {
  /** Set when the source's `start` threw. */
  readonly failure?: string | undefined;
  /** Why the newest credential is held back by verification. */
  readonly verificationError?: string | undefined;
}

/** Per-mapping counts over the namespaces the mapping selects, from the last outcome of each key. */
export function mappingStatus(
  m: Mapping,
  namespaces: Iterable<CachedNamespace>,
  statuses: KeyStatuses,
  health: SourceHealth,
): MappingStatus {
  const sourceStatus = m.source.status();
  const s: MappingStatus = {
    name: m.name,
    source: m.source.description,
    sourceState: health.failure ? "failed" : sourceStatus.state,
    sourceError: health.failure ?? sourceStatus.error,
    verificationError: health.verificationError,
    inScope: 0,
    inSync: 0,
    conflicting: 0,
    failing: 0,
    waiting: 0,
    skipped: 0,
    skippedReasons: [],
  };
  for (const ns of namespaces) {
    if (ns.phase !== "Active" || !selects(m.selector, ns)) continue;
    s.inScope++;
    const st = statuses.get(keyOf(m.name, ns.name));
    if (st) count(s, st);
  }
  return s;
}

function count(s: MappingStatus, st: KeyStatus): void {
  switch (st.outcome) {
    case "in-sync":
      s.inSync++;
      return;
    case "conflict":
      s.conflicting++;
      return;
    case "error":
      s.failing++;
      return;
    case "waiting":
      s.waiting++;
      return;
    case "skipped":
      s.skipped++;
      if (s.skippedReasons.length < MAX_SKIPPED_REASONS && !s.skippedReasons.includes(st.reason))
        s.skippedReasons.push(st.reason);
      return;
    default:
      return;
  }
}
