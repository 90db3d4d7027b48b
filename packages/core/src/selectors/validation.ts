import { PluginConfigError } from "../plugins/contracts.js";

// Small helpers shared by the selector and strategy plugins to check untyped config (parsed YAML or
// JSON) and to build the `path` of a PluginConfigError. Kept free of I/O like the plugins themselves.

/** True for `{...}` literals and `Object.create(null)` objects; false for arrays, class instances, null. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Describes a value for an error message, e.g. `the number 3`, `a list`, `nothing`. Never dumps objects. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      return `the string ${JSON.stringify(value)}`;
    case "number":
    case "bigint":
      return `the number ${String(value)}`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Appends an object key to a config path: `parent.key`, or `parent["odd/key"]` when the key is not a
 * plain identifier (label keys carry `/` and `.`, which would make a dotted path ambiguous).
 */
export function childPath(parent: string, key: string): string {
  if (IDENTIFIER.test(key)) return parent ? `${parent}.${key}` : key;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Appends a list index to a config path: `parent[3]`. */
export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** Joins a prefix path and a path relative to it (either may be empty). */
export function joinPath(prefix: string, path: string): string {
  if (!prefix) return path;
  if (!path) return prefix;
  return path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path}`;
}

/** Throws for the first key of `object` not in `allowed`, naming it and the allowed ones. */
export function refuseUnknownKeys(object: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      const hint = allowed.length ? `allowed: ${allowed.join(", ")}` : "this plugin takes no configuration";
      throw new PluginConfigError(path, `unknown key ${JSON.stringify(key)} (${hint})`);
    }
  }
}

/**
 * Explains why `value` is not a string. YAML turns unquoted `1`, `true` or `null` into non-strings, so
 * the message says to quote them: it is the usual cause.
 */
export function notAStringProblem(value: unknown): string {
  const quoteHint =
    typeof value === "number" || typeof value === "boolean" || value === null ? " (quote it in YAML)" : "";
  return `must be a string, got ${describeValue(value)}${quoteHint}`;
}

/** Options for {@link readStringList}. */
export interface StringListOptions {
  /** Refuse an empty list with this problem text. */
  readonly emptyProblem?: string;
  /** Returns why one entry is invalid, or undefined when it is fine. */
  readonly check?: (entry: string) => string | undefined;
  /** Refuse repeated entries (they point at a copy-paste mistake, not at intent). */
  readonly refuseDuplicates?: boolean;
}

/** Reads a list of strings at `path`, checking each entry; errors point at `path[i]`. */
export function readStringList(value: unknown, path: string, options: StringListOptions = {}): string[] {
  if (!Array.isArray(value)) {
    throw new PluginConfigError(path, `must be a list of strings, got ${describeValue(value)}`);
  }
  if (value.length === 0 && options.emptyProblem) throw new PluginConfigError(path, options.emptyProblem);
  const seen = new Map<string, number>();
  const result: string[] = [];
  value.forEach((entry: unknown, index) => {
    const entryPath = indexPath(path, index);
    if (typeof entry !== "string") throw new PluginConfigError(entryPath, notAStringProblem(entry));
    const problem = options.check?.(entry);
    if (problem) throw new PluginConfigError(entryPath, problem);
    const first = seen.get(entry);
    if (options.refuseDuplicates && first !== undefined) {
      throw new PluginConfigError(entryPath, `duplicate of ${indexPath(path, first)} (${JSON.stringify(entry)})`);
    }
    if (first === undefined) seen.set(entry, index);
    result.push(entry);
  });
  return result;
}

/**
 * Validates the config of a plugin that takes none. `undefined`, `null`, `true` and `{}` all mean
 * "no options" so users can write `default: {}`, `default: true` or just `default:` in YAML.
 */
export function validateNoConfig(config: unknown): Record<string, never> {
  if (config === undefined || config === null || config === true) return {};
  if (isPlainObject(config)) {
    refuseUnknownKeys(config, [], "");
    return {};
  }
  throw new PluginConfigError("", `takes no configuration (use {} or leave it empty), got ${describeValue(config)}`);
}
