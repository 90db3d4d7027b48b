// The cluster's contents between scenarios: namespaces created before the cold start, and the
// reset that removes every copy and reference so the next start is cold again.
import { setTimeout as sleep } from "node:timers/promises";
import { pool } from "../../src/support/pool.ts";
import { nowMs, retryTransient } from "../kube.ts";
import { ADDED_ANNOTATION } from "../patcher.ts";
import { COPIES_PATH, DEFAULT_SERVICE_ACCOUNTS_PATH, META_LIST, convergence, secs, type BenchEnv } from "./common.ts";
import type { ResetResult, SetupResult } from "./results.ts";

/** Waits until every namespace of `list` has kube-controller-manager's `default` ServiceAccount. */
async function waitForDefaultServiceAccounts(env: BenchEnv, list: string[]): Promise<void> {
  const want = new Set(list);
  const deadline = Date.now() + 120_000 + list.length * 200;
  let have = 0;
  let lastLog = 0;
  while (Date.now() < deadline) {
    const sas = await env.cluster.admin.listAll(DEFAULT_SERVICE_ACCOUNTS_PATH, META_LIST);
    have = sas.filter((sa) => want.has(sa.metadata.namespace ?? "")).length;
    if (have === list.length) return;
    if (Date.now() - lastLog > 10_000) {
      env.log(`  default ServiceAccounts: ${have}/${list.length}`);
      lastLog = Date.now();
    }
    await sleep(1000);
  }
  throw new Error(`only ${have}/${list.length} namespaces got their default ServiceAccount`);
}

/** Creates namespaces with `concurrency` in flight and waits for each one's `default` ServiceAccount. */
export async function createNamespaces(env: BenchEnv, list: string[], label: string): Promise<SetupResult> {
  const t0 = nowMs();
  let done = 0;
  const progress = setInterval(() => env.log(`  namespaces: ${done}/${list.length} created`), 10_000);
  try {
    await pool(list, env.concurrency, async (name) => {
      await retryTransient(() =>
        env.cluster.admin.ensure("/api/v1/namespaces", { metadata: { name, labels: { "ipsp-bench": label } } }),
      );
      done++;
    });
  } finally {
    clearInterval(progress);
  }
  const created = nowMs();
  env.log(
    `  ${list.length} namespaces created in ${secs(created - t0)} s; waiting for kube-controller-manager's default ServiceAccounts`,
  );
  await waitForDefaultServiceAccounts(env, list);
  const ready = nowMs();
  env.log(`  all ${list.length} default ServiceAccounts present after ${secs(ready - t0)} s`);
  return {
    count: list.length,
    createSeconds: secs(created - t0),
    defaultServiceAccountsSeconds: secs(ready - t0),
    concurrency: env.concurrency,
  };
}

/** Stops the patcher and removes every copy and reference (as admin), so the next start is cold. */
export async function resetToCold(env: BenchEnv): Promise<ResetResult> {
  await env.patcher.stop();
  const admin = env.cluster.admin;
  const t0 = nowMs();
  const copies = await admin.listAll(COPIES_PATH, META_LIST);
  await pool(copies, env.concurrency, async (s) => {
    await retryTransient(() =>
      admin.call("DELETE", `/api/v1/namespaces/${s.metadata.namespace}/secrets/${s.metadata.name}`, { allow: [404] }),
    );
  });
  const sas = await admin.listAll(DEFAULT_SERVICE_ACCOUNTS_PATH);
  const referencing = sas.filter(
    (sa) => (sa.imagePullSecrets ?? []).length > 0 || sa.metadata.annotations?.[ADDED_ANNOTATION] !== undefined,
  );
  await pool(referencing, env.concurrency, async (sa) => {
    await retryTransient(() =>
      admin.call("PATCH", `/api/v1/namespaces/${sa.metadata.namespace}/serviceaccounts/default`, {
        body: { metadata: { annotations: { [ADDED_ANNOTATION]: null } }, imagePullSecrets: null },
        contentType: "application/merge-patch+json",
      }),
    );
  });
  const after = await convergence(env);
  if (after.copies.size || after.referenced.size)
    throw new Error(`reset left ${after.copies.size} copies and ${after.referenced.size} references`);
  env.log(
    `  reset: deleted ${copies.length} copies, cleared ${referencing.length} ServiceAccounts in ${secs(nowMs() - t0)} s`,
  );
  return { deletedCopies: copies.length, clearedServiceAccounts: referencing.length, seconds: secs(nowMs() - t0) };
}
