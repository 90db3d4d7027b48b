// Scenario 1 (and each throughput run): the patcher starts with every namespace present and none
// converged. Counts its writes and reads from the audit log, and times its steps.
import { setTimeout as sleep } from "node:timers/promises";
import { isWrite, summarise } from "../audit-summary.ts";
import type { AuditRecord } from "../audit.ts";
import { nowMs } from "../kube.ts";
import { PatcherRunner } from "../patcher-runner.ts";
import {
  COPY_NAME,
  connectionsOpened,
  pickMetrics,
  settingsLabel,
  writeMetrics,
  type ControllerSettings,
  type Patcher,
} from "../patcher.ts";
import { round2 } from "../proc.ts";
import { COPIES_PATH, Measurement, activeNamespaces, convergence, ms, secs, type BenchEnv } from "./common.ts";
import type { ColdResult, ColdTimeline, Segment } from "./results.ts";

interface Progress {
  t: number;
  copies: number;
  referenced: number;
}

interface Converged {
  at: number;
  progress: Progress[];
  pollDurations: number[];
}

/** Polls until every target has its copy and a referencing default ServiceAccount. */
async function waitConverged(
  env: BenchEnv,
  patcher: Patcher,
  targets: ReadonlySet<string>,
  label: string,
): Promise<Converged> {
  const from = patcher.startedAt;
  const deadline = Date.now() + 300_000 + targets.size * 200;
  const pollDurations: number[] = [];
  const progress: Progress[] = [];
  let lastLog = 0;
  while (Date.now() < deadline) {
    PatcherRunner.assertRunning(patcher);
    const t = nowMs();
    const { copies, referenced } = await convergence(env);
    const now = nowMs();
    pollDurations.push(now - t);
    const c = [...targets].filter((ns) => copies.has(ns)).length;
    const r = [...targets].filter((ns) => referenced.has(ns)).length;
    progress.push({ t: now, copies: c, referenced: r });
    if (c === targets.size && r === targets.size) return { at: now, progress, pollDurations };
    if (Date.now() - lastLog > 10_000) {
      env.log(`  ${secs(now - from)} s: ${c}/${targets.size} copies, ${r}/${targets.size} ServiceAccounts referencing`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  throw new Error(`cold start [${label}] did not converge in time; patcher log ${patcher.logPath}`);
}

/** Mean of the finite values, 0 for none. */
function mean(values: (number | undefined)[]): number {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  return round2(v.reduce((x, y) => x + y, 0) / (v.length || 1));
}

/**
 * The run cut into 10 equal stretches of time: namespaces completed and writes per second in each,
 * next to the CPU the patcher, the API server and the whole machine used, and whether a
 * `go build` ran. Tells a patcher slowdown from a machine that another job was using.
 */
function segments(env: BenchEnv, from: number, to: number, progress: Progress[], writes: AuditRecord[]): Segment[] {
  const out: Segment[] = [];
  const step = (to - from) / 10;
  const doneAt = (t: number): number => {
    let best = 0;
    for (const p of progress) if (p.t <= t) best = Math.min(p.copies, p.referenced);
    return best;
  };
  for (let i = 0; i < 10; i++) {
    const a = from + i * step;
    const b = a + step;
    const pts = env.timeline.between(a, b);
    out.push({
      fromSeconds: secs(a - from),
      toSeconds: secs(b - from),
      namespacesPerSecond: round2((doneAt(b) - doneAt(a)) / (step / 1000)),
      writesPerSecond: round2(writes.filter((w) => w.received >= a && w.received < b).length / (step / 1000)),
      patcherCores: mean(pts.map((p) => p.cores.patcher)),
      apiserverCores: mean(pts.map((p) => p.cores["kube-apiserver"])),
      etcdCores: mean(pts.map((p) => p.cores.etcd)),
      benchCores: mean(pts.map((p) => p.cores.bench)),
      machineBusyCores: mean(pts.map((p) => p.machine)),
      goBuilds: Math.max(0, ...pts.map((p) => p.goBuilds)),
      patcherRssMB: env.patcher.rssAt(b) ?? 0,
    });
  }
  return out;
}

/** Seconds from the spawn to each step, from the audit log and the patcher's own log lines. */
function coldTimeline(
  patcher: Patcher,
  records: AuditRecord[],
  writes: AuditRecord[],
  convergedAt: number,
): ColdTimeline {
  const from = patcher.startedAt;
  const rel = (t: number | undefined): number | undefined => (t === undefined ? undefined : secs(t - from));
  const mark = (msg: string): number | undefined => rel(patcher.marks.get(msg)?.at);
  const firstLease = records.find((r) => r.resource === "leases" && isWrite(r) && r.code < 300);
  const firstList = records.find((r) => r.verb === "list" && r.resource === "namespaces");
  const initialSync = [...patcher.marks.values()].find((m) => m.msg.startsWith("initial sync complete"));
  return {
    startingLog: mark("starting"),
    leaseAcquired: rel(firstLease?.completed),
    firstList: rel(firstList?.received),
    cachesSyncedLog: mark("caches synced"),
    firstWrite: rel(writes.length ? Math.min(...writes.map((r) => r.received)) : undefined),
    lastWriteCompleted: rel(writes.length ? Math.max(...writes.map((r) => r.completed)) : undefined),
    initialSyncCompleteLog: rel(initialSync?.at),
    convergedByPoll: secs(convergedAt - from),
  };
}

/** "create secrets [per-namespace]" → "create". */
function byVerb(byKind: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [kind, n] of Object.entries(byKind)) {
    const verb = kind.split(" ")[0] ?? kind;
    out[verb] = (out[verb] ?? 0) + n;
  }
  return out;
}

/** Writes per second between the first write received and the last completed. */
export function writeRate(writes: AuditRecord[]): number {
  if (!writes.length) return 0;
  const first = Math.min(...writes.map((r) => r.received));
  const last = Math.max(...writes.map((r) => r.completed));
  return last > first ? round2(writes.length / ((last - first) / 1000)) : 0;
}

/** Percentiles of the write requests' durations on the server. */
function writeLatency(writes: AuditRecord[]): ColdResult["writeLatencyMs"] {
  const durations = writes.map((r) => r.completed - r.received).sort((a, b) => a - b);
  const pct = (p: number): number =>
    round2(durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)] ?? 0);
  return { p50: pct(50), p99: pct(99), max: round2(durations.at(-1) ?? 0) };
}

/** Every copy in the targets carries the source's bytes. */
async function copiesVerified(env: BenchEnv, targets: ReadonlySet<string>): Promise<boolean> {
  const full = await env.cluster.admin.listAll(COPIES_PATH);
  const ours = full.filter((s) => s.metadata.name === COPY_NAME && targets.has(s.metadata.namespace ?? ""));
  return ours.every((s) => s.data?.[".dockerconfigjson"] === env.cluster.sourceValue);
}

export async function coldStart(env: BenchEnv, settings: ControllerSettings, label: string): Promise<ColdResult> {
  const targets = await activeNamespaces(env);
  env.log(`cold start [${label}, ${settingsLabel(settings)}]: ${targets.size} namespaces`);
  const window = Measurement.begin(env);
  const patcher = await env.patcher.start(settings, label);
  window.startAtSpawn(patcher.startedAt);
  const converged = await waitConverged(env, patcher, targets, label);
  const from = patcher.startedAt;
  env.log(`  converged after ${secs(converged.at - from)} s; waiting for the queue to drain`);
  await patcher.waitQueueEmpty(1000, 30_000);
  const metricsAtEnd = (await patcher.tryMetrics()) ?? {};
  const contentVerified = await copiesVerified(env, targets);
  const { records, facts } = await window.end({ settleMs: 1500 });
  const summary = summarise(records, env.cluster.requestContext, targets, "1 create secrets + 1 patch serviceaccounts");
  const writes = records.filter((r) => isWrite(r) && r.resource !== "leases" && r.resource !== "events");
  const polls = converged.pollDurations;
  const result: ColdResult = {
    label,
    settings: settingsLabel(settings),
    targets: targets.size,
    expectedWrites: 2 * targets.size,
    convergedSeconds: secs(converged.at - from),
    timeline: coldTimeline(patcher, records, writes, converged.at),
    writesPerSecond: writeRate(writes),
    connectionsOpened: connectionsOpened(metricsAtEnd),
    rssAtMB: {
      modulesLoaded: env.patcher.rssAt(patcher.marks.get("starting")?.at),
      cachesSynced: env.patcher.rssAt(patcher.marks.get("caches synced")?.at),
      converged: env.patcher.rssAt(converged.at),
    },
    summary,
    byVerb: byVerb(summary.byKind),
    patcherReportedWrites: writeMetrics(metricsAtEnd),
    contentVerified,
    polls: {
      count: polls.length,
      meanMs: ms(polls.reduce((a, b) => a + b, 0) / polls.length),
      maxMs: ms(Math.max(...polls)),
    },
    writeLatencyMs: writeLatency(writes),
    metricsAtEnd: pickMetrics(metricsAtEnd),
    segments: segments(env, from, converged.at, converged.progress, writes),
    ...facts,
  };
  env.log(
    `  cold [${label}]: ${result.convergedSeconds} s, ${summary.writes} writes (expected ${result.expectedWrites}), ` +
      `${summary.perNamespaceReads} per-namespace reads, ${result.writesPerSecond} writes/s, RSS peak ${result.rss?.peakRssMB} MB`,
  );
  return result;
}
