import type { KubeConfig } from "@kubernetes/client-node";
import type { Mapping } from "../engine/engine.js";
import type { ConflictPolicy } from "../engine/plan.js";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import {
  PluginConfigError,
  type PluginContext,
  type SelectorFactory,
  type SourceFactory,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { PluginRegistry, UnknownPluginTypeError } from "../plugins/registry.js";
import { builtinSelectorFactories } from "../selectors/index.js";
import { builtinStrategyFactories, strategyFromShorthand } from "../strategies/index.js";
import { fileSourceFactory } from "../sources/file/file-source.js";
import { secretSourceFactory } from "../sources/secret/secret-source.js";
import { vaultSourceFactory } from "../sources/vault/index.js";

import { ConfigError, didYouMean, withUnknownKeyHint } from "./errors.js";
import {
  DEFAULT_SECRET_NAME,
  MAPPING_NAME,
  MAPPING_NAME_MAX_LENGTH,
  isPlainObject,
  isSecretShorthand,
  namespacesOfTargetList,
  sanitiseMappingName,
  targetListPath,
  uniqueMappingName,
} from "./shorthand.js";

export { ConfigError } from "./errors.js";

/** One mapping as written in config, before plugins are created. */
export interface MappingConfig {
  /**
   * Lowercase letters, digits and '-', at most 63 characters, unique. Default: derived from the
   * source (the source Secret's name, else the source type), with `-2`, `-3` added when taken.
   */
  name?: string | undefined;
  /**
   * Exactly one key: the source type, whose value is that source's config. `{ name, namespace }`
   * without a type key is short for a `secret` source.
   */
  source: Record<string, unknown>;
  /**
   * Exactly one key: `all`, `selector` (label), `namespaces` (list), or a selector plugin type. A
   * list of `{ namespace }` is short for `namespaces: [...]`.
   */
  targets: Record<string, unknown> | readonly { namespace: string }[];
  /**
   * Name of the copies. Default: {@link BuildOptions.defaultSecretName} when set, else the source
   * Secret's name for a `secret` source, else `image-pull-secret`.
   */
  secretName?: string | undefined;
  /** `default`, `all`, a list of names, or `{ selector }`. Default `default`. */
  serviceAccounts?: unknown;
  conflictPolicy?: ConflictPolicy | undefined;
}

/** The plugin registries a mapping is built from. */
export interface Registries {
  sources: PluginRegistry<SourceFactory>;
  selectors: PluginRegistry<SelectorFactory>;
  strategies: PluginRegistry<StrategyFactory>;
}

/** Registries holding the built-in plugins; add third-party factories with `register`. */
export function builtinRegistries(): Registries {
  const sources = new PluginRegistry<SourceFactory>("source");
  for (const f of [secretSourceFactory, fileSourceFactory, vaultSourceFactory] as SourceFactory[]) sources.register(f);
  const selectors = new PluginRegistry<SelectorFactory>("selector");
  for (const f of builtinSelectorFactories) selectors.register(f);
  const strategies = new PluginRegistry<StrategyFactory>("strategy");
  for (const f of builtinStrategyFactories) strategies.register(f);
  return { sources, selectors, strategies };
}


/** Shorthand target keys users write, and the selector plugin each one means. */
const TARGET_ALIASES: Record<string, { type: string; wrap: (value: unknown) => unknown }> = {
  namespaces: { type: "list", wrap: (value) => ({ namespaces: value }) },
  selector: { type: "label", wrap: (value) => ({ selector: value }) },
};

const MAPPING_KEYS = ["name", "source", "targets", "secretName", "serviceAccounts", "conflictPolicy"];
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFLICT_POLICIES: readonly ConflictPolicy[] = ["skip", "adopt", "overwrite"];

/** What {@link buildMappings} needs: the registries, the default copy name and the plugins' context. */
export interface BuildOptions {
  registries: Registries;
  /**
   * Copy name of every mapping that sets no `secretName` (the top-level `secretName` of config).
   * Unset: each mapping's own default, the source Secret's name for a `secret` source and
   * `image-pull-secret` for any other source.
   */
  defaultSecretName?: string | undefined;
  kubeConfig?: KubeConfig | undefined;
  logger?: Logger | undefined;
  /** Prefix of error paths, e.g. `mappings`. */
  path?: string | undefined;
}

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
    throw new ConfigError(path, keys.length === 0 ? `expected one ${what} type, found none` : `expected one ${what} type, found ${keys.length}: ${keys.join(", ")}`);
  }
  const key = keys[0] as string;
  return [key, value[key]];
}

/** One mapping after its config was checked, before names are settled and plugins created. */
interface CheckedMapping {
  path: string;
  /** As written; undefined when it is to be derived. */
  name: string | undefined;
  /** What a derived name starts from. */
  nameBase: string | undefined;
  secretName: string | undefined;
  conflictPolicy: ConflictPolicy;
  source: { factory: SourceFactory; config: unknown } | undefined;
  selector: { factory: SelectorFactory; config: unknown; type: string } | undefined;
  strategy: { factory: StrategyFactory; config: unknown } | undefined;
  /** False when any part was refused: the mapping is not created. */
  valid: boolean;
}

function checkSource(raw: unknown, path: string, registries: Registries, problems: ConfigError[]): { type: string; factory: SourceFactory; config: unknown } | undefined {
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
function checkTargetList(entries: readonly unknown[], at: string, registries: Registries, problems: ConfigError[]): CheckedMapping["selector"] {
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

function checkTargets(raw: unknown, path: string, registries: Registries, problems: ConfigError[]): CheckedMapping["selector"] {
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
  problems.push(new ConfigError(`${path}.secretName`, `${JSON.stringify(secretName)} is not a valid Secret name (${rule})`));
  return undefined;
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
function checkMapping(
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
    source,
    selector,
    strategy,
    valid: problems.length === before,
  };
}

/**
 * Names every mapping: written names must be unique; a mapping without one is named after its
 * source, with `-2`, `-3`, … when that name is taken.
 */
function settleNames(checked: readonly (CheckedMapping | undefined)[], problems: ConfigError[]): Map<CheckedMapping, string> {
  const firstUse = new Map<string, string>();
  const names = new Map<CheckedMapping, string>();
  for (const m of checked) {
    if (!m?.name) continue;
    const earlier = firstUse.get(m.name);
    if (earlier) problems.push(new ConfigError(`${m.path}.name`, `"${m.name}" is already used by ${earlier}`));
    else firstUse.set(m.name, m.path);
    names.set(m, m.name);
  }
  const used = new Set(firstUse.keys());
  for (const m of checked) {
    if (!m || m.name !== undefined || m.nameBase === undefined) continue;
    const name = uniqueMappingName(sanitiseMappingName(m.nameBase) || "mapping", used);
    used.add(name);
    names.set(m, name);
  }
  return names;
}

/** Two mappings that would write one Secret into one namespace, where config shows it. */
function overlaps(built: readonly BuiltMapping[]): ConfigError[] {
  const problems: ConfigError[] = [];
  for (let a = 0; a < built.length; a++) {
    for (let b = a + 1; b < built.length; b++) {
      const x = built[a] as (typeof built)[number];
      const y = built[b] as (typeof built)[number];
      if (x.mapping.secretName !== y.mapping.secretName) continue;
      const clash = x.listed && y.listed ? [...x.listed].find((n) => y.listed?.has(n)) : undefined;
      if (clash) {
        problems.push(new ConfigError(y.path, `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into namespace "${clash}"; give one a different secretName`));
      } else if (x.all && y.all) {
        problems.push(new ConfigError(y.path, `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into every namespace; give one a different secretName`));
      }
    }
  }
  return problems;
}

interface BuiltMapping {
  mapping: Mapping;
  listed?: Set<string> | undefined;
  all: boolean;
  path: string;
}

/** Creates a checked mapping's plugins; none when any part of it was refused. */
function createMapping(m: CheckedMapping, name: string, options: BuildOptions, logger: Logger): BuiltMapping[] {
  const { source, selector, strategy, secretName } = m;
  if (!m.valid || !source || !selector || !strategy || !secretName) return [];
  const context: PluginContext = { logger: logger.child({ mapping: name }), kubeConfig: options.kubeConfig, mappingName: name };
  const mapping: Mapping = {
    name,
    secretName,
    conflictPolicy: m.conflictPolicy,
    source: source.factory.create(source.config, context),
    selector: selector.factory.create(selector.config, context),
    strategy: strategy.factory.create(strategy.config, context),
  };
  const listed = selector.type === "list" ? new Set((selector.config as { namespaces: string[] }).namespaces) : undefined;
  return [{ mapping, listed, all: selector.type === "all", path: m.path }];
}

/**
 * Validates mapping configs and creates their plugins. Every problem is reported, each with the
 * path of the bad value: the thrown {@link ConfigError} lists them in `problems`.
 * Checks across mappings: unique names, and no two mappings that would write the same Secret into
 * the same namespace where that is knowable from config (lists and `all`); other overlaps are
 * reported per namespace at run time.
 */
export function buildMappings(configs: unknown, options: BuildOptions): Mapping[] {
  const base = options.path ?? "mappings";
  if (!Array.isArray(configs)) throw new ConfigError(base, "expected a list of mappings");
  if (configs.length === 0) throw new ConfigError(base, "at least one mapping is required");
  const logger = options.logger ?? silentLogger;
  const problems: ConfigError[] = [];
  const checked = configs.map((raw, i) => checkMapping(raw, `${base}[${i}]`, options, problems));
  const names = settleNames(checked, problems);

  const built: BuiltMapping[] = [];
  for (const m of checked) {
    const name = m && names.get(m);
    if (m && name) built.push(...createMapping(m, name, options, logger));
  }
  problems.push(...overlaps(built));
  if (problems.length > 0) throw ConfigError.of(problems);
  return built.map((b) => b.mapping);
}
