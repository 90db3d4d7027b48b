import { ConfigError, didYouMean } from "./errors.js";

/** What a mapping name must look like: a lowercase DNS label. */
export const MAPPING_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const MAPPING_NAME_MAX_LENGTH = 63;

/** Copy name of mappings whose source does not name one (every source but `secret`). */
export const DEFAULT_SECRET_NAME = "image-pull-secret";

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `source: { name, namespace }`, written without a type key, is short for a `secret` source. It is
 * recognised when the map has `name` or `namespace` and none of its keys is a registered source
 * type.
 */
export function isSecretShorthand(
  source: unknown,
  isSourceType: (type: string) => boolean,
): source is Record<string, unknown> {
  if (!isPlainObject(source)) return false;
  const keys = Object.keys(source);
  return (keys.includes("name") || keys.includes("namespace")) && !keys.some(isSourceType);
}

/**
 * `targets: [{ namespace: team-a }, { namespace: team-b }]`: the namespaces of a `list` selector.
 * Entries that are not `{ namespace: … }` are reported at `targets[i]`; the names themselves are
 * left to the `list` selector to check.
 */
export function namespacesOfTargetList(
  entries: readonly unknown[],
  path: string,
): { namespaces: unknown[]; problems: ConfigError[] } {
  const namespaces: unknown[] = [];
  const problems: ConfigError[] = [];
  entries.forEach((entry, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(entry)) {
      problems.push(new ConfigError(at, "expected a map like { namespace: team-a }"));
      return;
    }
    for (const key of Object.keys(entry)) {
      if (key !== "namespace")
        problems.push(
          new ConfigError(`${at}.${key}`, `unknown field (valid: namespace)${didYouMean(key, ["namespace"])}`),
        );
    }
    if (entry.namespace === undefined || entry.namespace === null)
      problems.push(new ConfigError(`${at}.namespace`, "is required"));
    else namespaces.push(entry.namespace);
  });
  return { namespaces, problems };
}

/** A path or message of the `list` selector (`namespaces[2]`) as the user wrote it (`[2].namespace`). */
export function targetListPath(text: string, prefix: string): string {
  return text.replace(/namespaces\[(\d+)\]/g, `${prefix}[$1].namespace`);
}

/**
 * Turns any text into a mapping name: lowercase, runs of other characters as one `-`, no `-` at
 * either end, at most `max` characters. Empty when nothing usable is left.
 */
export function sanitiseMappingName(text: string, max = MAPPING_NAME_MAX_LENGTH): string {
  const dashed = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+/, "");
  return dashed.slice(0, max).replace(/-+$/, "");
}

/** `base`, else `base-2`, `base-3`, …: the first one not in `used`, kept within the length limit. */
export function uniqueMappingName(base: string, used: ReadonlySet<string>): string {
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${sanitiseMappingName(base, MAPPING_NAME_MAX_LENGTH - suffix.length) || "mapping"}${suffix}`;
    if (!used.has(candidate)) return candidate;
  }
}
