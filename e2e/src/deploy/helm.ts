import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const BUILD_SCRIPT = fileURLToPath(new URL("../../helm/build-helm.sh", import.meta.url));
export const CHART_DIR = fileURLToPath(new URL("../../../deploy/helm/imagepullsecret-patcher", import.meta.url));

/**
 * Finds the `helm` binary: `HELM_BIN` (a file), `HELM_ASSETS` (a directory), the version-keyed cache,
 * or a fresh build from the Go module proxy (a few minutes the first time).
 */
export async function ensureHelmBinary(onProgress: (line: string) => void = () => {}): Promise<string> {
  if (process.env.HELM_BIN) return process.env.HELM_BIN;
  const dir = await new Promise<string>((resolve, reject) => {
    const child = execFile("bash", [BUILD_SCRIPT], { maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) reject(new Error(`the helm binary is not available: ${err.message.trim()}`));
      else resolve(stdout.trim().split("\n").at(-1) ?? "");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) onProgress(line.trim());
    });
  });
  return `${dir}/helm`;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with an isolated home (no repositories, plugins or registry logins of the user). */
export function runHelm(helm: string, args: string[], home: string): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(
      helm,
      args,
      {
        maxBuffer: 16 << 20,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: home,
          HELM_CACHE_HOME: `${home}/cache`,
          HELM_CONFIG_HOME: `${home}/config`,
          HELM_DATA_HOME: `${home}/data`,
        },
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") reject(new Error(`helm could not run: ${err.message}`));
        else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

export interface TemplateOptions {
  release: string;
  namespace: string;
  valuesFiles?: string[];
  set?: string[];
}

/** `helm template` of the chart; rejects with helm's message when rendering fails. */
export async function helmTemplate(helm: string, home: string, o: TemplateOptions): Promise<string> {
  const args = ["template", o.release, CHART_DIR, "--namespace", o.namespace];
  for (const f of o.valuesFiles ?? []) args.push("--values", f);
  for (const s of o.set ?? []) args.push("--set", s);
  const r = await runHelm(helm, args, home);
  if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
