// Builds the patcher bundle on the host and the patcher image from apps/patcher/Dockerfile on a
// local base (see base-image.ts), the way CI builds it: legacy builder, PREBUILT=1.
import { createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { DOCKER_STATE_DIR, REPO_ROOT, run, runOk } from "./docker.ts";
import { tail } from "../cluster/local/processes.ts";

export const PATCHER_DIR = join(REPO_ROOT, "apps", "patcher");
/** Relative to the build context, which is the repository root. */
export const DOCKERFILE = "apps/patcher/Dockerfile";
export const BUNDLE = join(PATCHER_DIR, "dist", "bundle", "main.mjs");

export function patcherVersion(): string {
  return (JSON.parse(readFileSync(join(PATCHER_DIR, "package.json"), "utf8")) as { version: string }).version;
}

/**
 * `cd apps/patcher && pnpm exec tsc -p tsconfig.build.json && pnpm run bundle`, run with this Node
 * directly (no pnpm needed on PATH). Builds packages/core first only when it has never been built
 * (turbo's `^build` normally has done that before e2e).
 */
export async function buildPatcherBundle(log: (line: string) => void): Promise<{ bundle: string; ms: number }> {
  const started = Date.now();
  const tsc = createRequire(join(PATCHER_DIR, "package.json")).resolve("typescript/bin/tsc");
  const core = join(REPO_ROOT, "packages", "core");
  if (!existsSync(join(core, "dist", "index.js"))) {
    log("packages/core is not built; building it");
    await runOk(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: core, timeoutMs: 300_000 });
  }
  await runOk(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: PATCHER_DIR, timeoutMs: 300_000 });
  await runOk(process.execPath, ["scripts/bundle.mjs"], { cwd: PATCHER_DIR, timeoutMs: 120_000 });
  if (!existsSync(BUNDLE)) throw new Error(`bundling did not produce ${BUNDLE}`);
  const ms = Date.now() - started;
  log(`bundle built in ${ms} ms: ${BUNDLE}`);
  return { bundle: BUNDLE, ms };
}

export interface BuiltImage {
  ref: string;
  id: string;
  /** Uncompressed size as `docker image inspect` reports it. */
  sizeBytes: number;
  ms: number;
  logPath: string;
  /** The build stage's image, which the legacy builder leaves behind untagged. */
  buildStageId: string | undefined;
}

/**
 * The legacy builder prints ` ---> <id>` after every step; the last one before the final stage's
 * `FROM` is the image of the build stage.
 */
export function buildStageImageId(buildLog: string): string | undefined {
  const lines = buildLog.split("\n");
  const lastFrom = lines.findLastIndex((l) => /^Step \d+\/\d+ : FROM /i.test(l));
  if (lastFrom < 0) return undefined;
  for (let i = lastFrom - 1; i >= 0; i--) {
    const id = /^ ---> ([0-9a-f]{12,64})\s*$/.exec(lines[i] ?? "")?.[1];
    if (id) return id;
    if (/^Step \d+\/\d+ : FROM /i.test(lines[i] ?? "")) return undefined;
  }
  return undefined;
}

/** Removes the image and the build stage image its build left behind (not the base). */
export async function removePatcherImage(image: BuiltImage): Promise<void> {
  await run("docker", ["rmi", image.ref], { timeoutMs: 60_000 });
  if (image.buildStageId) await run("docker", ["rmi", image.buildStageId], { timeoutMs: 60_000 });
}

/**
 * DOCKER_BUILDKIT=0 docker build -f apps/patcher/Dockerfile --build-arg BUILD_BASE=<base>
 * --build-arg RUNTIME_BASE=<base> --build-arg PREBUILT=1 -t <ref> <repo root>
 * The build output goes to a log file whose tail is in the error when the build fails.
 */
export async function buildPatcherImage(
  baseRef: string,
  ref: string,
  log: (line: string) => void,
): Promise<BuiltImage> {
  mkdirSync(DOCKER_STATE_DIR, { recursive: true });
  const logPath = join(DOCKER_STATE_DIR, `build-${process.pid}.log`);
  const git = (args: string[]): Promise<string> =>
    run("git", args, { cwd: REPO_ROOT, timeoutMs: 10_000 }).then((r) => (r.code === 0 ? r.stdout.trim() : ""));
  const revision = (await git(["rev-parse", "HEAD"])) || "unknown";
  // The commit time, not the clock: rebuilding the same commit gives the same labels (and cache hits).
  const created = (await git(["log", "-1", "--format=%cI"])) || "unknown";
  const args = [
    "build",
    "--file",
    DOCKERFILE,
    "--build-arg",
    `BUILD_BASE=${baseRef}`,
    "--build-arg",
    `RUNTIME_BASE=${baseRef}`,
    "--build-arg",
    "PREBUILT=1",
    "--build-arg",
    `VERSION=${patcherVersion()}`,
    "--build-arg",
    `REVISION=${revision}`,
    "--build-arg",
    `CREATED=${created}`,
    "--tag",
    ref,
    ".",
  ];
  const started = Date.now();
  const out = createWriteStream(logPath, { flags: "a" });
  out.write(`$ DOCKER_BUILDKIT=0 docker ${args.join(" ")}\n`);
  const code = await new Promise<number | null>((resolve) => {
    // The legacy builder: no buildx here, and BuildKit would try to resolve the bases remotely.
    const child = spawn("docker", args, {
      cwd: REPO_ROOT,
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
    child.once("error", () => resolve(127));
    child.once("close", (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  await new Promise<void>((resolve) => out.end(resolve));
  const ms = Date.now() - started;
  const buildStageId = buildStageImageId(readFileSync(logPath, "utf8").split("$ DOCKER_BUILDKIT=0").at(-1) ?? "");
  if (code !== 0) {
    if (buildStageId) await run("docker", ["rmi", buildStageId], { timeoutMs: 60_000 });
    throw new Error(
      `docker build of ${DOCKERFILE} failed (exit ${code}); last lines of ${logPath}:\n${tail(logPath, 30)}`,
    );
  }
  const [id = "", size = "0"] = (await runOk("docker", ["image", "inspect", "--format", "{{.Id}} {{.Size}}", ref]))
    .trim()
    .split(" ");
  log(`built ${ref} in ${ms} ms: ${id.slice(0, 19)}, ${(Number(size) / 1e6).toFixed(1)} MB (log ${logPath})`);
  return { ref, id, sizeBytes: Number(size), ms, logPath, buildStageId };
}
