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

/** A config error with the path of the offending value, e.g. `mappings[1].targets.selector`. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path ? `${path}: ${problem}` : problem);
  }
}

/** One mapping as written in config, before plugins are created. */
export interface MappingConfig {
  name: string;
  /** Exactly one key: the source type, whose value is that source's config. */
  source: Record<string, unknown>;
  /** Exactly one key: `all`, `selector` (label), `namespaces` (list), or a selector plugin type. */
  targets: Record<string, unknown>;
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

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAPPING_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const CONFLICT_POLICIES: readonly ConflictPolicy[] = ["skip", "adopt", "overwrite"];

/** What {@link buildMappings} needs: the registries, the default copy name and the plugins' context. */
export interface BuildOptions {
  registries: Registries;
  /** Used when a mapping has no `secretName`. */
  defaultSecretName?: string | undefined;
  kubeConfig?: KubeConfig | undefined;
  logger?: Logger | undefined;
  /** Prefix of error paths, e.g. `mappings`. */
  path?: string | undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function join(base: string, rest: string): string {
  if (!rest) return base;
  return rest.startsWith("[") ? `${base}${rest}` : `${base}.${rest}`;
}

/** Runs a plugin's validate, re-basing its error path under `path`. */
function validated<T>(path: string, run: () => T): T {
  try {
    return run();
  } catch (err) {
    if (err instanceof PluginConfigError) throw new ConfigError(join(path, err.path), err.problem);
    if (err instanceof UnknownPluginTypeError) throw new ConfigError(path, err.message);
    throw err;
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

/**
 * Validates mapping configs and creates their plugins. Errors name the path of the bad value.
 * Checks across mappings: unique names, and no two mappings that would write the same Secret into
 * the same namespace where that is knowable from config (lists and `all`); other overlaps are
 * reported per namespace at run time.
 */
export function buildMappings(configs: unknown, options: BuildOptions): Mapping[] {
  const base = options.path ?? "mappings";
  if (!Array.isArray(configs)) throw new ConfigError(base, "expected a list of mappings");
  if (configs.length === 0) throw new ConfigError(base, "at least one mapping is required");
  const logger = options.logger ?? silentLogger;
  const built: { mapping: Mapping; listed?: Set<string>; all: boolean; path: string }[] = [];
  const names = new Map<string, string>();

  configs.forEach((raw, i) => {
    const path = `${base}[${i}]`;
    if (!isPlainObject(raw)) throw new ConfigError(path, "expected a map");
    const known = new Set(["name", "source", "targets", "secretName", "serviceAccounts", "conflictPolicy"]);
    for (const key of Object.keys(raw)) if (!known.has(key)) throw new ConfigError(`${path}.${key}`, `unknown field (valid: ${[...known].join(", ")})`);

    const name = raw.name;
    if (typeof name !== "string" || !MAPPING_NAME.test(name) || name.length > 63) {
      throw new ConfigError(`${path}.name`, "required; lowercase letters, digits and '-', at most 63 characters");
    }
    const earlier = names.get(name);
    if (earlier) throw new ConfigError(`${path}.name`, `"${name}" is already used by ${earlier}`);
    names.set(name, path);

    const secretName = raw.secretName ?? options.defaultSecretName;
    if (typeof secretName !== "string" || secretName.length > 253 || !DNS1123_SUBDOMAIN.test(secretName)) {
      throw new ConfigError(`${path}.secretName`, `${secretName === undefined ? "required" : JSON.stringify(secretName) + " is not"} a valid Secret name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')`);
    }

    const conflictPolicy = raw.conflictPolicy ?? "skip";
    if (!CONFLICT_POLICIES.includes(conflictPolicy as ConflictPolicy)) {
      throw new ConfigError(`${path}.conflictPolicy`, `expected one of ${CONFLICT_POLICIES.join(", ")}, got ${JSON.stringify(conflictPolicy)}`);
    }

    const context: PluginContext = { logger: logger.child({ mapping: name }), kubeConfig: options.kubeConfig, mappingName: name };

    const [sourceType, sourceConfig] = singleKey(raw.source, `${path}.source`, "source");
    const sourceFactory = validated(`${path}.source`, () => options.registries.sources.get(sourceType));
    const sourceCfg = validated(`${path}.source.${sourceType}`, () => sourceFactory.validate(sourceConfig));

    const [targetKey, targetValue] = singleKey(raw.targets, `${path}.targets`, "target");
    const alias = TARGET_ALIASES[targetKey];
    const selectorType = alias?.type ?? targetKey;
    const selectorFactory = validated(`${path}.targets`, () => options.registries.selectors.get(selectorType));
    const selectorCfg = validated(`${path}.targets.${targetKey}`, () => {
      try {
        return selectorFactory.validate(alias ? alias.wrap(targetValue) : targetValue);
      } catch (err) {
        // The alias wrapped the value in one more level; report paths as the user wrote them.
        if (alias && err instanceof PluginConfigError) {
          const inner = err.path.replace(/^(namespaces|selector)\.?/, "");
          throw new PluginConfigError(inner, err.problem);
        }
        throw err;
      }
    });

    const strategyRef = validated(`${path}.serviceAccounts`, () => strategyFromShorthand(raw.serviceAccounts ?? "default"));
    const strategyFactory = options.registries.strategies.get(strategyRef.type);

    const mapping: Mapping = {
      name,
      secretName,
      conflictPolicy: conflictPolicy as ConflictPolicy,
      source: sourceFactory.create(sourceCfg, context),
      selector: selectorFactory.create(selectorCfg, context),
      strategy: strategyFactory.create(strategyRef.config, context),
    };
    const listed = selectorType === "list" ? new Set((selectorCfg as { namespaces: string[] }).namespaces) : undefined;
    built.push({ mapping, listed, all: selectorType === "all", path });
  });

  for (let a = 0; a < built.length; a++) {
    for (let b = a + 1; b < built.length; b++) {
      const x = built[a] as (typeof built)[number];
      const y = built[b] as (typeof built)[number];
      if (x.mapping.secretName !== y.mapping.secretName) continue;
      const clash = x.listed && y.listed ? [...x.listed].find((n) => y.listed?.has(n)) : undefined;
      if (clash) {
        throw new ConfigError(y.path, `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into namespace "${clash}"; give one a different secretName`);
      }
      if (x.all && y.all) {
        throw new ConfigError(y.path, `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into every namespace; give one a different secretName`);
      }
    }
  }
  return built.map((b) => b.mapping);
}
