import type { LoadedConfig } from "../config/load.js";

/**
 * What a config change needs, decided before anything is applied:
 * - `unchanged`: nothing to do;
 * - `refused`: a setting that cannot change in a running process (`field` names it);
 * - `apply`: `restartEngine` lists the engine settings that changed (the engine is rebuilt
 *   in-process from the new config); `mappings` says whether the mappings changed; `logLevel` is
 *   the new log level when only that changed among the log settings.
 */
export type ReloadPlan =
  | { kind: "unchanged" }
  | { kind: "refused"; field: string; message: string }
  | { kind: "apply"; restartEngine: string[]; mappings: boolean; logLevel: string | undefined };

/** Sections bound when the process starts: the HTTP listener, the leader election, the webhook, the diagnostics. */
const RESTART_ONLY = ["server", "leaderElection", "webhook", "diagnostics"] as const;

/** Dotted paths of the keys whose values differ between two plain objects (one level deep). */
export function changedFields(section: string, previous: object, next: object): string[] {
  const a = previous as Record<string, unknown>;
  const b = next as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${section}.${k}`);
}

/** What differs in the mappings as the engine sees them (after the seed form and defaults are expanded). */
function mappingsKey(loaded: LoadedConfig): string {
  return JSON.stringify({ mappings: loaded.mappings, secretName: loaded.config.secretName });
}

/** Decides how to apply `next` on a process running `previous`. Pure. */
export function classifyReload(previous: LoadedConfig, next: LoadedConfig): ReloadPlan {
  const a = previous.config;
  const b = next.config;
  for (const section of RESTART_ONLY) {
    const field = changedFields(section, a[section], b[section])[0];
    if (field) {
      return {
        kind: "refused",
        field,
        message: `${field} cannot change while the patcher runs; restart it to apply this config (the previous config keeps running)`,
      };
    }
  }
  const restartEngine = changedFields("controller", a.controller, b.controller);
  if (JSON.stringify(a.plugins) !== JSON.stringify(b.plugins)) restartEngine.push("plugins");
  const mappings = mappingsKey(previous) !== mappingsKey(next);
  const logLevel = a.log.level !== b.log.level ? b.log.level : undefined;
  if (restartEngine.length === 0 && !mappings && logLevel === undefined) return { kind: "unchanged" };
  return { kind: "apply", restartEngine, mappings, logLevel };
}

/** JSON with the keys of every map sorted: `{ name, namespace }` and `{ namespace, name }` are one source config. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The source config of each mapping, by the name it was built with, to tell which mappings kept their
 * source unchanged. `built[i]` must be the mapping built from `loaded.mappings[i]` (buildMappings keeps
 * the order): an unnamed mapping is known by its derived name, which stays the same when its source's
 * settings change (`vault`, `vault-2`), so the written `name` alone cannot tell. Empty when the two do
 * not line up: then no running source is kept.
 */
export function sourceConfigs(loaded: LoadedConfig, built: readonly { readonly name: string }[]): Map<string, string> {
  const out = new Map<string, string>();
  if (built.length !== loaded.mappings.length) return out;
  loaded.mappings.forEach((raw, i) => {
    const m = raw as { source?: unknown; sources?: unknown };
    const name = built[i]?.name;
    // `sources:` (merged) counts too: editing one of its entries must replace the running source.
    if (name !== undefined) out.set(name, canonicalJson([m.source, m.sources]));
  });
  return out;
}
