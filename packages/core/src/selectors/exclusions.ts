import { PluginConfigError, type NamespaceView } from "../plugins/contracts.js";
import { type Glob, compileGlob, namespacePatternProblem } from "./glob.js";
import { describeValue, isPlainObject, readStringList, refuseUnknownKeys } from "./validation.js";

/**
 * Namespace annotation of titansoft/imagepullsecret-patcher that opts a namespace out. Honoured so
 * that users migrating from it keep their exclusions without rewriting them.
 */
export const EXCLUDE_ANNOTATION = "k8s.titansoft.com/imagepullsecret-patcher-exclude";

/**
 * Whether the namespace carries {@link EXCLUDE_ANNOTATION} set to exactly `"true"`. Exact match on
 * purpose: titansoft compares with `== "true"`, so `"True"` or `"yes"` did not exclude there either,
 * and migrating must not change which namespaces get patched.
 */
export function hasExcludeAnnotation(namespace: Pick<NamespaceView, "annotations">): boolean {
  const annotations = namespace.annotations;
  return Object.hasOwn(annotations, EXCLUDE_ANNOTATION) && annotations[EXCLUDE_ANNOTATION] === "true";
}

/**
 * Reads an `exclude` list from plugin config: namespace names or globs (`openshift-*`). Errors point
 * at the entry (`exclude[2]`); duplicates are refused as a likely copy-paste mistake. Absent or
 * `null` means no exclusion.
 */
export function readExcludeList(value: unknown, path = "exclude"): string[] {
  if (value === undefined || value === null) return [];
  return readStringList(value, path, { check: namespacePatternProblem, refuseDuplicates: true });
}

/** Exclusion rules of a namespace selector: `exclude` names/globs plus the opt-out annotation. */
export class NamespaceExclusions {
  readonly patterns: readonly string[];
  readonly #globs: readonly Glob[];

  constructor(patterns: readonly string[]) {
    this.patterns = Object.freeze([...patterns]);
    this.#globs = this.patterns.map(compileGlob);
  }

  /** Whether the namespace is excluded by name/glob or by {@link EXCLUDE_ANNOTATION}. */
  excludes(namespace: Pick<NamespaceView, "name" | "annotations">): boolean {
    return hasExcludeAnnotation(namespace) || this.#globs.some((glob) => glob.matches(namespace.name));
  }

  /** ` except a, b-*` for descriptions, or `""` when there is no pattern. */
  describeSuffix(): string {
    return this.patterns.length ? ` except ${this.patterns.join(", ")}` : "";
  }
}

/**
 * The config of a selector whose only setting is `exclude` (`all`, `annotation`): `{ exclude }`, or `{}`, `true`,
 * `null` or nothing for no exclusion.
 */
export function readExcludeOnlyConfig(config: unknown): { exclude: string[] } {
  if (config === undefined || config === null || config === true) return { exclude: [] };
  if (!isPlainObject(config)) {
    throw new PluginConfigError(
      "",
      `expected an object like { exclude: [kube-system] } or nothing, got ${describeValue(config)}`,
    );
  }
  refuseUnknownKeys(config, ["exclude"], "");
  return { exclude: readExcludeList(config["exclude"]) };
}
