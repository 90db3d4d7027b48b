import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";

/** The built patcher binary (apps/patcher/dist/main.js), run with the same Node as the tests. */
export const PATCHER_MAIN = fileURLToPath(new URL("../../../apps/patcher/dist/main.js", import.meta.url));

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the patcher to completion (validate, plan, status, run --once…). */
export function runPatcher(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PATCHER_MAIN, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `patcher ${args.join(" ")} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running patcher (`run`), with its output captured for assertions. */
export class PatcherProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  /** `main`: the program to run; the patcher's by default, or another built on core (an example). */
  constructor(args: string[], env: Record<string, string> = {}, main = PATCHER_MAIN) {
    this.child = spawn(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  /** Structured log lines (JSON) written so far. */
  logs(): Record<string, unknown>[] {
    return this.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logs().find(predicate);
      if (hit) return hit;
      if (this.child.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(
      `log line not seen (exit ${this.child.exitCode})\nstdout:\n${this.stdout.slice(-4000)}\nstderr:\n${this.stderr.slice(-2000)}`,
    );
  }

  /** SIGTERM and wait; SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
