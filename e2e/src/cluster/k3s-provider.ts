import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cluster, ClusterProvider, StartOptions } from "./provider.ts";

const K3S_IMAGE = process.env.K3S_IMAGE ?? "rancher/k3s:v1.34.1-k3s1";

/**
 * Starts k3s through testcontainers' K3s module. It needs Docker that can pull (and run privileged)
 * the k3s image, so it does not run in this project's CI, which cannot pull images. Thin on purpose.
 */
export const k3sProvider: ClusterProvider = {
  name: "k3s",
  async start(options: StartOptions): Promise<Cluster> {
    const { K3sContainer } = await import("@testcontainers/k3s");
    options.onProgress?.(`starting ${K3S_IMAGE} with testcontainers`);
    const container = await new K3sContainer(K3S_IMAGE).start();
    const workDir = options.workDir ?? fileURLToPath(new URL("../../../.e2e/k3s", import.meta.url));
    mkdirSync(workDir, { recursive: true });
    const kubeconfigPath = join(workDir, "kubeconfig");
    writeFileSync(kubeconfigPath, container.getKubeConfig(), { mode: 0o600 });
    return {
      provider: "k3s",
      kubeconfigPath,
      stop: async () => {
        await container.stop();
      },
    };
  },
};
