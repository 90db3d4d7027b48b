// Performance benchmark of the patcher against a local control plane (etcd + kube-apiserver +
// kube-controller-manager), counting the patcher's API requests from the API server's audit log
// under the patcher's own ServiceAccount identity. See BENCHMARKS.md.
//
//   pnpm bench -- --n 1000 --out bench-results/n1000.json
//   pnpm bench -- --check            (N=100, idle 0.5 min, latency 20; exit 1 unless write counts are exact)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { localProvider, readState } from "../src/cluster/local/local-provider.ts";
import { AuditLog } from "./audit.ts";
import { Api, connectionFromKubeconfig } from "./kube.ts";
import { BENCH_NAMESPACE, DEFAULT_SETTINGS, LEASE_NAME, PATCHER_MAIN, SOURCE, createPatcherIdentity, createSource, parseSettings, settingsLabel, type ControllerSettings } from "./patcher.ts";
import { Timeline, goBuildRunning, loadInfo, machineInfo, round2 } from "./proc.ts";
import { coldStart, createNamespaces, idle, latency, names, resetToCold, rotation, stopPatcher, type ColdResult, type Env } from "./scenarios.ts";
import { renderMarkdown, type Check } from "./report.ts";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const ALL_SCENARIOS = ["cold", "idle", "latency", "rotation", "throughput"] as const;
type Scenario = (typeof ALL_SCENARIOS)[number];

interface Args {
  n: number;
  idleMinutes: number;
  latencyCount: number;
  latencyRate: number;
  scenarios: Set<Scenario>;
  out: string;
  check: boolean;
  throughput: ControllerSettings[];
  concurrency: number;
  leaderElection: boolean;
  waitQuiet: boolean;
  workDir: string;
  keepCluster: boolean;
  patcherNodeArgs: string[];
}

const HELP = `usage: pnpm bench -- [options]
  --n N                  namespaces created before the cold start (default 1000)
  --idle-minutes D       idle scenario length (default 5)
  --latency-count M      namespaces created one at a time for the latency scenario (default 200)
  --latency-rate R       namespaces per second in the latency scenario (default 5)
  --scenarios LIST       comma-separated: ${ALL_SCENARIOS.join(",")} (default: all; cold always runs,
                         the others start from its converged state)
  --throughput S[;S...]  controller settings compared in the throughput scenario, each a cold start
                         after a reset (default "${settingsLabel(DEFAULT_SETTINGS)};workers=16,clientQps=200,clientBurst=400")
  --concurrency C        namespace creations in flight (default 20)
  --no-leader-election   run the patcher without leader election (default: on, as the Helm chart)
  --wait-quiet           wait until no "go build" runs on the machine before starting
  --work-dir DIR         control-plane state, audit log, patcher logs (default .e2e/bench/<name>)
  --keep-cluster         leave the control plane running at the end
  --patcher-node-args A  extra node arguments for the patcher (experiments, e.g. "--import FILE");
                         results of such runs are not the patcher as shipped
  --out FILE             JSON results (default bench-results/<name>.json); a .md summary goes next to it
  --check                CI mode: N=100, idle 0.5 min, latency 20, no throughput; exits 1 unless the
                         write counts are exact (cold 2 per namespace, idle 0, latency 2 per namespace,
                         rotation 1 Secret update per copy and 0 ServiceAccount writes)`;

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") continue;
    if (a === "-h" || a === "--help") {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}\n${HELP}`);
    const [key, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
    const booleans = new Set(["check", "no-leader-election", "wait-quiet", "keep-cluster"]);
    if (booleans.has(key)) flags.set(key, true);
    else if (inline !== undefined) flags.set(key, inline);
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      flags.set(key, v);
    }
  }
  const known = new Set(["n", "idle-minutes", "latency-count", "latency-rate", "scenarios", "out", "check", "throughput", "concurrency", "no-leader-election", "wait-quiet", "work-dir", "keep-cluster", "patcher-node-args"]);
  for (const k of flags.keys()) if (!known.has(k)) throw new Error(`unknown option --${k}\n${HELP}`);
  const check = flags.get("check") === true;
  const num = (k: string, d: number): number => {
    const v = flags.get(k);
    if (v === undefined || v === true) return d;
    const n = Number(v);
    if (!(n >= 0)) throw new Error(`--${k} must be a number`);
    return n;
  };
  const scenarios = new Set<Scenario>(
    String(flags.get("scenarios") ?? (check ? "cold,idle,latency,rotation" : ALL_SCENARIOS.join(",")))
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        if (!(ALL_SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${ALL_SCENARIOS.join(", ")})`);
        return s as Scenario;
      }),
  );
  scenarios.add("cold");
  const n = num("n", check ? 100 : 1000);
  const name = check ? "check" : `n${n}`;
  const out = String(flags.get("out") ?? `bench-results/${name}.json`);
  return {
    n,
    idleMinutes: num("idle-minutes", check ? 0.5 : 5),
    latencyCount: num("latency-count", check ? 20 : 200),
    latencyRate: num("latency-rate", 5),
    scenarios,
    out: resolve(process.cwd(), out),
    check,
    throughput: String(flags.get("throughput") ?? `${settingsLabel(DEFAULT_SETTINGS)};workers=16,clientQps=200,clientBurst=400`)
      .split(";")
      .filter((s) => s.trim())
      .map(parseSettings),
    concurrency: num("concurrency", 20),
    leaderElection: flags.get("no-leader-election") !== true,
    waitQuiet: flags.get("wait-quiet") === true,
    workDir: resolve(String(flags.get("work-dir") ?? join(REPO, ".e2e", "bench", `${name}-${process.pid}`))),
    keepCluster: flags.get("keep-cluster") === true,
    patcherNodeArgs: String(flags.get("patcher-node-args") ?? "")
      .split(" ")
      .filter(Boolean)
      .map((a) => (a.startsWith("./") ? resolve(process.cwd(), a) : a)),
  };
}

function gatingChecks(results: Record<string, unknown>): Check[] {
  const checks: Check[] = [];
  const cold = results.cold as ColdResult | undefined;
  if (cold) {
    const s = cold.summary;
    checks.push({
      name: "cold start: exactly 1 Secret create + 1 ServiceAccount patch per namespace (2N writes)",
      gating: true,
      pass: s.writes === cold.expectedWrites && s.deviationCount === 0,
      detail: `${s.writes} writes for ${cold.targets} namespaces (expected ${cold.expectedWrites}); ${s.deviationCount} namespaces deviate`,
    });
    checks.push({
      name: "cold start: no per-namespace reads",
      gating: false,
      pass: s.perNamespaceReads === 0,
      detail: `${s.perNamespaceReads} per-namespace reads`,
    });
    checks.push({ name: "cold start: every copy carries the source's bytes", gating: true, pass: cold.contentVerified, detail: String(cold.contentVerified) });
  }
  const idle = results.idle as { nonLeaseWrites: number; unexpectedRequests: number; requestsPerMinute: number } | undefined;
  if (idle) {
    checks.push({ name: "idle: no writes besides the Lease", gating: true, pass: idle.nonLeaseWrites === 0, detail: `${idle.nonLeaseWrites} writes` });
    checks.push({
      name: "idle: only Lease renewals and watch re-establishment",
      gating: false,
      pass: idle.unexpectedRequests === 0,
      detail: `${idle.unexpectedRequests} other requests; ${idle.requestsPerMinute} requests/min in all`,
    });
  }
  const lat = results.latency as { count: number; notConverged: number; summary: { writes: number; deviationCount: number }; watch: { fromServiceAccountMs: { p99: number } }; audit: { fromServiceAccountMs: { p99: number } } } | undefined;
  if (lat) {
    checks.push({
      name: "new namespaces: exactly 1 Secret create + 1 ServiceAccount patch each",
      gating: true,
      pass: lat.notConverged === 0 && lat.summary.writes === 2 * lat.count && lat.summary.deviationCount === 0,
      detail: `${lat.summary.writes} writes for ${lat.count} namespaces; ${lat.summary.deviationCount} deviate; ${lat.notConverged} not converged`,
    });
    checks.push({
      name: "new namespaces: p99 ≤ 1 s from the default ServiceAccount's creation to its patch",
      gating: false,
      pass: lat.watch.fromServiceAccountMs.p99 <= 1000,
      detail: `p99 ${lat.watch.fromServiceAccountMs.p99} ms (watch), ${lat.audit.fromServiceAccountMs.p99} ms (audit)`,
    });
  }
  const rot = results.rotation as { copies: number; secretUpdates: number; serviceAccountWrites: number; summary: { writes: number; deviationCount: number } } | undefined;
  if (rot) {
    checks.push({
      name: "rotation: 1 Secret update per copy, 0 ServiceAccount writes",
      gating: true,
      pass: rot.secretUpdates === rot.copies && rot.serviceAccountWrites === 0 && rot.summary.writes === rot.copies && rot.summary.deviationCount === 0,
      detail: `${rot.secretUpdates} Secret updates for ${rot.copies} copies, ${rot.serviceAccountWrites} ServiceAccount writes, ${rot.summary.writes} writes in all`,
    });
  }
  const throughput = (results.throughput as ColdResult[] | undefined) ?? [];
  for (const t of throughput) {
    checks.push({
      name: `throughput [${t.settings}]: 2N writes`,
      gating: false,
      pass: t.summary.writes === t.expectedWrites && t.summary.deviationCount === 0,
      detail: `${t.summary.writes} writes (expected ${t.expectedWrites}) in ${t.convergedSeconds} s`,
    });
  }
  return checks;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string): void => void process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s] ${line}\n`);
  if (args.waitQuiet) {
    while (goBuildRunning() > 0) {
      log(`waiting: ${goBuildRunning()} "go build" process(es) running`);
      await sleep(30_000);
    }
  }
  const results: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {
    command: `node e2e/bench/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
    // Paths relative to the checkout, so recorded results read the same on every machine.
    args: { ...args, out: relative(REPO, args.out), workDir: relative(REPO, args.workDir), scenarios: [...args.scenarios], throughput: args.throughput.map(settingsLabel) },
    patcher: relative(REPO, PATCHER_MAIN),
    loadAtStart: loadInfo(),
    startedAt: new Date(started).toISOString(),
  };
  mkdirSync(args.workDir, { recursive: true });
  log(`work dir ${args.workDir}`);
  const cluster = await localProvider.start({ auditLog: true, workDir: args.workDir, detached: args.keepCluster, onProgress: (l) => log(`control plane: ${l}`) });
  const state = readState(args.workDir);
  const binDir = state?.processes.find((p) => p.name === "kube-apiserver")?.binary.replace(/\/kube-apiserver$/, "");
  meta.machine = machineInfo(binDir);
  const pids: Record<string, number> = { bench: process.pid };
  for (const p of state?.processes ?? []) pids[p.name] = p.pid;
  const timeline = new Timeline(() => pids, 2000);
  const admin = new Api(connectionFromKubeconfig(cluster.kubeconfigPath));
  let env: Env | undefined;
  let exitCode = 0;
  // A run that is stopped (SIGTERM/SIGINT) still writes what it has and stops its processes.
  const onSignal = (signal: string): void => {
    log(`received ${signal}: writing partial results and stopping`);
    results.error = `interrupted by ${signal}`;
    meta.runtimeSeconds = Math.round((Date.now() - started) / 1000);
    try {
      mkdirSync(dirname(args.out), { recursive: true });
      writeFileSync(args.out, `${JSON.stringify({ meta, results, checks: gatingChecks(results) }, null, 2)}\n`);
    } catch {
      /* best effort */
    }
    const stopping = env?.patcher ? env.patcher.stop(5000) : Promise.resolve(null);
    void stopping.finally(() => cluster.stop().finally(() => process.exit(130)));
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));
  process.once("SIGHUP", () => onSignal("SIGHUP"));
  try {
    if (!cluster.auditLogPath) throw new Error("the local provider gave no audit log");
    const patcherKubeconfig = join(args.workDir, "patcher.kubeconfig");
    const user = await createPatcherIdentity(admin, patcherKubeconfig);
    log(`patcher identity: ${user}`);
    const sourceValue = await createSource(admin, "v1");
    env = {
      admin,
      audit: new AuditLog(cluster.auditLogPath, user),
      ctx: { sourceNamespace: SOURCE.namespace, sourceName: SOURCE.name, leaseNamespace: BENCH_NAMESPACE },
      workDir: args.workDir,
      patcherKubeconfig,
      leaderElection: args.leaderElection,
      pids,
      log,
      sourceValue,
      concurrency: args.concurrency,
      patcherNodeArgs: args.patcherNodeArgs,
      timeline,
    };
    meta.identity = user;
    if (args.patcherNodeArgs.length) meta.experiment = `patcher run with node ${args.patcherNodeArgs.join(" ")}`;
    meta.leaderElection = args.leaderElection ? { namespace: BENCH_NAMESPACE, name: LEASE_NAME } : false;
    meta.auditLog = relative(REPO, cluster.auditLogPath);

    log(`creating ${args.n} namespaces (${args.concurrency} in flight)`);
    results.setup = await createNamespaces(env, names("bench", args.n), "cold");

    results.cold = await coldStart(env, DEFAULT_SETTINGS, "cold");
    if (args.scenarios.has("idle") && args.idleMinutes > 0) results.idle = await idle(env, args.idleMinutes);
    if (args.scenarios.has("latency") && args.latencyCount > 0) results.latency = await latency(env, args.latencyCount, args.latencyRate, "lat");
    if (args.scenarios.has("rotation")) results.rotation = await rotation(env);
    if (args.scenarios.has("throughput")) {
      const runs: unknown[] = [];
      results.throughput = runs;
      for (const [i, settings] of args.throughput.entries()) {
        const reset = await resetToCold(env);
        const r = await coldStart(env, settings, `throughput-${i + 1}`);
        runs.push({ ...r, reset });
      }
    }
    const hwm = env.sampler?.samples.at(-1)?.hwm;
    meta.patcherPeakRssMB = hwm === undefined ? undefined : round2(hwm / 1048576);
    await stopPatcher(env);
  } catch (err) {
    exitCode = 2;
    results.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`FAILED: ${String(results.error)}`);
    if (env) await stopPatcher(env).catch(() => undefined);
  } finally {
    timeline.stop();
    meta.auditLinesRead = env?.audit.lines;
    meta.adminRequests = admin.requests;
    admin.close();
    if (!args.keepCluster) await cluster.stop();
  }
  meta.loadAtEnd = loadInfo();
  meta.runtimeSeconds = Math.round((Date.now() - started) / 1000);
  const checks = gatingChecks(results);
  const report = { meta, results, checks };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report);
  writeFileSync(args.out.replace(/\.json$/, "") + ".md", md);
  process.stdout.write(md);
  log(`results: ${args.out} (runtime ${String(meta.runtimeSeconds)} s)`);
  const failed = checks.filter((c) => c.gating && !c.pass);
  if (exitCode === 0 && args.check && failed.length > 0) {
    log(`CHECK FAILED: ${failed.map((c) => c.name).join("; ")}`);
    exitCode = 1;
  } else if (args.check && exitCode === 0) log("CHECK PASSED");
  return exitCode;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 2;
});
