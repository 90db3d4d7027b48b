// A Docker engine for the container-image e2e test. Uses the engine `docker info` reaches; else, as
// root on Debian/Ubuntu, installs docker.io when dockerd is missing and starts dockerd in the
// background (own process group, log file) for the duration of the test, and stops it again
// afterwards. Only a dockerd started here is ever stopped, by its PID.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive, isOurProcess, startProcess, tail, type StartedProcess } from "../cluster/local/processes.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const DOCKER_SOCKET = "/var/run/docker.sock";
const DOCKER_PIDFILE = "/var/run/docker.pid";
/** dockerd logs of runs that started one (gitignored). */
export const DOCKER_STATE_DIR = join(REPO_ROOT, ".e2e", "docker");

/**
 * dockerd flags: no bridge, no iptables rules, no ip_forward/masquerade changes. The test only
 * uses host networking (and the image build needs no network), so the host's network setup is left
 * exactly as it was.
 */
const DOCKERD_ARGS = [
  "--host",
  `unix://${DOCKER_SOCKET}`,
  "--bridge=none",
  "--iptables=false",
  "--ip-forward=false",
  "--ip-masq=false",
];

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (check `code`). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeoutMs} ms)`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 120_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs a command and returns its stdout; throws with its output when it fails. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (exit ${result.code}):\n${(result.stderr || result.stdout).trim().slice(-4000)}`,
    );
  }
  return result.stdout;
}

/** `docker …`, stdout on success. */
export function docker(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return runOk("docker", args, { timeoutMs });
}

/** An executable by name on PATH or in the sbin directories (dockerd lives in /usr/sbin). */
export function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? "").split(delimiter),
    "/usr/local/sbin",
    "/usr/sbin",
    "/sbin",
    "/usr/local/bin",
    "/usr/bin",
    "/bin",
  ];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * testcontainers must not start its Ryuk reaper (it would pull an image, which hangs here) and must
 * talk to the engine on this machine. Set before the first testcontainers call.
 */
export function configureTestcontainers(): void {
  process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
  process.env.TESTCONTAINERS_HOST_OVERRIDE = "127.0.0.1";
}

export interface DockerEngine {
  /** Server version as `docker info` reports it. */
  serverVersion: string;
  /** True when this process started dockerd (and will stop it). */
  startedByUs: boolean;
  logPath?: string | undefined;
  /** Stops dockerd if it was started here; a no-op otherwise. */
  stop(): Promise<void>;
}

async function serverVersion(): Promise<{ version?: string; problem: string }> {
  if (!findExecutable("docker")) return { problem: "the docker CLI is not installed" };
  const info = await run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 20_000 });
  const version = info.stdout.trim();
  if (info.code === 0 && version) return { version, problem: "" };
  return {
    problem: (info.stderr || info.stdout).trim().split("\n").slice(-3).join(" ") || `docker info exited ${info.code}`,
  };
}

class DockerUnavailable extends Error {
  override readonly name = "DockerUnavailable";
  constructor(reason: string) {
    super(
      `Docker engine unavailable: ${reason}\n` +
        "The container-image e2e test builds and runs the patcher image, so it needs a Docker engine: start one, " +
        "or run the tests as root on Debian/Ubuntu so the test can install docker.io and start dockerd itself. " +
        "Set E2E_SKIP_CONTAINER=1 to skip this test on a machine that cannot run Docker.",
    );
  }
}

async function installDockerIo(log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new DockerUnavailable("dockerd is not installed and installing docker.io needs root");
  const aptGet = findExecutable("apt-get");
  if (!aptGet)
    throw new DockerUnavailable("dockerd is not installed and there is no apt-get to install docker.io with");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = ["install", "-y", "--no-install-recommends", "docker.io"];
  log("dockerd not found; installing docker.io with apt-get");
  let result = await run(aptGet, install, { env, timeoutMs: 600_000 });
  if (result.code !== 0) {
    log("apt-get install failed; running apt-get update and retrying");
    await run(aptGet, ["update"], { env, timeoutMs: 300_000 });
    result = await run(aptGet, install, { env, timeoutMs: 600_000 });
  }
  if (result.code !== 0 || !findExecutable("dockerd")) {
    throw new DockerUnavailable(
      `apt-get install docker.io failed (exit ${result.code}): ${(result.stderr || result.stdout).trim().slice(-1500)}`,
    );
  }
}

/** Removes /var/run/docker.pid when the dockerd it names is gone (dockerd refuses to start otherwise). */
function removeStalePidfile(): void {
  if (!existsSync(DOCKER_PIDFILE)) return;
  const pid = Number(readFileSync(DOCKER_PIDFILE, "utf8").trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    throw new DockerUnavailable(
      `a dockerd (pid ${pid}, ${DOCKER_PIDFILE}) is running but \`docker info\` cannot reach it`,
    );
  }
  rmSync(DOCKER_PIDFILE, { force: true });
}

async function stopDockerd(proc: StartedProcess, log: (line: string) => void): Promise<void> {
  if (!isOurProcess(proc.pid, "dockerd")) return;
  const leftovers = await run("docker", ["ps", "-aq"], { timeoutMs: 20_000 });
  if (leftovers.stdout.trim())
    log(`stopping dockerd with containers left: ${leftovers.stdout.trim().split("\n").join(", ")}`);
  // dockerd alone first: it stops the containerd it started, then exits.
  process.kill(proc.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && isAlive(proc.pid)) await sleep(100);
  if (isAlive(proc.pid)) {
    log("dockerd did not stop within 30 s; killing its process group");
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    while (isAlive(proc.pid)) await sleep(50);
  }
  log(`dockerd (pid ${proc.pid}) stopped: ${await proc.exited}`);
}

/** Starts dockerd and waits until it answers, or throws with the tail of its log. */
async function startDockerd(dockerd: string, log: (line: string) => void, timeoutMs: number): Promise<DockerEngine> {
  mkdirSync(DOCKER_STATE_DIR, { recursive: true });
  const logPath = join(DOCKER_STATE_DIR, `dockerd-${process.pid}.log`);
  const started = Date.now();
  const proc = startProcess("dockerd", dockerd, DOCKERD_ARGS, logPath);
  log(`started ${dockerd} (pid ${proc.pid}, log ${logPath})`);
  let exitedWith: string | undefined;
  void proc.exited.then((how) => (exitedWith = how));
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new DockerUnavailable(
        `dockerd exited (${exitedWith}) while starting; last lines of ${logPath}:\n${tail(logPath, 20)}`,
      );
    }
    if (existsSync(DOCKER_SOCKET)) {
      const probe = await serverVersion();
      if (probe.version) {
        log(`dockerd ${probe.version} ready in ${Date.now() - started} ms`);
        return { serverVersion: probe.version, startedByUs: true, logPath, stop: () => stopDockerd(proc, log) };
      }
      last = probe.problem;
    }
    await sleep(200);
  }
  await stopDockerd(proc, log);
  const why = last || `no ${DOCKER_SOCKET}`;
  throw new DockerUnavailable(
    `dockerd did not answer within ${timeoutMs} ms (${why}); last lines of ${logPath}:\n${tail(logPath, 20)}`,
  );
}

/**
 * Returns a reachable Docker engine, starting one if needed. Throws a DockerUnavailable error with
 * the reason (and dockerd's log) when there is none and none can be started.
 */
export async function ensureDockerEngine(
  options: { log?: (line: string) => void; startTimeoutMs?: number } = {},
): Promise<DockerEngine> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[e2e:docker] ${line}\n`));
  configureTestcontainers();
  const existing = await serverVersion();
  if (existing.version) {
    log(`using the running Docker engine ${existing.version}`);
    return { serverVersion: existing.version, startedByUs: false, stop: () => Promise.resolve() };
  }
  log(`no Docker engine reachable (${existing.problem})`);
  if (process.env.DOCKER_HOST && process.env.DOCKER_HOST !== `unix://${DOCKER_SOCKET}`) {
    throw new DockerUnavailable(
      `DOCKER_HOST=${process.env.DOCKER_HOST} does not answer (${existing.problem}); not starting a local dockerd instead`,
    );
  }
  if (!findExecutable("dockerd") || !findExecutable("docker")) await installDockerIo(log);
  const dockerd = findExecutable("dockerd");
  if (!dockerd) throw new DockerUnavailable("dockerd is not installed");
  if (process.getuid?.() !== 0)
    throw new DockerUnavailable("dockerd is installed but not running, and starting it needs root");
  removeStalePidfile();

  return startDockerd(dockerd, log, options.startTimeoutMs ?? 60_000);
}
