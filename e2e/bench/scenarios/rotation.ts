// Scenario 4: the source Secret changes. Every copy must be updated once, and no ServiceAccount
// written.
import { setTimeout as sleep } from "node:timers/promises";
import { isWrite, summarise } from "../audit-summary.ts";
import { nowMs } from "../kube.ts";
import { PatcherRunner } from "../patcher-runner.ts";
import { COPY_NAME, SOURCE, diffCounters, writeMetrics, type Patcher } from "../patcher.ts";
import { COPIES_PATH, META_LIST, Measurement, secs, type BenchEnv } from "./common.ts";
import { writeRate } from "./cold-start.ts";
import type { RotationResult } from "./results.ts";

/** Polls until every copy carries the source's current bytes; returns when, and how many polls it took. */
async function waitUpdated(
  env: BenchEnv,
  patcher: Patcher,
  copies: ReadonlySet<string>,
  from: number,
): Promise<{ at: number; polls: number }> {
  const deadline = Date.now() + 120_000 + copies.size * 200;
  let lastLog = 0;
  let polls = 0;
  while (Date.now() < deadline) {
    PatcherRunner.assertRunning(patcher);
    const list = await env.cluster.admin.listAll(COPIES_PATH);
    polls++;
    const now = nowMs();
    const current = env.cluster.sourceValue;
    const updated = list.filter(
      (s) =>
        s.metadata.name === COPY_NAME &&
        copies.has(s.metadata.namespace ?? "") &&
        s.data?.[".dockerconfigjson"] === current,
    ).length;
    if (updated === copies.size) return { at: now, polls };
    if (Date.now() - lastLog > 10_000) {
      env.log(`  ${secs(now - from)} s: ${updated}/${copies.size} copies updated`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  throw new Error("rotation did not converge in time");
}

export async function rotation(env: BenchEnv): Promise<RotationResult> {
  const patcher = env.patcher.running("rotation");
  const before = await env.cluster.admin.listAll(COPIES_PATH, META_LIST);
  const copies = new Set<string>(
    before.filter((s) => s.metadata.name === COPY_NAME).map((s) => s.metadata.namespace ?? ""),
  );
  env.log(`rotation: updating ${SOURCE.namespace}/${SOURCE.name}; ${copies.size} copies to follow`);
  const m0 = (await patcher.tryMetrics()) ?? {};
  const window = Measurement.begin(env);
  const from = window.from;
  await env.cluster.rotateSource(`rotated-${Date.now()}`);
  const updated = await waitUpdated(env, patcher, copies, from);
  await patcher.waitQueueEmpty(1000, 30_000);
  const m1 = (await patcher.tryMetrics()) ?? {};
  const { records, facts } = await window.end({ settleMs: 1500 });
  const summary = summarise(records, env.cluster.requestContext, copies, "1 update secrets");
  const writes = records.filter((r) => r.verb === "update" && r.resource === "secrets");
  const saWrites = records.filter((r) => isWrite(r) && r.resource === "serviceaccounts").length;
  const firstWrite = writes.length ? Math.min(...writes.map((r) => r.received)) : undefined;
  const lastWrite = writes.length ? Math.max(...writes.map((r) => r.completed)) : undefined;
  const result: RotationResult = {
    copies: copies.size,
    convergedSeconds: secs(updated.at - from),
    firstWriteSeconds: firstWrite === undefined ? undefined : secs(firstWrite - from),
    lastWriteSeconds: lastWrite === undefined ? undefined : secs(lastWrite - from),
    writesPerSecond: writeRate(writes),
    secretUpdates: writes.length,
    serviceAccountWrites: saWrites,
    polls: updated.polls,
    summary,
    patcherReportedWrites: diffCounters(writeMetrics(m0), writeMetrics(m1)),
    ...facts,
  };
  env.log(
    `  rotation: ${result.convergedSeconds} s, ${result.secretUpdates} Secret updates (expected ${copies.size}), ${saWrites} ServiceAccount writes`,
  );
  return result;
}
