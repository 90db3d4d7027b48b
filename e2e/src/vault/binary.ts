import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const BUILD_SCRIPT = fileURLToPath(new URL("../../vault/build-vault.sh", import.meta.url));

/**
 * Finds the `vault` binary: `VAULT_BIN` (a file), `VAULT_ASSETS` (a directory), the version-keyed
 * cache, or a fresh build from the Go module proxy (10-20 minutes the first time).
 */
export async function ensureVaultBinary(onProgress: (line: string) => void = () => {}): Promise<string> {
  if (process.env.VAULT_BIN) return process.env.VAULT_BIN;
  const dir = await new Promise<string>((resolve, reject) => {
    const child = execFile("bash", [BUILD_SCRIPT], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`the vault binary is not available: ${err.message.trim()}`));
      else resolve(stdout.trim().split("\n").at(-1) ?? "");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) onProgress(line.trim());
    });
  });
  return `${dir}/vault`;
}
