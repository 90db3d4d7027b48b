// Checks a mapping's config field by field, recording every problem with its path; nothing is
// created here (see build.ts).
import type { ConflictPolicy } from "../engine/plan.js";
import {
  PluginConfigError,
  type SelectorFactory,
  type SourceFactory,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { UnknownPluginTypeError } from "../plugins/registry.js";
import { strategyFromShorthand } from "../strategies/index.js";
import type { BuildOptions, Registries } from "./build.js";
import { ConfigError, didYouMean, withUnknownKeyHint } from "./errors.js";
import {
  DEFAULT_SECRET_NAME,
  MAPPING_NAME,
  MAPPING_NAME_MAX_LENGTH,
  isPlainObject,
  isSecretShorthand,
  namespacesOfTargetList,
  targetListPath,
} from "./shorthand.js";

/** Shorthand target keys users write, and the selector plugin each one means. */
const TARGET_ALIASES: Record<string, { type: string; wrap: (value: unknown) => unknown }> = {
  namespaces: { type: "list", wrap: (value) => ({ namespaces: value }) },
  selector: { type: "label", wrap: (value) => ({ selector: value }) },
};

const MAPPING_KEYS = ["name", "source", "targets", "secretName", "serviceAccounts", "conflictPolicy", "podAdmission"];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFLICT_POLICIES: readonly ConflictPolicy[] = ["skip", "adopt", "overwrite"];

function join(base: string, rest: string): string {
  if (!rest) return base;
  return rest.startsWith("[") ? `${base}${rest}` : `${base}.${rest}`;
}

/**
 * Runs `run`; a plugin's refusal becomes a ConfigError under `path` (with a "did you mean" hint
 * for an unknown key or type), recorded in `problems`. Undefined when it was refused.
 */
function attempt<T>(problems: ConfigError[], path: string, run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    if (err instanceof PluginConfigError) {
      const at = join(path, err.path);
      problems.push(new ConfigError(at, withUnknownKeyHint(at, err.problem)));
    } else if (err instanceof UnknownPluginTypeError) {
      problems.push(new ConfigError(path, `${err.message}${didYouMean(err.type, err.known)}`));
    } else if (err instanceof ConfigError) {
      problems.push(...err.problems);
    } else {
      throw err;
    }
    return undefined;
  }
}

function singleKey(value: unknown, path: string, what: string): [string, unknown] {
  if (!isPlainObject(value)) throw new ConfigError(path, `expected a map with one ${what} type`);
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    throw new ConfigError(
      path,
      keys.length === 0
        ? `expected one ${what} type, found none`
        : `expected one ${what} type, found ${keys.length}: ${keys.join(", ")}`,
    );
  }
  const key = keys[0] as string;
  return [key, value[key]];
}

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
  source: { factory: SourceFactory; config: unknown } | undefined;
  selector: { factory: SelectorFactory; config: unknown; type: string } | undefined;
  strategy: { factory: StrategyFactory; config: unknown } | undefined;
  /** False when any part was refused: the mapping is not created. */
  valid: boolean;
}

function checkSource(
  raw: unknown,
  path: string,
  registries: Registries,
  problems: ConfigError[],
): { type: string; factory: SourceFactory; config: unknown } | undefined {
  const at = `${path}.source`;
  if (isSecretShorthand(raw, (type) => registries.sources.has(type))) {
    const factory = attempt(problems, at, () => registries.sources.get("secret"));
    const config = factory && attempt(problems, at, () => factory.validate(raw));
    return factory && config !== undefined ? { type: "secret", factory, config } : undefined;
  }
  const entry = attempt(problems, at, () => singleKey(raw, at, "source"));
  if (!entry) return undefined;
  const [type, value] = entry;
  const factory = attempt(problems, at, () => registries.sources.get(type));
  const config = factory && attempt(problems, `${at}.${type}`, () => factory.validate(value));
  return factory && config !== undefined ? { type, factory, config } : undefined;
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

function checkConflictPolicy(value: unknown, path: string, problems: ConfigError[]): ConflictPolicy {
  const policy = value ?? "skip";
  if (!CONFLICT_POLICIES.includes(policy as ConflictPolicy)) {
    const hint = typeof policy === "string" ? didYouMean(policy, CONFLICT_POLICIES) : "";
    const expected = `expected one of ${CONFLICT_POLICIES.join(", ")}, got ${JSON.stringify(policy)}${hint}`;
    problems.push(new ConfigError(`${path}.conflictPolicy`, expected));
  }
  return policy as ConflictPolicy;
}

/** The copy's name: as written, else the config-wide default, else the source Secret's name. */
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
  const source = checkSource(raw.source, path, options.registries, problems);
  const sourceSecretName = source?.type === "secret" ? (source.config as { name: string }).name : undefined;
  const selector = checkTargets(raw.targets, path, options.registries, problems);
  const strategy = checkStrategy(raw.serviceAccounts, path, options.registries, problems);
  const derivedName = source ? (sourceSecretName ?? DEFAULT_SECRET_NAME) : undefined;
  const secretName = checkSecretName(raw.secretName, options.defaultSecretName ?? derivedName, path, problems);
  return {
    path,
    name,
    nameBase: sourceSecretName ?? source?.type,
    secretName,
    conflictPolicy,
    podAdmission: checkPodAdmission(raw.podAdmission, path, problems),
    source,
    selector,
    strategy,
    valid: problems.length === before,
  };
}
