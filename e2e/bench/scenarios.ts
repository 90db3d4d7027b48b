// The benchmark scenarios. Each counts the patcher's requests from the API server's audit log,
// filtered to the patcher's own identity, so no figure depends on what the patcher reports itself.
import { setTimeout as sleep } from "node:timers/promises";
import { classify, isWrite, perMinute, summarise, type AuditLog, type AuditRecord, type Context, type WindowSummary } from "./audit.ts";
import { nowMs, pool, withRetry, type Api, type KubeObject } from "./kube.ts";
import {
  ADDED_ANNOTATION,
  BENCH_NAMESPACE,
  COPY_NAME,
  MANAGED_BY_SELECTOR,
  Patcher,
  SOURCE,
  diffCounters,
  dockerConfig,
  settingsLabel,
  writeMetrics,
  type ControllerSettings,
} from "./patcher.ts";
import { RssSampler, cpuBetween, cpuSnapshot, loadInfo, round2, type CpuSnapshot, type LoadInfo, type Timeline } from "./proc.ts";

export interface Env {
  admin: Api;
  audit: AuditLog;
  ctx: Context;
  workDir: string;
  patcherKubeconfig: string;
  leaderElection: boolean;
  /** Control-plane process ids, for CPU accounting. */
  pids: Record<string, number>;
  log: (line: string) => void;
  /** Current source value (base64 of .dockerconfigjson). */
  sourceValue: string;
  patcher?: Patcher | undefined;
  sampler?: RssSampler | undefined;
  /** Namespace creation concurrency. */
  concurrency: number;
  /** Extra node arguments for the patcher process (experiments only). */
  patcherNodeArgs: string[];
  /** Machine and process CPU every 2 s, to tell slow stretches caused by other jobs. */
  timeline: Timeline;
}

const ms = (n: number): number => Math.round(n);
const secs = (n: number): number => Math.round(n / 10) / 100;

const META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

// ---------------------------------------------------------------------------------------------
// Cluster population
// ---------------------------------------------------------------------------------------------

export function names(prefix: string, count: number): string[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(width, "0")}`);
}

/** Creates namespaces with `concurrency` in flight and waits for each one's `default` ServiceAccount. */
export async function createNamespaces(env: Env, list: string[], label: string): Promise<Record<string, number>> {
  const t0 = nowMs();
  let done = 0;
  const progress = setInterval(() => env.log(`  namespaces: ${done}/${list.length} created`), 10_000);
  try {
    await pool(list, env.concurrency, async (name) => {
      await withRetry(() => env.admin.ensure("/api/v1/namespaces", { metadata: { name, labels: { "ipsp-bench": label } } }));
      done++;
    });
  } finally {
    clearInterval(progress);
  }
  const created = nowMs();
  env.log(`  ${list.length} namespaces created in ${secs(created - t0)} s; waiting for kube-controller-manager's default ServiceAccounts`);
  const want = new Set(list);
  const deadline = Date.now() + 120_000 + list.length * 200;
  let have = 0;
  let lastLog = 0;
  while (Date.now() < deadline) {
    const sas = await env.admin.listAll("/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault", META_LIST);
    have = sas.filter((sa: KubeObject) => want.has(sa.metadata.namespace ?? "")).length;
    if (have === list.length) break;
    if (Date.now() - lastLog > 10_000) {
      env.log(`  default ServiceAccounts: ${have}/${list.length}`);
      lastLog = Date.now();
    }
    await sleep(1000);
  }
  if (have !== list.length) throw new Error(`only ${have}/${list.length} namespaces got their default ServiceAccount`);
  const ready = nowMs();
  env.log(`  all ${list.length} default ServiceAccounts present after ${secs(ready - t0)} s`);
  return { count: list.length, createSeconds: secs(created - t0), defaultServiceAccountsSeconds: secs(ready - t0), concurrency: env.concurrency };
}

export async function activeNamespaces(admin: Api): Promise<Set<string>> {
  const list = await admin.listAll("/api/v1/namespaces", META_LIST);
  return new Set(list.filter((ns: KubeObject) => !ns.metadata?.deletionTimestamp).map((ns: KubeObject) => ns.metadata.name ?? ""));
}

/** Namespaces with a copy (metadata only), and namespaces whose default SA references it. */
async function convergence(admin: Api): Promise<{ copies: Set<string>; referenced: Set<string> }> {
  const [copies, sas] = await Promise.all([
    admin.listAll(`/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`, META_LIST),
    admin.listAll("/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault"),
  ]);
  return {
    copies: new Set(copies.filter((s: KubeObject) => s.metadata?.name === COPY_NAME).map((s: KubeObject) => s.metadata.namespace ?? "")),
    referenced: new Set(
      sas.filter((sa: KubeObject) => (sa.imagePullSecrets ?? []).some((r: { name?: string }) => r.name === COPY_NAME)).map((sa: KubeObject) => sa.metadata.namespace ?? ""),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// Patcher lifecycle
// ---------------------------------------------------------------------------------------------

async function startPatcher(env: Env, settings: ControllerSettings, label: string): Promise<Patcher> {
  const patcher = await Patcher.start({ dir: env.workDir, kubeconfigPath: env.patcherKubeconfig, settings, leaderElection: env.leaderElection, label, nodeArgs: env.patcherNodeArgs });
  env.patcher = patcher;
  env.sampler = new RssSampler(patcher.pid, 250);
  env.pids.patcher = patcher.pid;
  void patcher.exited.then((code) => {
    if (env.patcher === patcher) env.log(`!! the patcher exited (code ${code}); last problems:\n${patcher.errors.slice(-5).join("\n")}`);
  });
  return patcher;
}

export async function stopPatcher(env: Env): Promise<void> {
  const p = env.patcher;
  if (!p) return;
  env.patcher = undefined;
  env.sampler?.stop();
  await p.stop();
}

function assertRunning(p: Patcher): void {
  if (p.child.exitCode !== null || p.child.signalCode !== null) {
    throw new Error(`the patcher exited (${p.child.exitCode ?? p.child.signalCode}); log ${p.logPath}:\n${p.errors.slice(-10).join("\n")}`);
  }
}

/**
 * The run cut into 10 equal stretches of time: namespaces completed and writes per second in each,
 * next to the CPU the patcher, the API server and the whole machine used, and whether a
 * `go build` ran. Tells a patcher slowdown from a machine that another job was using.
 */
function segments(
  env: Env,
  from: number,
  to: number,
  progress: { t: number; copies: number; referenced: number }[],
  writes: AuditRecord[],
): Record<string, number>[] {
  const out: Record<string, number>[] = [];
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
    const mean = (f: (p: (typeof pts)[number]) => number | undefined): number => {
      const v = pts.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x));
      return round2(v.reduce((x, y) => x + y, 0) / (v.length || 1));
    };
    out.push({
      fromSeconds: secs(a - from),
      toSeconds: secs(b - from),
      namespacesPerSecond: round2((doneAt(b) - doneAt(a)) / (step / 1000)),
      writesPerSecond: round2(writes.filter((w) => w.received >= a && w.received < b).length / (step / 1000)),
      patcherCores: mean((p) => p.cores.patcher),
      apiserverCores: mean((p) => p.cores["kube-apiserver"]),
      etcdCores: mean((p) => p.cores.etcd),
      benchCores: mean((p) => p.cores.bench),
      machineBusyCores: mean((p) => p.machine),
      goBuilds: Math.max(0, ...pts.map((p) => p.goBuilds)),
      patcherRssMB: rssAt(env, b) ?? 0,
    });
  }
  return out;
}

/** The patcher's VmRSS (MB) sampled closest to `t`. */
function rssAt(env: Env, t: number | undefined): number | undefined {
  if (t === undefined || !env.sampler) return undefined;
  let best: { t: number; rss: number } | undefined;
  for (const s of env.sampler.samples) if (!best || Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
  return best ? round2(best.rss / 1048576) : undefined;
}

interface Window {
  from: number;
  to: number;
  cpu0: CpuSnapshot;
  cpu1: CpuSnapshot;
  load0: LoadInfo;
  load1: LoadInfo;
}

function windowFacts(env: Env, w: Window, steadyMs = 10_000): Record<string, unknown> {
  const cpu = cpuBetween(w.cpu0, w.cpu1);
  return {
    rss: env.sampler?.window(w.from, w.to, steadyMs),
    cpuCores: cpu,
    otherClients: env.audit.othersBetween(w.from, w.to),
    loadBefore: w.load0,
    loadAfter: w.load1,
  };
}

// ---------------------------------------------------------------------------------------------
// Scenario 1 (and 5): cold start
// ---------------------------------------------------------------------------------------------

export interface ColdResult {
  label: string;
  settings: string;
  targets: number;
  expectedWrites: number;
  convergedSeconds: number;
  timeline: Record<string, number | undefined>;
  writesPerSecond: number;
  summary: WindowSummary;
  patcherReportedWrites: Record<string, number>;
  contentVerified: boolean;
  polls: { count: number; meanMs: number; maxMs: number };
  writeLatencyMs: { p50: number; p99: number; max: number };
  metricsAtEnd: Record<string, number>;
  [k: string]: unknown;
}

export async function coldStart(env: Env, settings: ControllerSettings, label: string): Promise<ColdResult> {
  const targets = await activeNamespaces(env.admin);
  env.log(`cold start [${label}, ${settingsLabel(settings)}]: ${targets.size} namespaces`);
  env.audit.sync();
  const load0 = loadInfo();
  const cpu0 = cpuSnapshot(env.pids);
  const patcher = await startPatcher(env, settings, label);
  cpu0.processes.patcher = 0;
  const from = patcher.startedAt;
  const deadline = Date.now() + 300_000 + targets.size * 200;
  let convergedAt: number | undefined;
  const pollDurations: number[] = [];
  const progress: { t: number; copies: number; referenced: number }[] = [];
  let lastLog = 0;
  while (Date.now() < deadline) {
    assertRunning(patcher);
    const t = nowMs();
    const { copies, referenced } = await convergence(env.admin);
    const now = nowMs();
    pollDurations.push(now - t);
    let c = 0;
    let r = 0;
    for (const ns of targets) {
      if (copies.has(ns)) c++;
      if (referenced.has(ns)) r++;
    }
    progress.push({ t: now, copies: c, referenced: r });
    if (c === targets.size && r === targets.size) {
      convergedAt = now;
      break;
    }
    if (Date.now() - lastLog > 10_000) {
      env.log(`  ${secs(now - from)} s: ${c}/${targets.size} copies, ${r}/${targets.size} ServiceAccounts referencing`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  if (convergedAt === undefined) throw new Error(`cold start [${label}] did not converge in time; patcher log ${patcher.logPath}`);
  env.log(`  converged after ${secs(convergedAt - from)} s; waiting for the queue to drain`);
  await patcher.waitQueueEmpty(1000, 30_000);
  const metricsAtEnd = (await patcher.tryMetrics()) ?? {};
  // Every copy must carry the source's bytes.
  const full = await env.admin.listAll(`/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`);
  const contentVerified = full.filter((s: KubeObject) => s.metadata?.name === COPY_NAME && targets.has(s.metadata.namespace ?? "")).every((s: KubeObject) => s.data?.[".dockerconfigjson"] === env.sourceValue);
  await env.audit.settle(1500);
  const to = nowMs();
  const cpu1 = cpuSnapshot(env.pids);
  const load1 = loadInfo();
  const records = env.audit.patcherBetween(from, to);
  const summary = summarise(records, env.ctx, targets, "1 create secrets + 1 patch serviceaccounts");
  const writes = records.filter((r) => isWrite(r) && r.resource !== "leases" && r.resource !== "events");
  const firstWrite = writes.length ? Math.min(...writes.map((r) => r.received)) : undefined;
  const lastWrite = writes.length ? Math.max(...writes.map((r) => r.completed)) : undefined;
  const firstLease = records.find((r) => r.resource === "leases" && isWrite(r) && r.code < 300);
  const firstList = records.find((r) => r.verb === "list" && r.resource === "namespaces");
  const rel = (t: number | undefined): number | undefined => (t === undefined ? undefined : secs(t - from));
  const mark = (msg: string): number | undefined => rel(patcher.marks.get(msg)?.at);
  const durations = writes.map((r) => r.completed - r.received).sort((a, b) => a - b);
  const pct = (p: number): number => round2(durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)] ?? 0);
  const result: ColdResult = {
    label,
    settings: settingsLabel(settings),
    targets: targets.size,
    expectedWrites: 2 * targets.size,
    convergedSeconds: secs(convergedAt - from),
    timeline: {
      startingLog: mark("starting"),
      leaseAcquired: rel(firstLease?.completed),
      firstList: rel(firstList?.received),
      cachesSyncedLog: mark("caches synced"),
      firstWrite: rel(firstWrite),
      lastWriteCompleted: rel(lastWrite),
      initialSyncCompleteLog: [...patcher.marks.values()].find((m) => m.msg.startsWith("initial sync complete")) ? rel([...patcher.marks.values()].find((m) => m.msg.startsWith("initial sync complete"))?.at) : undefined,
      convergedByPoll: secs(convergedAt - from),
    },
    writesPerSecond: firstWrite !== undefined && lastWrite !== undefined && lastWrite > firstWrite ? round2(writes.length / ((lastWrite - firstWrite) / 1000)) : 0,
    rssAtMB: {
      modulesLoaded: rssAt(env, patcher.marks.get("starting")?.at),
      cachesSynced: rssAt(env, patcher.marks.get("caches synced")?.at),
      converged: rssAt(env, convergedAt),
    },
    summary,
    patcherReportedWrites: writeMetrics(metricsAtEnd),
    contentVerified,
    polls: { count: pollDurations.length, meanMs: ms(pollDurations.reduce((a, b) => a + b, 0) / pollDurations.length), maxMs: ms(Math.max(...pollDurations)) },
    writeLatencyMs: { p50: pct(50), p99: pct(99), max: round2(durations.at(-1) ?? 0) },
    metricsAtEnd: pickMetrics(metricsAtEnd),
    segments: segments(env, from, convergedAt, progress, writes),
    ...windowFacts(env, { from, to, cpu0, cpu1, load0, load1 }),
  };
  env.log(
    `  cold [${label}]: ${result.convergedSeconds} s, ${summary.writes} writes (expected ${result.expectedWrites}), ` +
      `${summary.perNamespaceReads} per-namespace reads, ${result.writesPerSecond} writes/s, RSS peak ${(result.rss as { peakRssMB: number } | undefined)?.peakRssMB} MB`,
  );
  return result;
}

/** The patcher's own counters of work done: writes, relists, watch restarts, reconciles. */
function pickCounters(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (/^imagepullsecret_patcher_(writes|relists|watch_restarts|reconciles)_total/.test(k)) out[k] = v;
  }
  return out;
}

function pickMetrics(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (
      k.startsWith("imagepullsecret_patcher_writes_total") ||
      k.startsWith("imagepullsecret_patcher_relists_total") ||
      k.startsWith("imagepullsecret_patcher_watch_restarts_total") ||
      k.startsWith("imagepullsecret_patcher_reconciles_total") ||
      k === "imagepullsecret_patcher_queue_depth" ||
      k === "imagepullsecret_patcher_process_resident_memory_bytes" ||
      k === "imagepullsecret_patcher_nodejs_heap_size_used_bytes" ||
      k === "imagepullsecret_patcher_nodejs_heap_size_total_bytes" ||
      k === "imagepullsecret_patcher_nodejs_eventloop_lag_p99_seconds" ||
      k === "imagepullsecret_patcher_nodejs_eventloop_lag_max_seconds" ||
      k === "imagepullsecret_patcher_process_cpu_seconds_total"
    ) {
      out[k] = v;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: idle
// ---------------------------------------------------------------------------------------------

/** Idle traffic the targets allow: the leader Lease and watch re-establishment. */
function acceptableIdle(r: AuditRecord): boolean {
  return r.resource === "leases" || r.verb === "watch";
}

export async function idle(env: Env, minutes: number): Promise<Record<string, unknown>> {
  const patcher = env.patcher;
  if (!patcher) throw new Error("idle needs a running patcher");
  env.log(`idle: ${minutes} min with no change`);
  const load0 = loadInfo();
  const cpu0 = cpuSnapshot(env.pids);
  const m0 = (await patcher.tryMetrics()) ?? {};
  const from = nowMs();
  const end = from + minutes * 60_000;
  while (nowMs() < end) {
    assertRunning(patcher);
    await sleep(Math.min(30_000, end - nowMs()));
    if (nowMs() < end) env.log(`  idle ${secs(nowMs() - from)} s / ${minutes * 60} s`);
  }
  const to = nowMs();
  const m1 = (await patcher.tryMetrics()) ?? {};
  const cpu1 = cpuSnapshot(env.pids);
  const load1 = loadInfo();
  await env.audit.settle(1500);
  const records = env.audit.patcherBetween(from, to);
  const unexpected = records.filter((r) => !acceptableIdle(r));
  const byVerb: Record<string, number> = {};
  for (const r of records) byVerb[r.verb] = (byVerb[r.verb] ?? 0) + 1;
  const nonLeaseWrites = records.filter((r) => isWrite(r) && r.resource !== "leases");
  const result = {
    minutes,
    requests: records.length,
    requestsPerMinute: round2(records.length / minutes),
    byVerb,
    byKind: summarise(records, env.ctx, new Set(), undefined).byKind,
    perMinute: perMinute(records, env.ctx, from, minutes),
    unexpectedRequests: unexpected.length,
    unexpectedExamples: unexpected.slice(0, 20).map((r) => `${new Date(r.received).toISOString()} ${classify(r, env.ctx)} ${r.uri} → ${r.code}`),
    nonLeaseWrites: nonLeaseWrites.length,
    patcherMetricsDelta: diffCounters(pickCounters(m0), pickCounters(m1)),
    ...windowFacts(env, { from, to, cpu0, cpu1, load0, load1 }, 60_000),
  };
  env.log(`  idle: ${result.requests} requests (${result.requestsPerMinute}/min), ${unexpected.length} outside leases and watches, ${nonLeaseWrites.length} writes`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Scenario 3: new-namespace latency
// ---------------------------------------------------------------------------------------------

function stats(values: number[]): { count: number; p50: number; p95: number; p99: number; max: number; mean: number } {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p: number): number => round2(v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] ?? Number.NaN);
  return { count: v.length, p50: at(50), p95: at(95), p99: at(99), max: round2(v.at(-1) ?? Number.NaN), mean: round2(v.reduce((a, b) => a + b, 0) / (v.length || 1)) };
}

interface NsTiming {
  requested: number;
  created?: number;
  saAdded?: number;
  saReferenced?: number;
  copyAdded?: number;
}

export async function latency(env: Env, count: number, ratePerSecond: number, prefix: string): Promise<Record<string, unknown>> {
  const patcher = env.patcher;
  if (!patcher) throw new Error("latency needs a running patcher");
  env.log(`latency: ${count} namespaces at ${ratePerSecond}/s`);
  const list = names(prefix, count);
  const timings = new Map<string, NsTiming>();
  const controller = new AbortController();
  // Watches first, from the current resourceVersion, so no event is missed.
  const saRv = (await env.admin.get("/api/v1/serviceaccounts?limit=1", { accept: META_LIST })).metadata?.resourceVersion ?? "";
  const secretRv = (await env.admin.get(`/api/v1/secrets?limit=1&labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`, { accept: META_LIST })).metadata?.resourceVersion ?? "";
  const onSa = (type: string, sa: KubeObject, at: number): void => {
    const t = timings.get(sa.metadata.namespace ?? "");
    if (!t || sa.metadata.name !== "default") return;
    if ((type === "ADDED" || type === "MODIFIED") && t.saAdded === undefined) t.saAdded = at;
    if ((sa.imagePullSecrets ?? []).some((r: { name?: string }) => r.name === COPY_NAME) && t.saReferenced === undefined) t.saReferenced = at;
  };
  const onSecret = (type: string, s: KubeObject, at: number): void => {
    const t = timings.get(s.metadata.namespace ?? "");
    if (!t || s.metadata.name !== COPY_NAME) return;
    if ((type === "ADDED" || type === "MODIFIED") && t.copyAdded === undefined) t.copyAdded = at;
  };
  const watches = [
    env.admin.watch(`/api/v1/serviceaccounts?watch=1&resourceVersion=${saRv}&timeoutSeconds=3600`, onSa, controller.signal),
    env.admin.watch(`/api/v1/secrets?watch=1&resourceVersion=${secretRv}&timeoutSeconds=3600&labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`, onSecret, controller.signal),
  ];
  for (const w of watches) w.catch((err: unknown) => env.log(`  admin watch failed: ${String(err)}`));
  await sleep(500);
  env.audit.sync();
  const load0 = loadInfo();
  const cpu0 = cpuSnapshot(env.pids);
  const from = nowMs();
  const interval = 1000 / ratePerSecond;
  const creations: Promise<void>[] = [];
  for (let i = 0; i < list.length; i++) {
    const name = list[i] as string;
    const due = from + i * interval;
    const wait = due - nowMs();
    if (wait > 0) await sleep(wait);
    const t: NsTiming = { requested: nowMs() };
    timings.set(name, t);
    creations.push(
      withRetry(() => env.admin.ensure("/api/v1/namespaces", { metadata: { name, labels: { "ipsp-bench": "latency" } } })).then(() => {
        t.created = nowMs();
      }),
    );
  }
  await Promise.all(creations);
  const createdAll = nowMs();
  const deadline = Date.now() + 120_000;
  const isDone = (t: NsTiming): boolean => t.saReferenced !== undefined && t.copyAdded !== undefined;
  while (Date.now() < deadline && ![...timings.values()].every(isDone)) {
    assertRunning(patcher);
    await sleep(250);
  }
  const notDone = [...timings.entries()].filter(([, t]) => !isDone(t)).map(([n]) => n);
  await patcher.waitQueueEmpty(1000, 30_000);
  controller.abort();
  await env.audit.settle(2000);
  const to = nowMs();
  const cpu1 = cpuSnapshot(env.pids);
  const load1 = loadInfo();

  // Watch-based (client-observed) latencies.
  const fromSa: number[] = [];
  const fromNs: number[] = [];
  const kcm: number[] = [];
  for (const t of timings.values()) {
    if (!isDone(t)) continue;
    const done = Math.max(t.saReferenced as number, t.copyAdded as number);
    if (t.saAdded !== undefined) fromSa.push(done - t.saAdded);
    if (t.created !== undefined) fromNs.push(done - t.created);
    if (t.saAdded !== undefined && t.created !== undefined) kcm.push(t.saAdded - t.created);
  }
  // Audit-based (server timestamps, microseconds): KCM's create of the default SA → the patcher's
  // SA patch and copy create completed.
  const records = env.audit.patcherBetween(from, to);
  const audit = { fromSa: [] as number[], fromNs: [] as number[], reaction: [] as number[], kcm: [] as number[] };
  const slowest: { namespace: string; ms: number; requests: string[] }[] = [];
  for (const name of list) {
    const sa = env.audit.defaultSaCreated.get(name);
    const ns = env.audit.namespaceCreated.get(name);
    const patch = records.find((r) => r.namespace === name && r.verb === "patch" && r.resource === "serviceaccounts" && r.code < 300);
    const copy = records.find((r) => r.namespace === name && r.verb === "create" && r.resource === "secrets" && r.code < 300);
    if (!sa || !patch || !copy) continue;
    const done = Math.max(patch.completed, copy.completed);
    audit.fromSa.push(done - sa.completed);
    audit.reaction.push(patch.received - sa.completed);
    if (ns) {
      audit.fromNs.push(done - ns.completed);
      audit.kcm.push(sa.completed - ns.completed);
    }
    slowest.push({
      namespace: name,
      ms: round2(done - sa.completed),
      requests: records.filter((r) => r.namespace === name).map((r) => `+${round2(r.received - sa.completed)} ms ${r.verb} ${r.resource} → ${r.code} (${round2(r.completed - r.received)} ms)`),
    });
  }
  slowest.sort((a, b) => b.ms - a.ms);
  const summary = summarise(records, env.ctx, new Set(list), "1 create secrets + 1 patch serviceaccounts");
  const result = {
    count,
    ratePerSecond,
    creationSeconds: secs(createdAll - from),
    notConverged: notDone.length,
    notConvergedExamples: notDone.slice(0, 10),
    watch: { fromServiceAccountMs: stats(fromSa), fromNamespaceMs: stats(fromNs), namespaceToServiceAccountMs: stats(kcm) },
    audit: {
      fromServiceAccountMs: stats(audit.fromSa),
      fromNamespaceMs: stats(audit.fromNs),
      patcherReactionMs: stats(audit.reaction),
      namespaceToServiceAccountMs: stats(audit.kcm),
      samples: audit.fromSa.length,
    },
    slowest: slowest.slice(0, 5),
    summary,
    ...windowFacts(env, { from, to, cpu0, cpu1, load0, load1 }),
  };
  env.log(
    `  latency: SA created → patched p50 ${result.watch.fromServiceAccountMs.p50} ms, p99 ${result.watch.fromServiceAccountMs.p99} ms (watch); ` +
      `p99 ${result.audit.fromServiceAccountMs.p99} ms (audit); ${summary.writes} writes (expected ${2 * count})`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------------
// Scenario 4: source rotation
// ---------------------------------------------------------------------------------------------

export async function rotation(env: Env): Promise<Record<string, unknown>> {
  const patcher = env.patcher;
  if (!patcher) throw new Error("rotation needs a running patcher");
  const before = await env.admin.listAll(`/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`, META_LIST);
  const copies = new Set<string>(before.filter((s: KubeObject) => s.metadata?.name === COPY_NAME).map((s: KubeObject) => s.metadata.namespace ?? ""));
  env.log(`rotation: updating ${SOURCE.namespace}/${SOURCE.name}; ${copies.size} copies to follow`);
  const next = dockerConfig(`rotated-${Date.now()}`);
  env.audit.sync();
  const m0 = (await patcher.tryMetrics()) ?? {};
  const load0 = loadInfo();
  const cpu0 = cpuSnapshot(env.pids);
  const from = nowMs();
  await env.admin.call("PATCH", `/api/v1/namespaces/${SOURCE.namespace}/secrets/${SOURCE.name}`, {
    body: { data: { ".dockerconfigjson": next } },
    contentType: "application/merge-patch+json",
  });
  env.sourceValue = next;
  const deadline = Date.now() + 120_000 + copies.size * 200;
  let convergedAt: number | undefined;
  let lastLog = 0;
  let polls = 0;
  while (Date.now() < deadline) {
    assertRunning(patcher);
    const list = await env.admin.listAll(`/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`);
    polls++;
    const now = nowMs();
    const updated = list.filter((s: KubeObject) => s.metadata?.name === COPY_NAME && copies.has(s.metadata.namespace ?? "") && s.data?.[".dockerconfigjson"] === next).length;
    if (updated === copies.size) {
      convergedAt = now;
      break;
    }
    if (Date.now() - lastLog > 10_000) {
      env.log(`  ${secs(now - from)} s: ${updated}/${copies.size} copies updated`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  if (convergedAt === undefined) throw new Error("rotation did not converge in time");
  await patcher.waitQueueEmpty(1000, 30_000);
  const m1 = (await patcher.tryMetrics()) ?? {};
  await env.audit.settle(1500);
  const to = nowMs();
  const cpu1 = cpuSnapshot(env.pids);
  const load1 = loadInfo();
  const records = env.audit.patcherBetween(from, to);
  const summary = summarise(records, env.ctx, copies, "1 update secrets");
  const secretUpdates = records.filter((r) => r.verb === "update" && r.resource === "secrets").length;
  const saWrites = records.filter((r) => isWrite(r) && r.resource === "serviceaccounts").length;
  const writes = records.filter((r) => r.verb === "update" && r.resource === "secrets");
  const firstWrite = writes.length ? Math.min(...writes.map((r) => r.received)) : undefined;
  const lastWrite = writes.length ? Math.max(...writes.map((r) => r.completed)) : undefined;
  const result = {
    copies: copies.size,
    convergedSeconds: secs(convergedAt - from),
    firstWriteSeconds: firstWrite === undefined ? undefined : secs(firstWrite - from),
    lastWriteSeconds: lastWrite === undefined ? undefined : secs(lastWrite - from),
    writesPerSecond: firstWrite !== undefined && lastWrite !== undefined && lastWrite > firstWrite ? round2(writes.length / ((lastWrite - firstWrite) / 1000)) : 0,
    secretUpdates,
    serviceAccountWrites: saWrites,
    polls,
    summary,
    patcherReportedWrites: diffCounters(writeMetrics(m0), writeMetrics(m1)),
    ...windowFacts(env, { from, to, cpu0, cpu1, load0, load1 }),
  };
  env.log(`  rotation: ${result.convergedSeconds} s, ${secretUpdates} Secret updates (expected ${copies.size}), ${saWrites} ServiceAccount writes`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Scenario 5: client throughput — reset to "no copies, no references", cold start again
// ---------------------------------------------------------------------------------------------

/** Stops the patcher and removes every copy and reference (as admin), so the next start is cold. */
export async function resetToCold(env: Env): Promise<Record<string, number>> {
  await stopPatcher(env);
  const t0 = nowMs();
  const copies = await env.admin.listAll(`/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`, META_LIST);
  await pool(copies, env.concurrency, async (s: KubeObject) => {
    await withRetry(() => env.admin.call("DELETE", `/api/v1/namespaces/${s.metadata.namespace}/secrets/${s.metadata.name}`, { allow: [404] }));
  });
  const sas = await env.admin.listAll("/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault");
  const referencing = sas.filter((sa: KubeObject) => (sa.imagePullSecrets ?? []).length > 0 || sa.metadata?.annotations?.[ADDED_ANNOTATION] !== undefined);
  await pool(referencing, env.concurrency, async (sa: KubeObject) => {
    await withRetry(() =>
      env.admin.call("PATCH", `/api/v1/namespaces/${sa.metadata.namespace}/serviceaccounts/default`, {
        body: { metadata: { annotations: { [ADDED_ANNOTATION]: null } }, imagePullSecrets: null },
        contentType: "application/merge-patch+json",
      }),
    );
  });
  const after = await convergence(env.admin);
  if (after.copies.size || after.referenced.size) throw new Error(`reset left ${after.copies.size} copies and ${after.referenced.size} references`);
  env.log(`  reset: deleted ${copies.length} copies, cleared ${referencing.length} ServiceAccounts in ${secs(nowMs() - t0)} s`);
  return { deletedCopies: copies.length, clearedServiceAccounts: referencing.length, seconds: secs(nowMs() - t0) };
}

export { BENCH_NAMESPACE };
