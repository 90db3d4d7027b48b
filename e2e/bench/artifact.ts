// The patcher as shipped: the esbuild bundle the container image runs, with the image's Node flags.
// Built here when missing or older than the tsc output it bundles, so a run never measures a stale file.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const APP_DIR = fileURLToPath(new URL("../../apps/patcher/", import.meta.url));
export const PATCHER_BUNDLE = `${APP_DIR}dist/bundle/main.mjs`;
const TSC_MAIN = `${APP_DIR}dist/main.js`;
const NODE_FLAGS = `${APP_DIR}node-flags.json`;
/** tsc output the bundle is made of: the app's and core's (a change in either makes it stale). */
const BUNDLED_DIST = [
  `${APP_DIR}dist`,
  ...["core", "source-ecr", "source-gcp", "source-acr"].map((p) =>
    fileURLToPath(new URL(`../../packages/${p}/dist`, import.meta.url)),
  ),
];

export interface Artifact {
  /** The bundle in the checkout. */
  path: string;
  /** What the patcher process runs: the copy snapshotBundle() took once the work dir exists. */
  runPath: string;
  /** Node flags from apps/patcher/node-flags.json (none when the file is absent). */
  nodeFlags: string[];
  /** Environment variables the image sets (node-flags.json's `env`). */
  nodeEnv: Record<string, string>;
  /** Why those flags, as node-flags.json says. */
  nodeFlagsWhy: string | undefined;
  /** Whether this run (re)built the bundle. */
  bundledNow: boolean;
  bundleBytes: number;
}

function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

/** Newest modification time of the .js files under `dir`, the bundle's own folder left out. */
function newestJs(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (entry.endsWith(".js") && !entry.startsWith("bundle")) newest = Math.max(newest, mtime(join(dir, entry)));
  }
  return newest;
}

function readNodeFlags(): { flags: string[]; env: Record<string, string>; why: string | undefined } {
  if (!existsSync(NODE_FLAGS)) return { flags: [], env: {}, why: undefined };
  const parsed = JSON.parse(readFileSync(NODE_FLAGS, "utf8")) as { flags?: unknown; env?: unknown; why?: unknown };
  if (!Array.isArray(parsed.flags) || !parsed.flags.every((f) => typeof f === "string"))
    throw new Error(`${NODE_FLAGS}: "flags" must be an array of strings`);
  const env = parsed.env ?? {};
  if (typeof env !== "object" || env === null || !Object.values(env).every((v) => typeof v === "string"))
    throw new Error(`${NODE_FLAGS}: "env" must map names to strings`);
  return {
    flags: parsed.flags,
    env: env as Record<string, string>,
    why: typeof parsed.why === "string" ? parsed.why : undefined,
  };
}

/**
 * A copy of the bundle in the run's work dir, so a rebuild in the checkout during a long run cannot
 * change what is measured. The package.json files beside and above it are what version.ts reads.
 */
export function snapshotBundle(workDir: string): string {
  const dir = join(workDir, "artifact");
  // The whole directory: main.mjs imports its chunks (cloud sources, webhook TLS) by relative path.
  cpSync(`${APP_DIR}dist/bundle`, join(dir, "bundle"), { recursive: true });
  copyFileSync(`${APP_DIR}dist/package.json`, join(dir, "package.json"));
  return join(dir, "bundle", "main.mjs");
}

/** Bytes of the .mjs files below `dir`. */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith(".mjs")) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** The bundle, rebuilt when stale, and the flags it runs with. */
export function shippedArtifact(log: (line: string) => void): Artifact {
  if (!existsSync(TSC_MAIN))
    throw new Error(`${TSC_MAIN} is missing: build first (pnpm exec turbo run build --filter ./apps/patcher...)`);
  const stale = mtime(PATCHER_BUNDLE) < Math.max(...BUNDLED_DIST.map(newestJs));
  if (stale) {
    log(`bundling the patcher (${existsSync(PATCHER_BUNDLE) ? "older than the tsc output" : "missing"})`);
    execFileSync("pnpm", ["run", "bundle"], { cwd: APP_DIR, stdio: ["ignore", "ignore", "inherit"] });
  }
  const { flags, env, why } = readNodeFlags();
  return {
    path: PATCHER_BUNDLE,
    runPath: PATCHER_BUNDLE,
    nodeFlags: flags,
    nodeEnv: env,
    nodeFlagsWhy: why,
    bundledNow: stale,
    // main.mjs and the chunks it imports (the cloud sources' only when configured).
    bundleBytes: directoryBytes(`${APP_DIR}dist/bundle`),
  };
}
