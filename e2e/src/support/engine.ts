import type * as k8s from "@kubernetes/client-node";
import {
  Engine,
  buildMappings,
  builtinRegistries,
  type EngineOptions,
  type Mapping,
} from "@imagepullsecret-patcher/core";
import { CapturingLogger } from "./logs.ts";

export interface RunningEngine {
  engine: Engine;
  logger: CapturingLogger;
  mappings: Mapping[];
  stop(): Promise<void>;
  /** Builds new mappings from config and hands them to the running engine (hot reload). */
  reload(configs: unknown[]): void;
}

/** Builds mappings from config objects with the built-in plugins and runs an engine on them. */
export async function startEngine(
  kubeConfig: k8s.KubeConfig,
  configs: unknown[],
  options: Partial<EngineOptions> = {},
  logger = new CapturingLogger(),
): Promise<RunningEngine> {
  const registries = builtinRegistries();
  const build = (c: unknown[]): Mapping[] =>
    buildMappings(c, { registries, kubeConfig, logger, defaultSecretName: "image-pull-secret" });
  const mappings = build(configs);
  const engine = new Engine({ kubeConfig, mappings, logger, resyncIntervalMs: 0, ...options });
  const controller = new AbortController();
  const running = engine.run(controller.signal);
  await engine.waitForSync(controller.signal);
  return {
    engine,
    logger,
    mappings,
    reload: (c) => engine.setMappings(build(c)),
    async stop() {
      controller.abort();
      await running;
    },
  };
}
