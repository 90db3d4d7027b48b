// moto (the AWS emulator, https://github.com/getmoto/moto) from PyPI, in a virtualenv of its own
// under the user's cache, installed once per version and reused by later runs. The first install
// takes a minute or two (pip fetches moto and its server dependencies).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const MOTO_VERSION = "5.2.5";
const CACHE = join(homedir(), ".cache", "imagepullsecret-patcher");
/** Written last, so a venv whose install was interrupted is recognised and made again. */
const DONE_MARKER = ".installed";
/** A lock older than this was left by a run that died. */
const STALE_LOCK_MS = 15 * 60_000;

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${err.message}\n${stderr.slice(-2_000)}`));
      else resolve(stdout);
    });
  });
}

/** Holds `lock` (a directory: mkdir is atomic) while `work` runs, so parallel runs install once. */
async function withLock<T>(lock: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      else await sleep(1_000);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * The `moto_server` program: `MOTO_SERVER_BIN` when set, else the cached virtualenv's, installing
 * `moto[server]==MOTO_VERSION` there first when it is missing (`python3 -m venv`, then pip).
 */
export async function ensureMotoServer(onProgress: (line: string) => void = () => {}): Promise<string> {
  if (process.env.MOTO_SERVER_BIN) return process.env.MOTO_SERVER_BIN;
  const venv = join(CACHE, `moto-${MOTO_VERSION}`);
  const binary = join(venv, "bin", "moto_server");
  if (existsSync(join(venv, DONE_MARKER))) return binary;
  mkdirSync(CACHE, { recursive: true });
  return withLock(`${venv}.lock`, async () => {
    if (existsSync(join(venv, DONE_MARKER))) return binary; // another run installed it meanwhile
    rmSync(venv, { recursive: true, force: true });
    onProgress(`[moto] creating ${venv} and installing moto[server]==${MOTO_VERSION} from PyPI`);
    const started = Date.now();
    await run("python3", ["-m", "venv", venv], 120_000);
    await run(join(venv, "bin", "pip"), ["install", "--quiet", `moto[server]==${MOTO_VERSION}`], 15 * 60_000);
    if (!existsSync(binary)) throw new Error(`moto installed, but ${binary} is missing`);
    writeFileSync(join(venv, DONE_MARKER), `moto[server]==${MOTO_VERSION}\n`);
    onProgress(`[moto] installed in ${Math.round((Date.now() - started) / 1000)} s`);
    return binary;
  });
}
