import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface ControlPlaneBinaries {
  dir: string;
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL("../../../control-plane/build-binaries.sh", import.meta.url));

/**
 * Finds the control-plane binaries: a prebuilt directory from CONTROL_PLANE_ASSETS/KUBEBUILDER_ASSETS,
 * the version-keyed cache, or a fresh build from the Go module proxy (slow the first time).
 */
export async function ensureBinaries(onProgress: (line: string) => void): Promise<ControlPlaneBinaries> {
  const dir = await new Promise<string>((resolve, reject) => {
    const child = execFile("bash", [BUILD_SCRIPT], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`control-plane binaries are not available: ${err.message.trim()}`));
      else resolve(stdout.trim().split("\n").at(-1) ?? "");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) onProgress(line.trim());
    });
  });
  return {
    dir,
    etcd: `${dir}/etcd`,
    kubeApiserver: `${dir}/kube-apiserver`,
    kubeControllerManager: `${dir}/kube-controller-manager`,
  };
}
