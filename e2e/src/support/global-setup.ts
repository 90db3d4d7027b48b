import type { TestProject } from "vitest/node";
import { providerFromEnv, type Cluster } from "../cluster/index.ts";

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
  cluster = await provider.start({
    auditLog: true,
    onProgress: (line) => process.stderr.write(`[e2e:${provider.name}] ${line}\n`),
  });
  process.stderr.write(`[e2e:${provider.name}] cluster ready in ${Date.now() - started} ms: ${cluster.kubeconfigPath}\n`);
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

export async function teardown(): Promise<void> {
  await cluster?.stop();
  cluster = undefined;
}
