import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface StartedProcess {
  name: string;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<string>;
}

/** Starts a binary in its own process group, with stdout and stderr sent to `logPath`. */
export function startProcess(name: string, binary: string, args: string[], logPath: string): StartedProcess {
  if (!existsSync(binary)) throw new Error(`${name}: binary not found at ${binary}`);
  const fd = openSync(logPath, "a");
  const child = spawn(binary, args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: failed to start ${binary}`);
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ?? `exit code ${code}`));
    child.once("error", (err) => resolve(`spawn error: ${err.message}`));
  });
  // The harness outlives no child: an unref'd child does not keep the event loop alive.
  child.unref();
  return { name, pid: child.pid, logPath, exited };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` is alive and its command line contains `needle` (guards against PID reuse). */
export function isOurProcess(pid: number, needle: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle);
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, then SIGKILL after `graceMs`. Never matches by name. */
export async function stopProcessGroup(pid: number, graceMs = 10_000): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      try {
        process.kill(pid, signal);
      } catch {
        /* already gone */
      }
    }
  };
  if (!isAlive(pid)) return;
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(100);
  }
  signalGroup("SIGKILL");
  while (isAlive(pid)) await sleep(50);
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Fails fast with a clear message when a requested port is taken. */
export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "EADDRINUSE"
            ? `${what}: port 127.0.0.1:${port} is already in use; stop whatever listens there or choose another port`
            : `${what}: cannot bind 127.0.0.1:${port}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
  });
}

export function tail(path: string, lines = 25): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
