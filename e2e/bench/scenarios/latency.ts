// Scenario 3: namespaces created one at a time at a fixed rate. Times each from its default
// ServiceAccount's creation to the patcher's copy and patch, from the benchmark's own watches and
// from the API server's audit timestamps.
import { setTimeout as sleep } from "node:timers/promises";
import { summarise } from "../audit-summary.ts";
import type { AuditLog, AuditRecord } from "../audit.ts";
import { nowMs, retryTransient, type KubeList, type KubeObject } from "../kube.ts";
import { PatcherRunner } from "../patcher-runner.ts";
import { COPY_NAME, MANAGED_BY_SELECTOR, type Patcher } from "../patcher.ts";
import { round2 } from "../proc.ts";
import { META_LIST, Measurement, names, references, secs, type BenchEnv } from "./common.ts";
import type { LatencyResult, LatencyStats, SlowNamespace } from "./results.ts";

/** When the benchmark saw each step of one namespace (wall clock, ms). */
interface NsTiming {
  requested: number;
  created?: number;
  saAdded?: number;
  saReferenced?: number;
  copyAdded?: number;
}

type Done = NsTiming & { saReferenced: number; copyAdded: number };

const isDone = (t: NsTiming): t is Done => t.saReferenced !== undefined && t.copyAdded !== undefined;

function stats(values: number[]): LatencyStats {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p: number): number =>
    round2(v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))] ?? Number.NaN);
  return {
    count: v.length,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: round2(v.at(-1) ?? Number.NaN),
    mean: round2(v.reduce((a, b) => a + b, 0) / (v.length || 1)),
  };
}

/** Watches default ServiceAccounts and copies from now on, noting when each timed namespace's arrive. */
async function watchTimings(env: BenchEnv, timings: Map<string, NsTiming>, signal: AbortSignal): Promise<void> {
  const admin = env.cluster.admin;
  const copies = encodeURIComponent(MANAGED_BY_SELECTOR);
  // From the current resourceVersion, so no event is missed.
  const saRv =
    (await admin.get<KubeList>("/api/v1/serviceaccounts?limit=1", { accept: META_LIST })).metadata?.resourceVersion ??
    "";
  const secretRv =
    (await admin.get<KubeList>(`/api/v1/secrets?limit=1&labelSelector=${copies}`, { accept: META_LIST })).metadata
      ?.resourceVersion ?? "";
  const onSa = (type: string, sa: KubeObject, at: number): void => {
    const t = timings.get(sa.metadata.namespace ?? "");
    if (!t || sa.metadata.name !== "default") return;
    if ((type === "ADDED" || type === "MODIFIED") && t.saAdded === undefined) t.saAdded = at;
    if (references(sa, COPY_NAME) && t.saReferenced === undefined) t.saReferenced = at;
  };
  const onSecret = (type: string, s: KubeObject, at: number): void => {
    const t = timings.get(s.metadata.namespace ?? "");
    if (!t || s.metadata.name !== COPY_NAME) return;
    if ((type === "ADDED" || type === "MODIFIED") && t.copyAdded === undefined) t.copyAdded = at;
  };
  const watches = [
    admin.watch(`/api/v1/serviceaccounts?watch=1&resourceVersion=${saRv}&timeoutSeconds=3600`, onSa, signal),
    admin.watch(
      `/api/v1/secrets?watch=1&resourceVersion=${secretRv}&timeoutSeconds=3600&labelSelector=${copies}`,
      onSecret,
      signal,
    ),
  ];
  for (const w of watches) w.catch((err: unknown) => env.log(`  admin watch failed: ${String(err)}`));
  await sleep(500);
}

/** Creates the namespaces at `ratePerSecond`, each creation in flight on its own; resolves when all exist. */
async function createAtRate(
  env: BenchEnv,
  list: string[],
  ratePerSecond: number,
  timings: Map<string, NsTiming>,
  from: number,
): Promise<void> {
  const interval = 1000 / ratePerSecond;
  const creations: Promise<void>[] = [];
  for (const [i, name] of list.entries()) {
    const wait = from + i * interval - nowMs();
    if (wait > 0) await sleep(wait);
    const t: NsTiming = { requested: nowMs() };
    timings.set(name, t);
    const body = { metadata: { name, labels: { "ipsp-bench": "latency" } } };
    creations.push(
      retryTransient(() => env.cluster.admin.ensure("/api/v1/namespaces", body)).then(() => {
        t.created = nowMs();
      }),
    );
  }
  await Promise.all(creations);
}

/** Waits (bounded) for every namespace to be done; returns those that are not. */
async function waitDone(patcher: Patcher, timings: Map<string, NsTiming>): Promise<string[]> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && ![...timings.values()].every(isDone)) {
    PatcherRunner.assertRunning(patcher);
    await sleep(250);
  }
  return [...timings.entries()].filter(([, t]) => !isDone(t)).map(([n]) => n);
}

/** Watch-based (client-observed) latencies. */
function watchLatencies(timings: Map<string, NsTiming>): LatencyResult["watch"] {
  const fromSa: number[] = [];
  const fromNs: number[] = [];
  const kcm: number[] = [];
  for (const t of timings.values()) {
    if (!isDone(t)) continue;
    const done = Math.max(t.saReferenced, t.copyAdded);
    if (t.saAdded !== undefined) fromSa.push(done - t.saAdded);
    if (t.created !== undefined) fromNs.push(done - t.created);
    if (t.saAdded !== undefined && t.created !== undefined) kcm.push(t.saAdded - t.created);
  }
  return {
    fromServiceAccountMs: stats(fromSa),
    fromNamespaceMs: stats(fromNs),
    namespaceToServiceAccountMs: stats(kcm),
  };
}

/**
 * Audit-based latencies (server timestamps, microseconds): kube-controller-manager's create of
 * the default SA → the patcher's SA patch and copy create completed. The slowest first.
 */
function auditLatencies(
  audit: AuditLog,
  records: AuditRecord[],
  list: string[],
): { audit: LatencyResult["audit"]; slowest: SlowNamespace[] } {
  const fromSa: number[] = [];
  const fromNs: number[] = [];
  const reaction: number[] = [];
  const kcm: number[] = [];
  const slowest: SlowNamespace[] = [];
  const succeeded = (name: string, verb: string, resource: string): AuditRecord | undefined =>
    records.find((r) => r.namespace === name && r.verb === verb && r.resource === resource && r.code < 300);
  for (const name of list) {
    const sa = audit.defaultSaCreated.get(name);
    const ns = audit.namespaceCreated.get(name);
    const patch = succeeded(name, "patch", "serviceaccounts");
    const copy = succeeded(name, "create", "secrets");
    if (!sa || !patch || !copy) continue;
    const done = Math.max(patch.completed, copy.completed);
    fromSa.push(done - sa.completed);
    reaction.push(patch.received - sa.completed);
    if (ns) {
      fromNs.push(done - ns.completed);
      kcm.push(sa.completed - ns.completed);
    }
    const requests = records.filter((r) => r.namespace === name);
    slowest.push({
      namespace: name,
      ms: round2(done - sa.completed),
      requests: requests.map(
        (r) =>
          `+${round2(r.received - sa.completed)} ms ${r.verb} ${r.resource} → ${r.code} (${round2(r.completed - r.received)} ms)`,
      ),
    });
  }
  slowest.sort((a, b) => b.ms - a.ms);
  return {
    audit: {
      fromServiceAccountMs: stats(fromSa),
      fromNamespaceMs: stats(fromNs),
      patcherReactionMs: stats(reaction),
      namespaceToServiceAccountMs: stats(kcm),
      samples: fromSa.length,
    },
    slowest,
  };
}

export async function latency(
  env: BenchEnv,
  count: number,
  ratePerSecond: number,
  prefix: string,
): Promise<LatencyResult> {
  const patcher = env.patcher.running("latency");
  env.log(`latency: ${count} namespaces at ${ratePerSecond}/s`);
  const list = names(prefix, count);
  const timings = new Map<string, NsTiming>();
  const controller = new AbortController();
  await watchTimings(env, timings, controller.signal);
  const window = Measurement.begin(env);
  const from = window.from;
  await createAtRate(env, list, ratePerSecond, timings, from);
  const createdAll = nowMs();
  const notDone = await waitDone(patcher, timings);
  await patcher.waitQueueEmpty(1000, 30_000);
  controller.abort();
  const { records, facts } = await window.end({ settleMs: 2000 });
  const fromAudit = auditLatencies(env.cluster.audit, records, list);
  const summary = summarise(
    records,
    env.cluster.requestContext,
    new Set(list),
    "1 create secrets + 1 patch serviceaccounts",
  );
  const result: LatencyResult = {
    count,
    ratePerSecond,
    creationSeconds: secs(createdAll - from),
    notConverged: notDone.length,
    notConvergedExamples: notDone.slice(0, 10),
    watch: watchLatencies(timings),
    audit: fromAudit.audit,
    slowest: fromAudit.slowest.slice(0, 5),
    summary,
    ...facts,
  };
  env.log(
    `  latency: SA created → patched p50 ${result.watch.fromServiceAccountMs.p50} ms, p99 ${result.watch.fromServiceAccountMs.p99} ms (watch); ` +
      `p99 ${result.audit.fromServiceAccountMs.p99} ms (audit); ${summary.writes} writes (expected ${2 * count})`,
  );
  return result;
}
