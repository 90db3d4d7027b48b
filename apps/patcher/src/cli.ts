import type { Command } from "commander";
import { Option } from "commander";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Engine, Logger } from "@imagepullsecret-patcher/core";
import { ConfigFileError } from "./config/load.js";
import { resolveConfig, DEFAULT_CONFIG_PATH, type ResolvedConfig } from "./resolve-config.js";
import { createPatcherContainer, Tokens } from "./container.js";
import { connect } from "./kube.js";
import { createLogger } from "./logging/logger.js";
import { PluginLoadError } from "./plugins/load.js";
import { renderPlan, renderStatus, type PlannedKey } from "./commands/report.js";
import { stuckPodsByMapping } from "./diagnostics/stuck-pods.js";
import { runController, runOnce, type OnceResult } from "./run.js";

/**
 * Exit codes: 0 ok, 1 something failed at run time, 2 bad config or usage; `run --once` cut short by
 * SIGTERM or SIGINT exits 128 + the signal number (143, 130), as a shell reports a killed command.
 */
export const EXIT = { ok: 0, failed: 1, config: 2, interrupted: { SIGTERM: 143, SIGINT: 130 } } as const;

interface ConnectionFlags {
  config?: string;
  kubeconfig?: string;
  context?: string;
  logLevel?: string;
}

function addConnectionFlags(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", `config file (default: ${DEFAULT_CONFIG_PATH}, else titansoft's CONFIG_* variables)`)
    .option("--kubeconfig <file>", "kubeconfig to use instead of in-cluster credentials or KUBECONFIG")
    .option("--context <name>", "kubeconfig context to use");
}

/** Signals that stop a running command gracefully; the abort reason is the signal's name. */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  for (const s of ["SIGTERM", "SIGINT"] as const) process.once(s, () => controller.abort(s));
  return controller.signal;
}

/** Logs what a `run --once` pass did and returns its exit code. */
export function reportOnce(result: OnceResult, logger: Logger): number {
  const { problems, interrupted } = result;
  const failed = problems.filter((p) => p.outcome === "error" || p.outcome === "waiting");
  for (const p of problems)
    logger.warn({ mapping: p.mapping, namespace: p.namespace, outcome: p.outcome, reason: p.reason }, "not converged");
  if (interrupted) {
    for (const u of interrupted.unfinished) {
      logger.error(
        { mapping: u.mapping, inScope: u.inScope, finished: u.finished, notFinished: u.inScope - u.finished },
        "not finished",
      );
    }
    logger.error(
      {
        signal: interrupted.reason,
        cachesSynced: interrupted.cachesSynced,
        notFinished: interrupted.unfinished.reduce((n, u) => n + u.inScope - u.finished, 0),
        failed: failed.map((p) => `${p.mapping}/${p.namespace}`),
      },
      interrupted.cachesSynced
        ? "single pass interrupted before it finished"
        : "single pass interrupted before the caches synced; nothing is known to be done",
    );
    const byName = EXIT.interrupted as Record<string, number>;
    return byName[interrupted.reason] ?? EXIT.failed;
  }
  logger.info({ failed: failed.length, conflicts: problems.length - failed.length }, "single pass finished");
  return failed.length > 0 ? EXIT.failed : EXIT.ok;
}

function configProblem(err: unknown, write: (s: string) => void): number | undefined {
  if (err instanceof ConfigFileError || err instanceof PluginLoadError) {
    write(`invalid config: ${err.message}\n`);
    return EXIT.config;
  }
  return undefined;
}

async function planKeys(
  resolved: ResolvedConfig,
  flags: ConnectionFlags,
  level: string,
): Promise<{ keys: PlannedKey[]; engine: Engine; names: Map<string, string>; kubeConfig: KubeConfig }> {
  const logger = createLogger(level, process.stderr);
  const kubeConfig = connect(flags);
  const di = await createPatcherContainer({ config: resolved.loaded, kubeConfig, logger });
  const engine = di.resolve(Tokens.Engine);
  const names = new Map(di.resolve(Tokens.Mappings).map((m) => [m.name, m.secretName]));
  const keys = await engine.planAll(new AbortController().signal);
  return { keys, engine, names, kubeConfig };
}

/** Builds the command line and runs it; resolves with the process exit code. */
export async function runCli(
  program: Command,
  argv: readonly string[],
  version: string,
  out = process.stdout,
  err = process.stderr,
): Promise<number> {
  let exitCode: number = EXIT.ok;
  const write = (s: string): void => void out.write(s);
  const writeErr = (s: string): void => void err.write(s);
  program
    .name("imagepullsecret-patcher")
    .description(
      "Copies a registry credential into namespaces and adds it to their ServiceAccounts' imagePullSecrets,\n" +
        "per mapping (team A's account to team A's namespaces, ...). Event-driven; never touches Secrets it does not own.",
    )
    .version(version, "-v, --version", "print the version")
    .configureOutput({ writeOut: write, writeErr })
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");

  addConnectionFlags(
    program
      .command("run", { isDefault: true })
      .description("run the controller (the default command); in a Pod it uses its ServiceAccount")
      .option("--once", "one full pass, then exit; non-zero exit if any namespace failed (for a CronJob)")
      .addOption(
        new Option("--log-level <level>", "log level (overrides log.level)").choices([
          "trace",
          "debug",
          "info",
          "warn",
          "error",
        ]),
      )
      .option("--server-address <host:port>", "address for /healthz, /readyz and /metrics (overrides server.address)"),
  ).action(async (flags: ConnectionFlags & { once?: boolean; serverAddress?: string }) => {
    try {
      const resolved = resolveConfig(flags.config);
      const logger = createLogger(flags.logLevel ?? resolved.loaded.config.log.level);
      const kubeConfig = connect(flags);
      const signal = stopSignal();
      if (flags.once || resolved.runOnce) {
        exitCode = reportOnce(await runOnce({ resolved, kubeConfig, logger, signal }), logger);
        return;
      }
      logger.info({ version, config: resolved.loaded.origin, mappings: resolved.loaded.mappings.length }, "starting");
      await runController({
        resolved,
        kubeConfig,
        logger,
        signal,
        serverAddress: flags.serverAddress,
        logLevelFixed: flags.logLevel !== undefined,
      });
    } catch (e) {
      exitCode =
        configProblem(e, writeErr) ?? (writeErr(`error: ${e instanceof Error ? e.message : String(e)}\n`), EXIT.failed);
    }
  });

  program
    .command("validate")
    .description("check a config file (and load its plugins) without touching a cluster")
    .requiredOption("-c, --config <file>", "config file to check")
    .action(async (flags: { config: string }) => {
      try {
        const resolved = resolveConfig(flags.config, {});
        const di = await createPatcherContainer({
          config: resolved.loaded,
          kubeConfig: undefined,
          logger: createLogger("silent", process.stderr),
        });
        const mappings = di.resolve(Tokens.Mappings);
        write(`${flags.config}: valid, ${mappings.length} mapping(s)\n`);
        for (const m of mappings)
          write(
            `  ${m.name}: ${m.source.description} -> ${m.selector.description}, Secret ${m.secretName}, ${m.strategy.description}\n`,
          );
      } catch (e) {
        exitCode =
          configProblem(e, writeErr) ??
          (writeErr(`error: ${e instanceof Error ? e.message : String(e)}\n`), EXIT.failed);
      }
    });

  addConnectionFlags(
    program
      .command("plan")
      .description(
        "dry run against the cluster: what would be created, updated, patched or removed, and what would be refused and why",
      )
      .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table")),
  ).action(async (flags: ConnectionFlags & { output: string }) => {
    try {
      const resolved = resolveConfig(flags.config);
      const { keys, names } = await planKeys(resolved, flags, "warn");
      if (flags.output === "json") {
        write(
          `${JSON.stringify(
            keys
              .filter((k) => k.plan.actions.length || k.plan.outcome === "conflict" || k.plan.outcome === "waiting")
              .map((k) => ({
                mapping: k.mapping,
                namespace: k.namespace,
                outcome: k.plan.outcome,
                reason: k.plan.reason,
                actions: k.plan.actions.map((a) => a.type),
              })),
            null,
            2,
          )}\n`,
        );
      } else write(`${renderPlan(keys, names)}\n`);
    } catch (e) {
      exitCode =
        configProblem(e, writeErr) ?? (writeErr(`error: ${e instanceof Error ? e.message : String(e)}\n`), EXIT.failed);
    }
  });

  addConnectionFlags(
    program
      .command("status")
      .description("per mapping: its source, and the namespaces in scope, in sync, to change, conflicting or failing"),
  ).action(async (flags: ConnectionFlags) => {
    try {
      const resolved = resolveConfig(flags.config);
      const { keys, engine, kubeConfig } = await planKeys(resolved, flags, "warn");
      write(`${renderStatus(engine.status(), keys, await stuckPodsByMapping(kubeConfig))}\n`);
    } catch (e) {
      exitCode =
        configProblem(e, writeErr) ?? (writeErr(`error: ${e instanceof Error ? e.message : String(e)}\n`), EXIT.failed);
    }
  });

  program
    .command("version")
    .description("print the version")
    .action(() => write(`imagepullsecret-patcher ${version}\n`));

  try {
    await program.parseAsync(argv);
  } catch (e) {
    const code = (e as { exitCode?: number; code?: string }).exitCode;
    if (code === undefined) throw e;
    return (e as { code?: string }).code === "commander.helpDisplayed" ||
      (e as { code?: string }).code === "commander.version"
      ? EXIT.ok
      : EXIT.config;
  }
  return exitCode;
}
