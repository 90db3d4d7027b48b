import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { providerFromEnv, stopFromState, type Cluster } from "../cluster/index.ts";
import { isAlive } from "../cluster/local/processes.ts";

// Each test run gets its own directory, so two runs on one machine never stop each other's cluster.
const RUNS_DIR = fileURLToPath(new URL("../../../.e2e/runs", import.meta.url));

/** Stops clusters of earlier runs whose test runner is gone (killed before its teardown). */
async function reapDeadRuns(): Promise<void> {
  if (!existsSync(RUNS_DIR)) return;
  for (const entry of readdirSync(RUNS_DIR)) {
    // Directories are named <pid> or <pid>-<suffix> after the test runner that owns them.
    const pid = Number.parseInt(entry, 10);
    if (Number.isInteger(pid) && isAlive(pid)) continue;
    await stopFromState(join(RUNS_DIR, entry));
    rmSync(join(RUNS_DIR, entry), { recursive: true, force: true });
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfigPath: string;
    clusterProvider: string;
    auditLogPath: string;
  }
}

let cluster: Cluster | undefined;

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = providerFromEnv();
  const started = Date.now();
  await reapDeadRuns();
  cluster = await provider.start({
    workDir: join(RUNS_DIR, String(process.pid)),
    auditLog: true,
    onProgress: (line) => process.stderr.write(`[e2e:${provider.name}] ${line}\n`),
  });
  process.stderr.write(
    `[e2e:${provider.name}] cluster ready in ${Date.now() - started} ms: ${cluster.kubeconfigPath}\n`,
  );
  project.provide("kubeconfigPath", cluster.kubeconfigPath);
  project.provide("clusterProvider", cluster.provider);
  project.provide("auditLogPath", cluster.auditLogPath ?? "");
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void cluster?.stop().finally(() => process.exit(130));
    });
  }
  return teardown;
}

/**
 * Every credential the suites create contains TEST_PASSWORD_PREFIX. After the run, no Event in the
 * cluster and no control-plane log may contain it (each suite also checks its own patcher logs).
 */
async function assertNoCredentialLeaks(kubeconfigPath: string, logDir: string): Promise<void> {
  const k8s = await import("@kubernetes/client-node");
  const { TEST_PASSWORD_PREFIX } = await import("./fixtures.ts");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const events = await kc.makeApiClient(k8s.CoreV1Api).listEventForAllNamespaces();
  const leaks: string[] = [];
  const encoded = Buffer.from(TEST_PASSWORD_PREFIX).toString("base64").slice(0, 12);
  for (const e of events.items) {
    const text = JSON.stringify(e);
    if (text.includes(TEST_PASSWORD_PREFIX)) leaks.push(`Event ${e.metadata?.namespace}/${e.metadata?.name}`);
  }
  if (existsSync(logDir)) {
    for (const file of readdirSync(logDir)) {
      const text = readFileSync(join(logDir, file), "utf8");
      if (text.includes(TEST_PASSWORD_PREFIX) || text.includes(encoded)) leaks.push(`log ${file}`);
    }
  }
  process.stderr.write(
    `[e2e] credential leak check: ${events.items.length} Events and the control-plane logs scanned, ${leaks.length} leaks\n`,
  );
  if (leaks.length) throw new Error(`test credentials leaked into: ${leaks.join(", ")}`);
}

export async function teardown(): Promise<void> {
  const runDir = join(RUNS_DIR, String(process.pid));
  try {
    if (cluster?.provider === "local") await assertNoCredentialLeaks(cluster.kubeconfigPath, join(runDir, "logs"));
  } finally {
    await cluster?.stop();
  }
  cluster = undefined;
  rmSync(join(RUNS_DIR, String(process.pid)), { recursive: true, force: true });
}
