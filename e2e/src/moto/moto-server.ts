// moto in server mode on a free loopback port: one process for all AWS services, stoppable and
// restartable on the same port to play outages. Stopped by PID (its own process group), never by
// name; a reaper stops it if the test process dies.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import {
  freePort,
  isAlive,
  startProcess,
  stopProcessGroup,
  tail,
  type StartedProcess,
} from "../cluster/local/processes.ts";

const REAPER = fileURLToPath(new URL("../cluster/local/reaper.ts", import.meta.url));

export class MotoServer {
  readonly binary: string;
  readonly port: number;
  /** What `AWS_ENDPOINT_URL` points at. */
  readonly endpoint: string;
  readonly workDir: string;
  readonly logPath: string;
  #process: StartedProcess | undefined;

  private constructor(binary: string, port: number) {
    this.binary = binary;
    this.port = port;
    this.endpoint = `http://127.0.0.1:${port}`;
    this.workDir = mkdtempSync(join(tmpdir(), "moto-e2e-"));
    this.logPath = join(this.workDir, "moto.log");
  }

  /** Starts `moto_server -H 127.0.0.1 -p <free port>` and waits until it answers. */
  static async start(binary: string, startTimeoutMs = 60_000): Promise<MotoServer> {
    const server = new MotoServer(binary, await freePort());
    try {
      await server.resume(startTimeoutMs);
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  get running(): boolean {
    return this.#process !== undefined && isAlive(this.#process.pid);
  }

  /** Starts the server again on the same port, with empty state (moto keeps everything in memory). */
  async resume(startTimeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`moto is already running (pid ${this.#process?.pid})`);
    const started = startProcess("moto", this.binary, ["-H", "127.0.0.1", "-p", String(this.port)], this.logPath);
    this.#process = started;
    const reaper = spawn(process.execPath, [REAPER, String(process.pid), "", String(started.pid)], {
      detached: true,
      stdio: "ignore",
    });
    reaper.unref();
    let exited: string | undefined;
    void started.exited.then((how) => (exited = how));
    const deadline = Date.now() + startTimeoutMs;
    while (!(await this.answers())) {
      if (exited !== undefined) throw new Error(`moto exited (${exited}):\n${tail(this.logPath)}`);
      if (Date.now() > deadline)
        throw new Error(`moto did not answer within ${startTimeoutMs} ms:\n${tail(this.logPath)}`);
      await sleep(200);
    }
  }

  /** True when moto's own API answers. */
  async answers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  /** Forgets every resource and session (`POST /moto-api/reset`), as a restart would, without the outage. */
  async reset(): Promise<void> {
    const response = await fetch(`${this.endpoint}/moto-api/reset`, {
      method: "POST",
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`moto reset: HTTP ${response.status}`);
  }

  /** Stops the process; the port stays reserved for {@link resume} in practice (nothing else binds it). */
  async stop(): Promise<void> {
    const pid = this.#process?.pid;
    this.#process = undefined;
    if (pid !== undefined) await stopProcessGroup(pid, 5_000);
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.workDir, { recursive: true, force: true });
  }
}
