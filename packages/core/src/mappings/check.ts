// Checks a mapping's config field by field, recording every problem with its path; nothing is
// created here (see build.ts).
import type { ConflictPolicy } from "../engine/plan.js";
import { PluginConfigError, type SelectorFactory, type StrategyFactory } from "../plugins/contracts.js";
import { MAPPING_ANNOTATION } from "../selectors/annotation.js";
import { strategyFromShorthand } from "../strategies/index.js";
import type { BuildOptions, Registries } from "./build.js";
import { attempt, singleKey } from "./attempt.js";
import { type CheckedSources, checkSources, nameBaseOf, sourceSecretName } from "./check-sources.js";
import { ConfigError, didYouMean } from "./errors.js";
import {
  DEFAULT_SECRET_NAME,
  MAPPING_NAME,
  MAPPING_NAME_MAX_LENGTH,
  isPlainObject,
  namespacesOfTargetList,
  targetListPath,
} from "./shorthand.js";

/** Shorthand target keys users write, and the selector plugin each one means. */
const TARGET_ALIASES: Record<string, { type: string; wrap: (value: unknown) => unknown }> = {
  namespaces: { type: "list", wrap: (value) => ({ namespaces: value }) },
  selector: { type: "label", wrap: (value) => ({ selector: value }) },
};

const MAPPING_KEYS = [
  "name",
  "source",
  "sources",
  "targets",
  "secretName",
  "serviceAccounts",
  "conflictPolicy",
  "podAdmission",
];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFLICT_POLICIES: readonly ConflictPolicy[] = ["skip", "adopt", "overwrite"];

/** One mapping after its config was checked, before names are settled and plugins created. */
export interface CheckedMapping {
  path: string;
  /** As written; undefined when it is to be derived. */
  name: string | undefined;
  /** What a derived name starts from. */
  nameBase: string | undefined;
  secretName: string | undefined;
  conflictPolicy: ConflictPolicy;
  /** Pods created in the mapping's namespaces get the copy from the admission webhook too. */
  podAdmission: boolean;
  /** One source, or (`sources:`) several to merge. */
  sources: CheckedSources | undefined;
  selector: { factory: SelectorFactory; config: unknown; type: string } | undefined;
  strategy: { factory: StrategyFactory; config: unknown } | undefined;
  /** False when any part was refused: the mapping is not created. */
  valid: boolean;
}

/** `targets: [{ namespace: a }, …]`: a `list` selector, errors reported where the user wrote them. */
function checkTargetList(
  entries: readonly unknown[],
  at: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedMapping["selector"] {
  if (entries.length === 0) {
    problems.push(new ConfigError(at, "must list at least one namespace, like [{ namespace: team-a }]"));
    return undefined;
  }
  const { namespaces, problems: entryProblems } = namespacesOfTargetList(entries, at);
  problems.push(...entryProblems);
  if (entryProblems.length > 0) return undefined;
  const factory = attempt(problems, at, () => registries.selectors.get("list"));
  const config = attempt(problems, at, () => {
    try {
      return factory?.validate({ namespaces });
    } catch (err) {
      if (!(err instanceof PluginConfigError)) throw err;
      const path = err.path.startsWith("namespaces[") ? targetListPath(err.path, "") : "";
      throw new PluginConfigError(path, targetListPath(err.problem, "targets"));
    }
  });
  return factory && config !== undefined ? { factory, config, type: "list" } : undefined;
}

function checkTargets(
  raw: unknown,
  path: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedMapping["selector"] {
  const at = `${path}.targets`;
  if (Array.isArray(raw)) return checkTargetList(raw, at, registries, problems);
  const entry = attempt(problems, at, () => singleKey(raw, at, "target"));
  if (!entry) return undefined;
  const [key, value] = entry;
  const alias = TARGET_ALIASES[key];
  const type = alias?.type ?? key;
  const factory = attempt(problems, at, () => registries.selectors.get(type));
  const config = attempt(problems, `${at}.${key}`, () => {
    try {
      return factory?.validate(alias ? alias.wrap(value) : value);
    } catch (err) {
      // The alias wrapped the value in one more level; report paths as the user wrote them.
      if (alias && err instanceof PluginConfigError) {
        throw new PluginConfigError(err.path.replace(/^(namespaces|selector)\.?/, ""), err.problem);
      }
      throw err;
    }
  });
  return factory && config !== undefined ? { factory, config, type } : undefined;
}

function checkKnownKeys(raw: Record<string, unknown>, path: string, problems: ConfigError[]): void {
  for (const key of Object.keys(raw)) {
    if (MAPPING_KEYS.includes(key)) continue;
    const hint = didYouMean(key, MAPPING_KEYS);
    problems.push(new ConfigError(`${path}.${key}`, `unknown field (valid: ${MAPPING_KEYS.join(", ")})${hint}`));
  }
}

function checkName(value: unknown, path: string, problems: ConfigError[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && MAPPING_NAME.test(value) && value.length <= MAPPING_NAME_MAX_LENGTH) return value;
  const rule = "lowercase letters, digits and '-', at most 63 characters";
  problems.push(new ConfigError(`${path}.name`, `${JSON.stringify(value)} is not a valid mapping name: ${rule}`));
  return undefined;
}

/**
 * The `annotation` selector selects namespaces by the mapping's name, so the name must be written:
 * a name derived from the source would change with it and drop every namespace that opted in.
 */
function checkNameIsWritten(
  name: unknown,
  selector: CheckedMapping["selector"],
  path: string,
  problems: ConfigError[],
): void {
  if (selector?.type !== "annotation" || name !== undefined) return;
  problems.push(
    new ConfigError(
      `${path}.name`,
      `required with targets: annotation: namespaces opt in by writing this name in their ${MAPPING_ANNOTATION} annotation, so it is set here rather than derived from the source`,
    ),
  );
}

function checkConflictPolicy(value: unknown, path: string, problems: ConfigError[]): ConflictPolicy {
  const policy = value ?? "skip";
  if (!CONFLICT_POLICIES.includes(policy as ConflictPolicy)) {
    const hint = typeof policy === "string" ? didYouMean(policy, CONFLICT_POLICIES) : "";
    const expected = `expected one of ${CONFLICT_POLICIES.join(", ")}, got ${JSON.stringify(policy)}${hint}`;
    problems.push(new ConfigError(`${path}.conflictPolicy`, expected));
  }
  return policy as ConflictPolicy;
}

/** The copy's name: as written, else the config-wide default, else the lone secret source's Secret name, else `image-pull-secret`. */
function checkSecretName(
  value: unknown,
  fallback: string | undefined,
  path: string,
  problems: ConfigError[],
): string | undefined {
  const secretName: unknown = value ?? fallback;
  if (secretName === undefined) return undefined;
  if (typeof secretName === "string" && secretName.length <= 253 && DNS1123_SUBDOMAIN.test(secretName)) {
    return secretName;
  }
  const rule = "DNS-1123 subdomain: lowercase letters, digits, '-' and '.'";
  problems.push(
    new ConfigError(`${path}.secretName`, `${JSON.stringify(secretName)} is not a valid Secret name (${rule})`),
  );
  return undefined;
}

function checkPodAdmission(value: unknown, path: string, problems: ConfigError[]): boolean {
  if (value === undefined || typeof value === "boolean") return value ?? false;
  problems.push(new ConfigError(`${path}.podAdmission`, `expected true or false, got ${JSON.stringify(value)}`));
  return false;
}

function checkStrategy(
  value: unknown,
  path: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedMapping["strategy"] {
  const at = `${path}.serviceAccounts`;
  const ref = attempt(problems, at, () => strategyFromShorthand(value ?? "default"));
  const factory = ref && attempt(problems, at, () => registries.strategies.get(ref.type));
  return ref && factory ? { factory, config: ref.config } : undefined;
}

/** Checks one mapping's config, recording every problem; nothing is created yet. */
export function checkMapping(
  raw: unknown,
  path: string,
  options: BuildOptions,
  problems: ConfigError[],
): CheckedMapping | undefined {
  if (!isPlainObject(raw)) {
    problems.push(new ConfigError(path, "expected a map"));
    return undefined;
  }
  const before = problems.length;
  checkKnownKeys(raw, path, problems);
  const name = checkName(raw.name, path, problems);
  const conflictPolicy = checkConflictPolicy(raw.conflictPolicy, path, problems);
  const sources = checkSources(raw, path, options.registries, problems);
  const selector = checkTargets(raw.targets, path, options.registries, problems);
  checkNameIsWritten(raw.name, selector, path, problems);
  const strategy = checkStrategy(raw.serviceAccounts, path, options.registries, problems);
  const derivedName = sources ? (sourceSecretName(sources) ?? DEFAULT_SECRET_NAME) : undefined;
  const secretName = checkSecretName(raw.secretName, options.defaultSecretName ?? derivedName, path, problems);
  return {
    path,
    name,
    nameBase: nameBaseOf(sources),
    secretName,
    conflictPolicy,
    podAdmission: checkPodAdmission(raw.podAdmission, path, problems),
    sources,
    selector,
    strategy,
    valid: problems.length === before,
  };
}
