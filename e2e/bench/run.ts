// Performance benchmark of the patcher against a local control plane (etcd + kube-apiserver +
// kube-controller-manager), counting the patcher's API requests from the API server's audit log
// under the patcher's own ServiceAccount identity. See BENCHMARKS.md.
//
//   pnpm bench -- --n 1000 --out bench-results/n1000.json
//   pnpm bench -- --check            (N=100, idle 0.5 min, latency 20; exit 1 unless write counts are exact)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs, type Args } from "./args.ts";
import { shippedArtifact, snapshotBundle, type Artifact } from "./artifact.ts";
import { gatingChecks } from "./checks.ts";
import { BenchCluster } from "./cluster.ts";
import { PatcherRunner } from "./patcher-runner.ts";
import { BENCH_NAMESPACE, LEASE_NAME, settingsLabel } from "./patcher.ts";
import { Timeline, goBuildRunning, loadInfo, machineInfo } from "./proc.ts";
import { envWords, renderMarkdown, type Meta, type Report } from "./report.ts";
import { ceiling } from "./scenarios/ceiling.ts";
import { coldStart } from "./scenarios/cold-start.ts";
import { names, type BenchEnv } from "./scenarios/common.ts";
import { idle } from "./scenarios/idle.ts";
import { latency } from "./scenarios/latency.ts";
import { createNamespaces } from "./scenarios/population.ts";
import type { Results, ThroughputRun } from "./scenarios/results.ts";
import { sourceMemory } from "./scenarios/sources.ts";
import { rotation } from "./scenarios/rotation.ts";
import { throughput } from "./scenarios/throughput.ts";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

type Log = (line: string) => void;

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

async function waitQuiet(log: Log): Promise<void> {
  while (goBuildRunning() > 0) {
    log(`waiting: ${goBuildRunning()} "go build" process(es) running`);
    await sleep(30_000);
  }
}

function initialMeta(args: Args, artifact: Artifact, started: number): Meta {
  return {
    command: `node e2e/bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    // Paths relative to the checkout, so recorded results read the same on every machine.
    args: {
      ...args,
      out: relative(REPO, args.out),
      workDir: relative(REPO, args.workDir),
      scenarios: [...args.scenarios],
      throughput: args.throughput.map(settingsLabel),
      settings: settingsLabel(args.settings),
    },
    patcher: relative(REPO, artifact.path),
    nodeFlags: artifact.nodeFlags,
    nodeFlagsWhy: artifact.nodeFlagsWhy,
    nodeEnv: artifact.nodeEnv,
    bundledNow: artifact.bundledNow,
    bundleBytes: artifact.bundleBytes,
    loadAtStart: loadInfo(),
    startedAt: new Date(started).toISOString(),
  };
}

function writeJson(args: Args, report: Report): void {
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
}

/** The scenarios in order; each result is stored as soon as it exists, so a failure keeps the earlier ones. */
async function runScenarios(env: BenchEnv, args: Args, results: Results): Promise<void> {
  env.log(`creating ${args.n} namespaces (${args.concurrency} in flight)`);
  const benchNamespaces = names("bench", args.n);
  results.setup = await createNamespaces(env, benchNamespaces, "cold");
  if (args.scenarios.has("ceiling")) results.ceiling = await ceiling(env, benchNamespaces);
  results.cold = await coldStart(env, args.settings, "cold");
  results.cold.ceilingRatio = ratio(results.cold.writesPerSecond, results.ceiling);
  if (args.scenarios.has("idle") && args.idleMinutes > 0) results.idle = await idle(env, args.idleMinutes);
  if (args.scenarios.has("latency") && args.latencyCount > 0)
    results.latency = await latency(env, args.latencyCount, args.latencyRate, "lat");
  if (args.scenarios.has("rotation")) results.rotation = await rotation(env);
  if (args.scenarios.has("throughput")) {
    const runs: ThroughputRun[] = [];
    results.throughput = runs;
    await throughput(env, args.throughput, runs);
    for (const run of runs) run.ceilingRatio = ratio(run.writesPerSecond, results.ceiling);
  }
}

function ratio(writesPerSecond: number, ceilingResult: Results["ceiling"]): number | undefined {
  if (!ceilingResult?.writesPerSecond) return undefined;
  return Math.round((writesPerSecond / ceilingResult.writesPerSecond) * 100) / 100;
}

/** A run that is stopped (SIGTERM/SIGINT/SIGHUP) still writes what it has and stops its processes. */
function stopOnSignals(
  args: Args,
  report: Report,
  cluster: BenchCluster,
  runner: PatcherRunner,
  started: number,
  log: Log,
): void {
  const onSignal = (signal: string): void => {
    log(`received ${signal}: writing partial results and stopping`);
    report.results.error = `interrupted by ${signal}`;
    report.meta.runtimeSeconds = Math.round((Date.now() - started) / 1000);
    try {
      writeJson(args, { ...report, checks: gatingChecks(report.results, args.check) });
    } catch {
      /* best effort */
    }
    void runner.stop(5000).finally(() => cluster.stop().finally(() => process.exit(130)));
  };
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.once(signal, () => onSignal(signal));
}

/** Runs every scenario against the cluster; returns 2 when one failed (the error is in the results). */
async function measure(
  args: Args,
  artifact: Artifact,
  cluster: BenchCluster,
  report: Report,
  started: number,
  log: Log,
): Promise<number> {
  const { meta, results } = report;
  const runner = new PatcherRunner(
    cluster,
    {
      main: artifact.runPath,
      leaderElection: args.leaderElection,
      nodeArgs: [...artifact.nodeFlags, ...args.patcherNodeArgs],
      nodeEnv: artifact.nodeEnv,
    },
    log,
  );
  const pids = (): Record<string, number> => ({
    ...cluster.pids,
    ...(runner.pid === undefined ? {} : { patcher: runner.pid }),
  });
  const timeline = new Timeline(pids, 2000);
  const env: BenchEnv = { cluster, patcher: runner, timeline, pids, concurrency: args.concurrency, log };
  stopOnSignals(args, report, cluster, runner, started, log);
  let exitCode = 0;
  try {
    meta.identity = await cluster.provision();
    log(`patcher identity: ${meta.identity}`);
    if (args.patcherNodeArgs.length) meta.experiment = `patcher run with node ${args.patcherNodeArgs.join(" ")}`;
    meta.leaderElection = args.leaderElection ? { namespace: BENCH_NAMESPACE, name: LEASE_NAME } : false;
    meta.auditLog = relative(REPO, cluster.auditLogPath);
    await runScenarios(env, args, results);
    meta.patcherPeakRssMB = runner.peakRssMB();
    results.atEnd = { peakRssMB: meta.patcherPeakRssMB, connections: await runner.connections() };
    // Replaces the patcher: after atEnd, which is about the one the other scenarios ran.
    if (args.scenarios.has("sources")) results.sources = await sourceMemory(env, args.n);
    await runner.stop();
  } catch (err) {
    exitCode = 2;
    results.error = describe(err);
    log(`FAILED: ${results.error}`);
    await runner.stop().catch(() => undefined);
  } finally {
    timeline.stop();
    meta.auditLinesRead = meta.identity ? cluster.audit.lines : undefined;
    meta.adminRequests = cluster.admin.requests;
    cluster.close();
    if (!args.keepCluster) await cluster.stop();
  }
  return exitCode;
}

/** Writes the JSON and Markdown reports; under --check, 1 when a gating check failed. */
function finish(args: Args, report: Report, exitCode: number, log: Log): number {
  writeJson(args, report);
  const md = renderMarkdown(report);
  writeFileSync(args.out.replace(/\.json$/, "") + ".md", md);
  process.stdout.write(md);
  log(`results: ${args.out} (runtime ${report.meta.runtimeSeconds} s)`);
  if (!args.check || exitCode !== 0) return exitCode;
  const failed = report.checks.filter((c) => c.gating && !c.pass);
  if (failed.length > 0) {
    log(`CHECK FAILED: ${failed.map((c) => c.name).join("; ")}`);
    return 1;
  }
  log("CHECK PASSED");
  return 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), REPO);
  const started = Date.now();
  const log: Log = (line) =>
    void process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s] ${line}\n`);
  if (args.waitQuiet) await waitQuiet(log);
  const artifact = shippedArtifact(log);
  log(
    `patcher: ${relative(REPO, artifact.path)} with ${envWords(artifact.nodeEnv)}node ${artifact.nodeFlags.join(" ") || "(no flags)"}`,
  );
  const report: Report = { meta: initialMeta(args, artifact, started), results: {}, checks: [] };
  mkdirSync(args.workDir, { recursive: true });
  log(`work dir ${args.workDir}`);
  const cluster = await BenchCluster.start({ workDir: args.workDir, detached: args.keepCluster, log });
  report.meta.machine = machineInfo(cluster.binDir);
  // After the start, which clears the work dir.
  artifact.runPath = snapshotBundle(args.workDir);
  const exitCode = await measure(args, artifact, cluster, report, started, log);
  report.meta.loadAtEnd = loadInfo();
  report.meta.runtimeSeconds = Math.round((Date.now() - started) / 1000);
  report.checks = gatingChecks(report.results, args.check);
  return finish(args, report, exitCode, log);
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`${describe(err)}\n`);
  return 2;
});
