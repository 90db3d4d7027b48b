import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Cluster, ClusterProvider } from "./provider.ts";

/** Uses the cluster that `KUBECONFIG` points at. Starts and stops nothing. */
export const existingProvider: ClusterProvider = {
  name: "existing",
  async start(): Promise<Cluster> {
    const path = process.env.KUBECONFIG ?? join(homedir(), ".kube", "config");
    if (!existsSync(path)) throw new Error(`E2E_CLUSTER=existing: no kubeconfig at ${path}; set KUBECONFIG`);
    return Promise.resolve({ provider: "existing", kubeconfigPath: path, stop: () => Promise.resolve() });
  },
};
