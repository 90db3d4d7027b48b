// Scenario 2: nothing changes for a while. The patcher may renew its Lease and re-establish its
// watches; anything else it sends is reported.
import { setTimeout as sleep } from "node:timers/promises";
import { classify, isWrite, perMinute, summarise } from "../audit-summary.ts";
import type { AuditRecord } from "../audit.ts";
import { nowMs } from "../kube.ts";
import { PatcherRunner } from "../patcher-runner.ts";
import { diffCounters, pickCounters } from "../patcher.ts";
import { round2 } from "../proc.ts";
import { Measurement, secs, type BenchEnv } from "./common.ts";
import type { IdleResult } from "./results.ts";

/** Idle traffic the targets allow: the leader Lease and watch re-establishment. */
function acceptableIdle(r: AuditRecord): boolean {
  return r.resource === "leases" || r.verb === "watch";
}

export async function idle(env: BenchEnv, minutes: number): Promise<IdleResult> {
  const patcher = env.patcher.running("idle");
  env.log(`idle: ${minutes} min with no change`);
  const window = Measurement.begin(env);
  const m0 = (await patcher.tryMetrics()) ?? {};
  const from = window.from;
  const end = from + minutes * 60_000;
  while (nowMs() < end) {
    PatcherRunner.assertRunning(patcher);
    await sleep(Math.min(30_000, end - nowMs()));
    if (nowMs() < end) env.log(`  idle ${secs(nowMs() - from)} s / ${minutes * 60} s`);
  }
  const to = nowMs();
  const m1 = (await patcher.tryMetrics()) ?? {};
  const { records, facts } = await window.end({ settleMs: 1500, steadyMs: 60_000, to });
  const ctx = env.cluster.requestContext;
  const unexpected = records.filter((r) => !acceptableIdle(r));
  const byVerb: Record<string, number> = {};
  for (const r of records) byVerb[r.verb] = (byVerb[r.verb] ?? 0) + 1;
  const nonLeaseWrites = records.filter((r) => isWrite(r) && r.resource !== "leases");
  const result: IdleResult = {
    minutes,
    requests: records.length,
    requestsPerMinute: round2(records.length / minutes),
    byVerb,
    byKind: summarise(records, ctx, new Set(), undefined).byKind,
    perMinute: perMinute(records, ctx, from, minutes),
    unexpectedRequests: unexpected.length,
    unexpectedExamples: unexpected
      .slice(0, 20)
      .map((r) => `${new Date(r.received).toISOString()} ${classify(r, ctx)} ${r.uri} → ${r.code}`),
    nonLeaseWrites: nonLeaseWrites.length,
    patcherMetricsDelta: diffCounters(pickCounters(m0), pickCounters(m1)),
    ...facts,
  };
  env.log(
    `  idle: ${result.requests} requests (${result.requestsPerMinute}/min), ${unexpected.length} outside leases and watches, ${nonLeaseWrites.length} writes`,
  );
  return result;
}
