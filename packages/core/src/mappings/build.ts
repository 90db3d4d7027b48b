import type { KubeConfig } from "@kubernetes/client-node";
import type { Mapping } from "../engine/engine.js";
import type { ConflictPolicy } from "../engine/plan.js";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import {
  type PluginContext,
  type SelectorFactory,
  type SourceFactory,
  type SourceProvider,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { PluginRegistry } from "../plugins/registry.js";
import { builtinSelectorFactories } from "../selectors/index.js";
import { builtinStrategyFactories } from "../strategies/index.js";
import { fileSourceFactory } from "../sources/file/file-source.js";
import { secretSourceFactory } from "../sources/secret/secret-source.js";
import { vaultSourceFactory } from "../sources/vault/index.js";
import { MergedSource } from "../sources/merged/merged-source.js";

import { checkMapping, type CheckedMapping } from "./check.js";
import type { CheckedSources } from "./check-sources.js";
import { ConfigError } from "./errors.js";
import { sanitiseMappingName, uniqueMappingName } from "./shorthand.js";

export { ConfigError } from "./errors.js";

/** One mapping as written in config, before plugins are created. */
export interface MappingConfig {
  /**
   * Lowercase letters, digits and '-', at most 63 characters, unique. Default: derived from the
   * (first) source (the source Secret's name, else the source type), with `-2`, `-3` added when
   * taken. Required with the `annotation` selector: namespaces write it.
   */
  name?: string | undefined;
  /**
   * Exactly one key: the source type, whose value is that source's config. `{ name, namespace }`
   * without a type key is short for a `secret` source. Exactly one of `source` and `sources`.
   */
  source?: Record<string, unknown> | undefined;
  /**
   * Several sources, each written like `source`, merged into one credential: the union of their
   * `auths`, the first listed winning a registry host two of them list.
   */
  sources?: readonly Record<string, unknown>[] | undefined;
  /**
   * Exactly one key: `all`, `selector` (label), `namespaces` (list), or a selector plugin type. A
   * list of `{ namespace }` is short for `namespaces: [...]`.
   */
  targets: Record<string, unknown> | readonly { namespace: string }[];
  /**
   * Name of the copies. Default: {@link BuildOptions.defaultSecretName} when set, else the source
   * Secret's name for a lone `secret` source, else (any other source, or `sources`) `image-pull-secret`.
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

/**
 * Names every mapping: written names must be unique; a mapping without one is named after its
 * source, with `-2`, `-3`, … when that name is taken.
 */
function settleNames(
  checked: readonly (CheckedMapping | undefined)[],
  problems: ConfigError[],
): Map<CheckedMapping, string> {
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
        problems.push(
          new ConfigError(
            y.path,
            `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into namespace "${clash}"; give one a different secretName`,
          ),
        );
      } else if (x.all && y.all) {
        problems.push(
          new ConfigError(
            y.path,
            `mappings "${x.mapping.name}" and "${y.mapping.name}" both write Secret "${y.mapping.secretName}" into every namespace; give one a different secretName`,
          ),
        );
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

/** The mapping's source: the one written in `source:`, or a {@link MergedSource} over those of `sources:`. */
function createSource(sources: CheckedSources, context: PluginContext): SourceProvider {
  const children = sources.entries.map((s) => s.factory.create(s.config, context));
  const [only] = children;
  if (!sources.merged && only) return only;
  return new MergedSource(children, { logger: context.logger });
}

/** Creates a checked mapping's plugins; none when any part of it was refused. */
function createMapping(m: CheckedMapping, name: string, options: BuildOptions, logger: Logger): BuiltMapping[] {
  const { sources, selector, strategy, secretName } = m;
  if (!m.valid || !sources || !selector || !strategy || !secretName) return [];
  const context: PluginContext = {
    logger: logger.child({ mapping: name }),
    kubeConfig: options.kubeConfig,
    mappingName: name,
  };
  const mapping: Mapping = {
    name,
    secretName,
    conflictPolicy: m.conflictPolicy,
    ...(m.podAdmission ? { podAdmission: true } : {}),
    source: createSource(sources, context),
    selector: selector.factory.create(selector.config, context),
    strategy: strategy.factory.create(strategy.config, context),
  };
  const listed =
    selector.type === "list" ? new Set((selector.config as { namespaces: string[] }).namespaces) : undefined;
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
