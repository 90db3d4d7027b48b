// The patcher as shipped: the esbuild bundle the container image runs, with the image's Node flags.
// Built here when missing or older than the tsc output it bundles, so a run never measures a stale file.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const APP_DIR = fileURLToPath(new URL("../../apps/patcher/", import.meta.url));
export const PATCHER_BUNDLE = `${APP_DIR}dist/bundle/main.mjs`;
const TSC_MAIN = `${APP_DIR}dist/main.js`;
const NODE_FLAGS = `${APP_DIR}node-flags.json`;

export interface Artifact {
  /** The file the patcher process runs. */
  path: string;
  /** Node flags from apps/patcher/node-flags.json (none when the file is absent). */
  nodeFlags: string[];
  /** Why those flags, as node-flags.json says. */
  nodeFlagsWhy: string | undefined;
  /** Whether this run (re)built the bundle. */
  bundledNow: boolean;
  bundleBytes: number;
}

function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : 0;
}

function readNodeFlags(): { flags: string[]; why: string | undefined } {
  if (!existsSync(NODE_FLAGS)) return { flags: [], why: undefined };
  const parsed = JSON.parse(readFileSync(NODE_FLAGS, "utf8")) as { flags?: unknown; why?: unknown };
  if (!Array.isArray(parsed.flags) || !parsed.flags.every((f) => typeof f === "string"))
    throw new Error(`${NODE_FLAGS}: "flags" must be an array of strings`);
  return { flags: parsed.flags, why: typeof parsed.why === "string" ? parsed.why : undefined };
}

/** The bundle, rebuilt when stale, and the flags it runs with. */
export function shippedArtifact(log: (line: string) => void): Artifact {
  if (!existsSync(TSC_MAIN))
    throw new Error(`${TSC_MAIN} is missing: build first (pnpm exec turbo run build --filter ./apps/patcher...)`);
  const stale = mtime(PATCHER_BUNDLE) < mtime(TSC_MAIN);
  if (stale) {
    log(`bundling the patcher (${existsSync(PATCHER_BUNDLE) ? "older than dist/main.js" : "missing"})`);
    execFileSync("pnpm", ["run", "bundle"], { cwd: APP_DIR, stdio: ["ignore", "ignore", "inherit"] });
  }
  const { flags, why } = readNodeFlags();
  return {
    path: PATCHER_BUNDLE,
    nodeFlags: flags,
    nodeFlagsWhy: why,
    bundledNow: stale,
    bundleBytes: statSync(PATCHER_BUNDLE).size,
  };
}
