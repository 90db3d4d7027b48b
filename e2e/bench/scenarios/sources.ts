// Scenario 6: the memory of the patcher as shipped with each kind of source. For each kind, a fresh patcher copies
// that source's credential over every bench namespace's copy (N updates), then idles; its peak and idle RSS are
// compared with the `secret` source's. The cloud sources' SDKs are loaded only when configured, so `secret` shows
// what users without a cloud source pay.
import { setTimeout as sleep } from "node:timers/promises";
import { nowMs } from "../kube.ts";
import { PatcherRunner } from "../patcher-runner.ts";
import { COPY_NAME, DEFAULT_SETTINGS, type Patcher } from "../patcher.ts";
import { round2 } from "../proc.ts";
import { SOURCE_KINDS, startRig, type SourceKind, type SourceRig } from "../sources/rigs.ts";
import { COPIES_PATH, secs, type BenchEnv } from "./common.ts";
import type { SourceMemoryResult } from "./results.ts";

/** Idle time after convergence over which the steady RSS is taken. */
const IDLE_MS = 30_000;

function hostsOf(data: string | undefined): string[] {
  if (!data) return [];
  try {
    const parsed = JSON.parse(Buffer.from(data, "base64").toString("utf8")) as { auths?: Record<string, unknown> };
    return Object.keys(parsed.auths ?? {});
  } catch {
    return [];
  }
}

/** Polls until every copy holds the rig's registry host; returns when. */
async function waitCopied(env: BenchEnv, patcher: Patcher, rig: SourceRig, copies: number): Promise<number> {
  const deadline = Date.now() + 120_000 + copies * 200;
  let lastLog = 0;
  while (Date.now() < deadline) {
    PatcherRunner.assertRunning(patcher);
    const list = await env.cluster.admin.listAll(COPIES_PATH);
    const done = list.filter(
      (s) => s.metadata.name === COPY_NAME && hostsOf(s.data?.[".dockerconfigjson"]).includes(rig.host),
    ).length;
    if (done >= copies) return nowMs();
    if (Date.now() - lastLog > 10_000) {
      env.log(`  ${rig.kind}: ${done}/${copies} copies hold ${rig.host}`);
      lastLog = Date.now();
    }
    await sleep(500);
  }
  throw new Error(`the ${rig.kind} source's credential did not reach every copy in time`);
}

async function measure(env: BenchEnv, kind: SourceKind, copies: number): Promise<SourceMemoryResult> {
  const rig = await startRig(kind, env.cluster.workDir, env.log);
  try {
    const from = nowMs();
    const patcher = await env.patcher.start(DEFAULT_SETTINGS, `source-${kind}`, { source: rig.source, env: rig.env });
    const converged = await waitCopied(env, patcher, rig, copies);
    await patcher.waitQueueEmpty(1000, 60_000);
    await sleep(IDLE_MS);
    const to = nowMs();
    const window = env.patcher.rssWindow(from, to, IDLE_MS - 5_000);
    const result: SourceMemoryResult = {
      kind,
      copies,
      convergedSeconds: secs(converged - from),
      peakRssMB: window?.peakRssMB,
      hwmMB: window?.hwmMB,
      peakAnonMB: window?.peakAnonMB,
      idleRssMB: window?.steadyRssMB,
    };
    env.log(
      `  ${kind}: ${copies} copies in ${result.convergedSeconds} s; peak RSS ${result.peakRssMB} MB (anon ${result.peakAnonMB}), idle ${result.idleRssMB} MB`,
    );
    return result;
  } finally {
    await env.patcher.stop();
    await rig.close();
  }
}

/** Runs after the other scenarios: it replaces the running patcher with one per source kind. */
export async function sourceMemory(env: BenchEnv, copies: number): Promise<SourceMemoryResult[]> {
  await env.patcher.stop();
  env.log(`sources: the patcher's memory with each source kind (${SOURCE_KINDS.join(", ")}), ${copies} copies`);
  const results: SourceMemoryResult[] = [];
  // The secret source last, so that it too replaces every copy's content rather than finding it in place.
  for (const kind of [...SOURCE_KINDS.filter((k) => k !== "secret"), "secret" as const]) {
    results.push(await measure(env, kind, copies));
  }
  const base = results.find((r) => r.kind === "secret");
  for (const r of results) {
    if (base?.peakRssMB !== undefined && r.peakRssMB !== undefined)
      r.peakOverSecretMB = round2(r.peakRssMB - base.peakRssMB);
    if (base?.idleRssMB !== undefined && r.idleRssMB !== undefined)
      r.idleOverSecretMB = round2(r.idleRssMB - base.idleRssMB);
  }
  return results;
}
