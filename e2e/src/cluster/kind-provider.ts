import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster, ClusterProvider, StartOptions } from "./provider.ts";

const KIND_CONFIG = fileURLToPath(new URL("../../../kind-config.yaml", import.meta.url));
const CLUSTER_NAME = "imagepullsecret-patcher-e2e";

export function kindAvailable(): boolean {
  try {
    execFileSync("kind", ["version"], { stdio: "ignore" });
    execFileSync("docker", ["info"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a kind cluster from `kind-config.yaml`. Needs the `kind` CLI, a running Docker engine and
 * network access to pull kindest/node, so it cannot run on machines without an image registry.
 */
export const kindProvider: ClusterProvider = {
  name: "kind",
  async start(options: StartOptions): Promise<Cluster> {
    if (!kindAvailable())
      throw new Error(
        "E2E_CLUSTER=kind needs the `kind` CLI and a working Docker engine (`docker info` failed or kind is missing)",
      );
    const workDir = options.workDir ?? fileURLToPath(new URL("../../../.e2e/kind", import.meta.url));
    mkdirSync(workDir, { recursive: true });
    const kubeconfigPath = join(workDir, "kubeconfig");
    options.onProgress?.(`creating kind cluster ${CLUSTER_NAME} (pulls kindest/node the first time)`);
    execFileSync(
      "kind",
      [
        "create",
        "cluster",
        "--name",
        CLUSTER_NAME,
        "--config",
        KIND_CONFIG,
        "--kubeconfig",
        kubeconfigPath,
        "--wait",
        "120s",
      ],
      {
        stdio: ["ignore", "ignore", "inherit"],
      },
    );
    const kubeconfig = execFileSync("kind", ["get", "kubeconfig", "--name", CLUSTER_NAME]).toString();
    writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
    return Promise.resolve({
      provider: "kind",
      kubeconfigPath,
      stop: () => {
        execFileSync("kind", ["delete", "cluster", "--name", CLUSTER_NAME], { stdio: "ignore" });
        return Promise.resolve();
      },
    });
  },
};
