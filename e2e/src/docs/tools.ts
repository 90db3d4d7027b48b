import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const BUILD_KUBECTL = fileURLToPath(new URL("./build-kubectl.sh", import.meta.url));

/**
 * Finds `kubectl`: `KUBECTL_BIN` (a file), `KUBECTL_ASSETS` (a directory), the version-keyed cache, or
 * a build from the Go module proxy (shares the control plane build's Go caches).
 */
export async function ensureKubectl(onProgress: (line: string) => void = () => {}): Promise<string> {
  if (process.env.KUBECTL_BIN) return process.env.KUBECTL_BIN;
  const dir = await new Promise<string>((resolve, reject) => {
    const child = execFile("bash", [BUILD_KUBECTL], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`kubectl is not available: ${err.message.trim()}`));
      else resolve(stdout.trim().split("\n").at(-1) ?? "");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) onProgress(line.trim());
    });
  });
  return `${dir}/kubectl`;
}
