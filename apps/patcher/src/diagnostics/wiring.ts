import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger, Mapping } from "@imagepullsecret-patcher/core";
import type { DiagnosticsConfig } from "../config/diagnostics-schema.js";
import type { LoadedConfig } from "../config/load.js";
import { createPatcherContainer, Tokens } from "../container.js";
import type { PatcherMetrics } from "../metrics/metrics.js";
import { diagnosticsCluster } from "./cluster.js";
import { PullDiagnostics } from "./pull-diagnostics.js";

export interface DiagnosticsWiring {
  config: DiagnosticsConfig;
  /** Where the config applied last is read (the engine host). */
  host: { readonly config: LoadedConfig };
  kubeConfig: KubeConfig;
  logger: Logger;
  metrics: PatcherMetrics;
  canWrite: (() => boolean) | undefined;
}

/**
 * The image-pull diagnostics of a running process, or undefined when `diagnostics.enabled` is off.
 * Mappings are built (never started) from the config applied last, as the webhook does, and
 * rebuilt after a reload.
 */
export function pullDiagnostics(options: DiagnosticsWiring): PullDiagnostics | undefined {
  if (!options.config.enabled) return undefined;
  const { kubeConfig, logger, metrics } = options;
  let built: { config: LoadedConfig; mappings: Promise<Mapping[]> } | undefined;
  const mappings = (): Promise<Mapping[]> => {
    const config = options.host.config;
    if (built?.config !== config) {
      const made = createPatcherContainer({ config, kubeConfig, logger, metrics }).then((di) =>
        di.resolve(Tokens.Mappings),
      );
      built = { config, mappings: made };
    }
    return built.mappings;
  };
  const instance = options.host.config.config.controller.instance;
  return new PullDiagnostics({
    config: options.config,
    cluster: diagnosticsCluster(kubeConfig, logger, instance, options.canWrite),
    mappings,
    logger,
    onMissing: (mapping) => metrics.podsMissingPullSecret.inc({ mapping }),
    onDeleted: (mapping) => metrics.stuckPodsDeleted.inc({ mapping }),
    canWrite: options.canWrite,
  });
}

/** Runs a leader's term with the diagnostics alongside; they stop when the term ends. */
export async function withDiagnostics(
  diagnostics: PullDiagnostics | undefined,
  signal: AbortSignal,
  term: () => Promise<void>,
): Promise<void> {
  if (!diagnostics) return term();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  const running = diagnostics.run(stop.signal);
  try {
    await term();
  } finally {
    signal.removeEventListener("abort", onAbort);
    stop.abort();
    await running;
  }
}
