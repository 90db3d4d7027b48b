import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { hostname } from "node:os";
import type { Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { LeaderElector, LeaseLock, type KeyStatus, type Logger, type Mapping } from "@imagepullsecret-patcher/core";
import { createPatcherContainer, Tokens } from "./container.js";
import { ConfigFileError, loadConfigFile, type LoadedConfig } from "./config/load.js";
import { durationMs } from "./config/schema.js";
import type { ResolvedConfig } from "./config/source.js";
import { EngineHost, ReloadRefused, type HostedEngine } from "./host/engine-host.js";
import { startHttpServer, type Probe } from "./http/server.js";
import { PatcherMetrics } from "./metrics/metrics.js";
import { runWebhook } from "./webhook/webhook.js";
import { pullDiagnostics, withDiagnostics } from "./diagnostics/wiring.js";

export interface RunOptions {
  resolved: ResolvedConfig;
  kubeConfig: KubeConfig;
  logger: Logger;
  signal: AbortSignal;
  /** Overrides server.address (tests use ":0"). */
  serverAddress?: string | undefined;
  /** Overrides webhook.address (tests use "127.0.0.1:0"). */
  webhookAddress?: string | undefined;
  /** Identity for leader election; default hostname. */
  identity?: string | undefined;
  onServerListening?: ((server: Server) => void) | undefined;
  /** The log level was set on the command line: a reload does not change it. */
  logLevelFixed?: boolean | undefined;
}

/** Describes an error for logs without credential bytes (config and plugin errors never carry any). */
function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What keeps a leader's engine from being ready: sources not ready, and watches refused. */
function engineProblems(engine: HostedEngine): { degraded: string[]; watchProblems: string[] } {
  // The engine's view of each source: it also reports a source that could not start.
  const degraded = engine
    .status()
    .filter((m) => m.sourceState !== "ready")
    .map((m) => `${m.name}: ${m.sourceError ?? m.sourceState}`);
  // A watch refused for lack of RBAC leaves the cache to relists: say which verb is missing.
  const watchProblems = (engine.problems?.() ?? []).filter((p) => !p.startsWith("mapping "));
  return { degraded, watchProblems };
}

/** Readiness of a replica: a follower when it knows it follows; a leader when its engine synced and every source is ready. */
export function readiness(args: {
  elector: Pick<LeaderElector, "state" | "isLeader"> | undefined;
  engine: HostedEngine | undefined;
  configError: string | undefined;
}): Probe {
  const { elector, engine, configError } = args;
  const leaderKnown = !elector || elector.state !== "unknown";
  // A follower runs no engine and no sources: it is ready when it knows it follows.
  const follower = !!elector && !elector.isLeader;
  const synced = follower || !!engine?.synced;
  const { degraded, watchProblems } =
    follower || !engine ? { degraded: [], watchProblems: [] } : engineProblems(engine);
  return {
    ok: leaderKnown && synced && degraded.length === 0 && watchProblems.length === 0,
    detail: {
      leader: elector ? elector.state : "disabled",
      cachesSynced: synced,
      degradedSources: degraded,
      configError,
      ...(watchProblems.length ? { watchProblems } : {}),
    },
  };
}

/** Sets the level of a pino logger (what the binary uses); other loggers are left as they are. */
function levelSetter(logger: Logger): ((level: string) => void) | undefined {
  const target = logger as Logger & { level?: unknown };
  return typeof target.level === "string" ? (level) => void (target.level = level) : undefined;
}

/**
 * `run`: serves health and metrics, (optionally) waits for the leader lease, runs the engine, and
 * applies config changes without a restart. Resolves on `signal` abort after a graceful stop.
 */
export async function runController(options: RunOptions): Promise<void> {
  const { resolved, kubeConfig, logger, signal } = options;
  const metrics = new PatcherMetrics();
  let configError: string | undefined;
  // Bound at start: a reload that changes them is refused (host/classify.ts).
  const { leaderElection, server } = resolved.loaded.config;
  const elector = leaderElection.enabled
    ? new LeaderElector({
        lock: new LeaseLock({
          kubeConfig,
          namespace: leaderElection.namespace ?? process.env.POD_NAMESPACE ?? "default",
          name: leaderElection.name,
        }),
        identity: options.identity ?? process.env.POD_NAME ?? hostname(),
        leaseDurationMs: durationMs(leaderElection.leaseDuration),
        renewDeadlineMs: durationMs(leaderElection.renewDeadline),
        retryPeriodMs: durationMs(leaderElection.retryPeriod),
        logger,
        observer: { onTransition: (leading: boolean) => metrics.leader.set(leading ? 1 : 0) },
      })
    : undefined;
  // Writes stop the moment the lease is lost: the elector clears isLeader before the term's work is told.
  const canWrite = elector ? (): boolean => elector.isLeader : undefined;
  const host = new EngineHost({
    config: resolved.loaded,
    buildMappings: async (config: LoadedConfig) =>
      (await createPatcherContainer({ config, kubeConfig, logger, metrics })).resolve(Tokens.Mappings),
    buildEngine: async (config: LoadedConfig, mappings: readonly Mapping[]) => {
      const di = await createPatcherContainer({ config, kubeConfig, logger, metrics, canWrite });
      di.register(Tokens.Mappings, { useValue: [...mappings] });
      return di.resolve(Tokens.Engine);
    },
    setLogLevel: options.logLevelFixed ? undefined : levelSetter(logger),
    onEngine: (engine, mappings) => metrics.attach(engine, mappings),
    logger,
  });
  const { diagnostics: diagnosticsConfig } = resolved.loaded.config;
  const diagnostics = pullDiagnostics({ config: diagnosticsConfig, host, kubeConfig, logger, metrics, canWrite });

  let http: Server | undefined;
  const address = options.serverAddress ?? server.address;
  if (address) {
    http = await startHttpServer(
      address,
      {
        health: () => {
          // A watch that stays silent past the watchdog window means the process is stuck.
          const silentMs = host.engine?.msSinceLastWatchEvent ?? 0;
          const limit = durationMs(host.config.config.controller.watchInactivityTimeout) * 2;
          return { ok: silentMs < limit, detail: { watchSilentSeconds: Math.round(silentMs / 1000), configError } };
        },
        ready: () => readiness({ elector, engine: host.engine, configError }),
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        diagnostics: () => diagnostics?.snapshot() ?? { enabled: false },
      },
      logger,
    );
    options.onServerListening?.(http);
  }

  const webhook = await startWebhook(options, host, metrics);

  // Hot reload: watch the directory (ConfigMap volumes swap a symlink, so the file's inode changes).
  let watcher: FSWatcher | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  const reload = async (): Promise<void> => {
    if (!resolved.file) return;
    try {
      const plan = await host.apply(loadConfigFile(resolved.file));
      if (plan.kind === "unchanged") {
        configError = undefined;
        return;
      }
      configError = undefined;
      await webhook?.reload();
      metrics.configReloads.inc({ result: "applied" });
      logger.info(
        {
          file: resolved.file,
          mappings: host.config.mappings.map((m) => (m as { name?: unknown }).name),
          ...(plan.restartEngine.length > 0 ? { engineRestartedFor: plan.restartEngine } : {}),
          ...(plan.logLevel ? { logLevel: plan.logLevel } : {}),
        },
        "config reloaded",
      );
    } catch (err) {
      configError = err instanceof ConfigFileError || err instanceof ReloadRefused ? err.message : describe(err);
      metrics.configReloads.inc({ result: "refused" });
      logger.error(
        { file: resolved.file, error: configError, ...(err instanceof ReloadRefused ? { field: err.field } : {}) },
        "new config refused; the previous one keeps running",
      );
    }
  };
  if (resolved.file) {
    const file = resolved.file;
    watcher = watch(dirname(file), (_event, name) => {
      if (name && name !== basename(file) && !name.startsWith("..")) return;
      clearTimeout(reloadTimer);
      reloadTimer = setTimeout(() => void reload(), 200);
    });
    watcher.on("error", (err) => logger.warn({ error: err.message }, "config watch failed; hot reload disabled"));
  }

  try {
    if (elector) {
      await elector.run(signal, {
        // Each term builds its engine, mappings and sources afresh from the latest applied config.
        onStartedLeading: (leaderSignal: AbortSignal) =>
          withDiagnostics(diagnostics, leaderSignal, () => host.runTerm(leaderSignal)),
        onStoppedLeading: () => logger.warn({}, "lost the leader lease; stopped reconciling"),
      });
    } else {
      await withDiagnostics(diagnostics, signal, () => host.runTerm(signal));
    }
  } finally {
    clearTimeout(reloadTimer);
    watcher?.close();
    await webhook?.stop();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    logger.info({}, "stopped");
  }
}

/**
 * The Pod admission webhook, when configured: served by every replica, leader or not, from mappings
 * built (never started) from the config applied last. Resolves once it listens; a webhook that cannot
 * start (no certificate, no RBAC for its Secret or configuration) stops the process with that reason.
 */
async function startWebhook(
  options: RunOptions,
  host: EngineHost,
  metrics: PatcherMetrics,
): Promise<{ reload(): Promise<void>; stop(): Promise<void> } | undefined> {
  const { kubeConfig, logger } = options;
  const config = host.config.config.webhook;
  if (!config.enabled) return undefined;
  const build = async (): Promise<Mapping[]> =>
    (await createPatcherContainer({ config: host.config, kubeConfig, logger, metrics })).resolve(Tokens.Mappings);
  let mappings = await build();
  const stop = new AbortController();
  let listening: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (listening = resolve));
  const running = runWebhook(
    {
      config,
      namespace: process.env.POD_NAMESPACE ?? "default",
      kubeConfig,
      logger,
      mappings: () => mappings,
      onReviewed: (mapping, result) => metrics.admissionReviews.inc({ mapping, result }),
      // On the leader the copy is made at once; a follower's engine is not running.
      onPatched: (namespace) => host.engine?.enqueueNamespace?.(namespace),
      address: options.webhookAddress,
    },
    stop.signal,
    () => listening(),
  );
  await Promise.race([started, running]);
  running.catch((err: unknown) => logger.error({ error: describe(err) }, "pod admission webhook stopped"));
  return {
    reload: async () => {
      mappings = await build();
    },
    stop: async () => {
      stop.abort();
      await running.catch(() => undefined);
    },
  };
}

/** Per mapping, how much of a `run --once` pass was done when it was cut short. */
export interface Unfinished {
  mapping: string;
  inScope: number;
  /** Namespaces whose key reached a final outcome (in sync, a conflict left alone, or skipped). */
  finished: number;
}

/** What `run --once` did. */
export interface OnceResult {
  /** Keys that failed, conflict or wait. */
  problems: KeyStatus[];
  /** Set when `signal` stopped the pass before every key was done. */
  interrupted?: { reason: string; cachesSynced: boolean; unfinished: Unfinished[] } | undefined;
}

/** `run --once`: one full pass; the keys that failed, conflicted or waited, and what a stop signal left undone. */
export async function runOnce(options: Omit<RunOptions, "serverAddress" | "onServerListening">): Promise<OnceResult> {
  const di = await createPatcherContainer({
    config: options.resolved.loaded,
    kubeConfig: options.kubeConfig,
    logger: options.logger,
  });
  const engine = di.resolve(Tokens.Engine);
  const problems = await engine.runOnce(options.signal);
  if (!options.signal.aborted) return { problems };
  const cachesSynced = engine.synced;
  const unfinished = engine
    .status()
    // `skipped` (namespaces left alone on purpose) is final too, where the engine reports it.
    .map((s) => ({
      mapping: s.name,
      inScope: s.inScope,
      finished: s.inSync + s.conflicting + ((s as { skipped?: number }).skipped ?? 0),
    }))
    .filter((u) => u.finished < u.inScope);
  // Stopped after the pass had finished: nothing was cut short.
  if (cachesSynced && unfinished.length === 0) return { problems };
  const reason: unknown = options.signal.reason;
  return {
    problems,
    interrupted: { reason: typeof reason === "string" ? reason : "stop signal", cachesSynced, unfinished },
  };
}
