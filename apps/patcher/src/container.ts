import { resolve as resolvePath } from "node:path";
import { container as rootContainer, type DependencyContainer, type InjectionToken } from "tsyringe";
import type { KubeConfig } from "@kubernetes/client-node";
import {
  builtinRegistries,
  Engine,
  type EngineOptions,
  type Logger,
  type Mapping,
  type Registries,
} from "@imagepullsecret-patcher/core";
import { buildConfiguredMappings, ConfigFileError, type LoadedConfig } from "./config/load.js";
import { durationMs } from "./config/schema.js";
import { PatcherMetrics } from "./metrics/metrics.js";
import { loadPluginPackages, PluginLoadError } from "./plugins/load.js";
import { envSourceFactory } from "./plugins/env-source.js";
import { loadCloudSources } from "./plugins/cloud-sources.js";
import { probeRegistryLogin } from "@imagepullsecret-patcher/core";

/** Injection tokens of the composition root. Symbols, so nothing depends on decorator metadata. */
export const Tokens = {
  Config: Symbol("LoadedConfig") as InjectionToken<LoadedConfig>,
  /** Wrapped: tsyringe refuses `useValue` of null or undefined, and `validate` has no cluster. */
  Connection: Symbol("Connection") as InjectionToken<{ kubeConfig: KubeConfig | undefined }>,
  Logger: Symbol("Logger") as InjectionToken<Logger>,
  Registries: Symbol("Registries") as InjectionToken<Registries>,
  Mappings: Symbol("Mappings") as InjectionToken<Mapping[]>,
  Metrics: Symbol("Metrics") as InjectionToken<PatcherMetrics>,
  Engine: Symbol("Engine") as InjectionToken<Engine>,
  /** Asked before every write; false (e.g. the leader lease was lost) means the write is not sent. */
  WriteGate: Symbol("WriteGate") as InjectionToken<{ canWrite: (() => boolean) | undefined }>,
};

/** Engine settings this app passes that the engine may not declare yet (`canWrite`). */
type EngineSettings = EngineOptions & { canWrite?: (() => boolean) | undefined };

/**
 * Registries with core's built-in plugins, titansoft's `env` source, every package named in `plugins:`
 * and the cloud source packages the mappings use. The only place in the app that knows which plugins exist.
 */
export async function createRegistries(config: LoadedConfig): Promise<Registries> {
  const registries = builtinRegistries();
  registries.sources.register(envSourceFactory);
  // createRequire needs an absolute path: a relative --config would resolve nothing.
  const from = config.origin === "environment" ? [] : [resolvePath(config.origin)];
  try {
    await loadPluginPackages(config.config.plugins, registries, [...from, import.meta.filename]);
  } catch (err) {
    if (!(err instanceof PluginLoadError)) throw err;
    // Report it like any config error: the file, the entry and its line.
    const path = `plugins[${config.config.plugins.indexOf(err.packageName)}]`;
    throw new ConfigFileError(config.origin, path, err.message, config.lineOf(path));
  }
  // A cloud package that fails to load is a broken install, not a config mistake: its error names the package.
  await loadCloudSources(config.mappings, registries);
  return registries;
}

/**
 * Wires one configuration into a child container: config → plugins → mappings → engine. The
 * running process builds one per engine and per reload (see host/engine-host.ts).
 */
export async function createPatcherContainer(options: {
  config: LoadedConfig;
  kubeConfig: KubeConfig | undefined;
  logger: Logger;
  metrics?: PatcherMetrics | undefined;
  parent?: DependencyContainer | undefined;
  /** Asked before every write (leader election: `() => elector.isLeader`). */
  canWrite?: (() => boolean) | undefined;
}): Promise<DependencyContainer> {
  const c = (options.parent ?? rootContainer).createChildContainer();
  const registries = await createRegistries(options.config);
  c.register(Tokens.Config, { useValue: options.config });
  c.register(Tokens.Connection, { useValue: { kubeConfig: options.kubeConfig } });
  c.register(Tokens.Logger, { useValue: options.logger });
  c.register(Tokens.Registries, { useValue: registries });
  c.register(Tokens.Metrics, { useValue: options.metrics ?? new PatcherMetrics() });
  c.register(Tokens.WriteGate, { useValue: { canWrite: options.canWrite } });
  c.register(Tokens.Mappings, {
    useFactory: (d) =>
      buildConfiguredMappings(d.resolve(Tokens.Config), {
        registries: d.resolve(Tokens.Registries),
        kubeConfig: d.resolve(Tokens.Connection).kubeConfig,
        logger: d.resolve(Tokens.Logger),
      }),
  });
  c.register(Tokens.Engine, {
    useFactory: (d) => {
      const { kubeConfig } = d.resolve(Tokens.Connection);
      if (!kubeConfig) throw new Error("the engine needs a Kubernetes connection");
      const { controller } = d.resolve(Tokens.Config).config;
      const metrics = d.resolve(Tokens.Metrics);
      const mappings = d.resolve(Tokens.Mappings);
      const settings: EngineSettings = {
        kubeConfig,
        mappings,
        logger: d.resolve(Tokens.Logger),
        instance: controller.instance,
        workers: controller.workers,
        resyncIntervalMs: durationMs(controller.resyncInterval),
        clientQps: controller.clientQps,
        clientBurst: controller.clientBurst,
        watchInactivityTimeoutMs: durationMs(controller.watchInactivityTimeout),
        retainOnMappingRemoval: controller.onMappingRemoved === "retain",
        observer: metrics.observer(),
        verifyCredential: controller.verifyCredentials
          ? async (value) => {
              const result = await probeRegistryLogin(value.credential);
              return {
                ok: result.ok,
                problem: result.results
                  .filter((r) => !r.ok)
                  .map((r) => `${r.registry}: ${r.problem}`)
                  .join("; "),
              };
            }
          : undefined,
        canWrite: d.resolve(Tokens.WriteGate).canWrite,
      };
      return new Engine(settings);
    },
  });
  return c;
}
