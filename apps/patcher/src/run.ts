import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { hostname } from "node:os";
import type { Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Engine, KeyStatus, Logger, Mapping } from "@imagepullsecret-patcher/core";
import { createPatcherContainer, Tokens } from "./container.js";
import { ConfigFileError } from "./config/load.js";
import { loadConfigFile } from "./config/load.js";
import { durationMs } from "./config/schema.js";
import type { ResolvedConfig } from "./config/source.js";
import { startHttpServer } from "./http/server.js";
import { PatcherMetrics } from "./metrics/metrics.js";
import { LeaseElector } from "./leader/lease-elector.js";

export interface RunOptions {
  resolved: ResolvedConfig;
  kubeConfig: KubeConfig;
  logger: Logger;
  signal: AbortSignal;
  /** Overrides server.address (tests use ":0"). */
  serverAddress?: string | undefined;
  /** Identity for leader election; default hostname. */
  identity?: string | undefined;
  onServerListening?: ((server: Server) => void) | undefined;
}

/** Describes an error for logs without credential bytes (config and plugin errors never carry any). */
function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `run`: serves health and metrics, (optionally) waits for the leader lease, runs the engine, and
 * applies config changes without a restart. Resolves on `signal` abort after a graceful stop.
 */
export async function runController(options: RunOptions): Promise<void> {
  const { resolved, kubeConfig, logger, signal } = options;
  const metrics = new PatcherMetrics();
  const di = await createPatcherContainer({ config: resolved.loaded, kubeConfig, logger, metrics });
  let mappings: Mapping[] = di.resolve(Tokens.Mappings);
  let engine: Engine | undefined;
  let configError: string | undefined;
  const { leaderElection, server } = resolved.loaded.config;
  const elector = leaderElection.enabled
    ? new LeaseElector({
        kubeConfig,
        namespace: leaderElection.namespace ?? process.env.POD_NAMESPACE ?? "default",
        name: leaderElection.name,
        identity: options.identity ?? process.env.POD_NAME ?? hostname(),
        leaseDurationMs: durationMs(leaderElection.leaseDuration),
        renewDeadlineMs: durationMs(leaderElection.renewDeadline),
        retryPeriodMs: durationMs(leaderElection.retryPeriod),
        logger,
        observer: { onTransition: (leading: boolean) => metrics.leader.set(leading ? 1 : 0) },
      })
    : undefined;

  let http: Server | undefined;
  const address = options.serverAddress ?? server.address;
  if (address) {
    http = await startHttpServer(
      address,
      {
        health: () => {
          // A watch that stays silent past the watchdog window means the process is stuck.
          const silentMs = engine?.msSinceLastWatchEvent ?? 0;
          const limit = durationMs(resolved.loaded.config.controller.watchInactivityTimeout) * 2;
          return { ok: silentMs < limit, detail: { watchSilentSeconds: Math.round(silentMs / 1000), configError } };
        },
        ready: () => {
          const leaderKnown = !elector || elector.state !== "unknown";
          // A follower runs no engine and no sources: it is ready when it knows it follows.
          const follower = !!elector && !elector.isLeader;
          const synced = follower || !!engine?.synced;
          const degraded = follower
            ? []
            : mappings.filter((m) => m.source.status().state !== "ready").map((m) => `${m.name}: ${m.source.status().error ?? m.source.status().state}`);
          return {
            ok: leaderKnown && synced && degraded.length === 0,
            detail: { leader: elector ? elector.state : "disabled", cachesSynced: synced, degradedSources: degraded, configError },
          };
        },
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      },
      logger,
    );
    options.onServerListening?.(http);
  }

  // Hot reload: watch the directory (ConfigMap volumes swap a symlink, so the file's inode changes).
  let watcher: FSWatcher | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  let lastText = "";
  const reload = async (): Promise<void> => {
    if (!resolved.file) return;
    try {
      const next = loadConfigFile(resolved.file);
      const text = JSON.stringify(next.config);
      if (text === lastText) return;
      const child = await createPatcherContainer({ config: next, kubeConfig, logger, metrics });
      const nextMappings = child.resolve(Tokens.Mappings);
      engine?.setMappings(nextMappings);
      mappings = nextMappings;
      if (engine) metrics.attach(engine, mappings);
      lastText = text;
      configError = undefined;
      metrics.configReloads.inc({ result: "applied" });
      logger.info({ file: resolved.file, mappings: mappings.map((m) => m.name) }, "config reloaded");
    } catch (err) {
      configError = err instanceof ConfigFileError ? err.message : describe(err);
      metrics.configReloads.inc({ result: "refused" });
      logger.error({ file: resolved.file, error: configError }, "new config refused; the previous one keeps running");
    }
  };
  if (resolved.file) {
    lastText = JSON.stringify(resolved.loaded.config);
    const file = resolved.file;
    watcher = watch(dirname(file), (_event, name) => {
      if (name && name !== basename(file) && !name.startsWith("..")) return;
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => void reload(), 200);
    });
    watcher.on("error", (err) => logger.warn({ error: err.message }, "config watch failed; hot reload disabled"));
  }

  const runEngine = async (engineSignal: AbortSignal): Promise<void> => {
    // Each leadership term gets a fresh engine on the current mappings.
    const child = await createPatcherContainer({ config: resolved.loaded, kubeConfig, logger, metrics });
    child.register(Tokens.Mappings, { useValue: mappings });
    engine = child.resolve(Tokens.Engine);
    metrics.attach(engine, mappings);
    try {
      await engine.run(engineSignal);
    } finally {
      engine = undefined;
    }
  };

  try {
    if (elector) {
      await elector.run(signal, {
        onStartedLeading: (leaderSignal: AbortSignal) => runEngine(leaderSignal),
        onStoppedLeading: () => logger.warn({}, "lost the leader lease; stopped reconciling"),
      });
    } else {
      await runEngine(signal);
    }
  } finally {
    clearTimeout(reloadTimer);
    watcher?.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    logger.info({}, "stopped");
  }
}

/** `run --once`: one full pass; the keys that failed, conflicted or waited are returned. */
export async function runOnce(options: Omit<RunOptions, "serverAddress" | "onServerListening">): Promise<KeyStatus[]> {
  const di = await createPatcherContainer({ config: options.resolved.loaded, kubeConfig: options.kubeConfig, logger: options.logger });
  const engine = di.resolve(Tokens.Engine);
  return engine.runOnce(options.signal);
}
