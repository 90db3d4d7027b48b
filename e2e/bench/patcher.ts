// The patcher under test: its config, the process itself, and its /metrics.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { nowMs } from "./kube.ts";

export const BENCH_NAMESPACE = "ipsp-bench";
export const SOURCE = { namespace: "kube-system", name: "regcred" };
export const COPY_NAME = "image-pull-secret";
export const MANAGED_BY_SELECTOR = "app.kubernetes.io/managed-by=imagepullsecret-patcher";
export const ADDED_ANNOTATION = "imagepullsecret-patcher.io/added";
export const LEASE_NAME = "imagepullsecret-patcher";

export interface ControllerSettings {
  workers: number;
  clientQps: number;
  clientBurst: number;
}

export const DEFAULT_SETTINGS: ControllerSettings = { workers: 4, clientQps: 50, clientBurst: 100 };
/** The "fast" setting for large clusters that BENCHMARKS.md reports next to the defaults. */
export const FAST_SETTINGS: ControllerSettings = { workers: 16, clientQps: 500, clientBurst: 1000 };

export function parseSettings(text: string): ControllerSettings {
  const out = { ...DEFAULT_SETTINGS };
  for (const part of text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [k, v] = part.split("=");
    if (k !== "workers" && k !== "clientQps" && k !== "clientBurst")
      throw new Error(`unknown controller setting ${k} (workers, clientQps, clientBurst)`);
    out[k] = Number(v);
    if (!(out[k] > 0)) throw new Error(`${k} must be a positive number`);
  }
  return out;
}

export function settingsLabel(s: ControllerSettings): string {
  return `workers=${s.workers},clientQps=${s.clientQps},clientBurst=${s.clientBurst}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface LogMark {
  msg: string;
  at: number;
  fields: Record<string, unknown>;
}

/** One patcher process (`run`), its log and its metrics endpoint. */
export class Patcher {
  readonly child: ChildProcess;
  readonly port: number;
  readonly startedAt: number;
  readonly logPath: string;
  readonly exited: Promise<number | null>;
  /** First time each log message was seen (wall clock of arrival). */
  readonly marks = new Map<string, LogMark>();
  readonly errors: string[] = [];
  logLines = 0;
  readonly #log: WriteStream;

  private constructor(child: ChildProcess, port: number, startedAt: number, logPath: string, log: WriteStream) {
    this.child = child;
    this.port = port;
    this.startedAt = startedAt;
    this.logPath = logPath;
    this.#log = log;
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    let buffered = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      const at = nowMs();
      log.write(chunk);
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        this.logLines++;
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          const msg = typeof j.msg === "string" ? j.msg : "";
          if (!this.marks.has(msg)) this.marks.set(msg, { msg, at, fields: j });
          if ((j.level === "error" || j.level === "warn") && this.errors.length < 50)
            this.errors.push(line.slice(0, 400));
        } catch {
          /* not JSON */
        }
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      log.write(chunk);
      if (this.errors.length < 50) this.errors.push(`stderr: ${chunk.slice(0, 400)}`);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(options: {
    /** The script the patcher runs from (the bundle, see artifact.ts). */
    main: string;
    dir: string;
    kubeconfigPath: string;
    settings: ControllerSettings;
    leaderElection: boolean;
    label: string;
    nodeArgs?: string[] | undefined;
    /** Environment the image sets (node-flags.json's `env`). */
    nodeEnv?: Record<string, string> | undefined;
    /** The mapping's source; default the bench's source Secret. */
    source?: Record<string, unknown> | undefined;
    /** More environment: a cloud source's identity and stand-in endpoints. */
    env?: Record<string, string> | undefined;
  }): Promise<Patcher> {
    mkdirSync(options.dir, { recursive: true });
    // The patcher watches its config file's directory for hot reload: give each run its own.
    const configDir = join(options.dir, `config-${options.label}`);
    mkdirSync(configDir, { recursive: true });
    const configPath = join(configDir, "config.yaml");
    const config = {
      source: options.source ?? { secret: { name: SOURCE.name, namespace: SOURCE.namespace } },
      // Named explicitly: the default (the source's name) would make kube-system, where the source
      // lives, the one namespace without a copy, and the request counts are compared across runs.
      secretName: COPY_NAME,
      controller: { ...options.settings },
      leaderElection: { enabled: options.leaderElection, namespace: BENCH_NAMESPACE, name: LEASE_NAME },
      log: { level: "info" },
    };
    writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
    const port = await freePort();
    const logPath = join(options.dir, `patcher-${options.label}.log`);
    const log = createWriteStream(logPath);
    const startedAt = nowMs();
    const child = spawn(
      process.execPath,
      [
        ...(options.nodeArgs ?? []),
        options.main,
        "run",
        "--config",
        configPath,
        "--kubeconfig",
        options.kubeconfigPath,
        "--server-address",
        `127.0.0.1:${port}`,
      ],
      {
        env: {
          ...options.nodeEnv,
          ...options.env,
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          POD_NAME: `patcher-bench-${options.label}`,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    if (child.pid === undefined) throw new Error("could not start the patcher");
    return new Patcher(child, port, startedAt, logPath, log);
  }

  /** Parsed /metrics: `name{labels}` → value. */
  async metrics(): Promise<Record<string, number>> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    const text = await res.text();
    const out: Record<string, number> = {};
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const i = line.lastIndexOf(" ");
      out[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return out;
  }

  /** /metrics, or undefined while the server is not up yet. */
  async tryMetrics(): Promise<Record<string, number> | undefined> {
    try {
      return await this.metrics();
    } catch {
      return undefined;
    }
  }

  /** Waits until the work queue is empty for `quietMs` (by the queue_depth gauge). */
  async waitQueueEmpty(quietMs = 1000, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let emptySince = 0;
    while (Date.now() < deadline) {
      const m = await this.tryMetrics();
      const depth = m?.imagepullsecret_patcher_queue_depth;
      if (depth === 0) {
        if (!emptySince) emptySince = Date.now();
        if (Date.now() - emptySince >= quietMs) return;
      } else emptySince = 0;
      await sleep(250);
    }
  }

  async stop(graceMs = 20_000): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.#log.end(() => resolve()));
    return this.child.exitCode;
  }
}

/** Picks the writes_total counters out of a metrics snapshot. */
export function writeMetrics(m: Record<string, number> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m ?? {})) {
    const match = /^imagepullsecret_patcher_writes_total\{kind="([^"]+)"\}$/.exec(k);
    if (match?.[1]) out[match[1]] = v;
  }
  return out;
}

export function diffCounters(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) {
    const d = v - (a[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

const COUNTERS = /^imagepullsecret_patcher_(writes|relists|watch_restarts|reconciles|kube_connections_opened)_total/;

export const CONNECTIONS_METRIC = "imagepullsecret_patcher_kube_connections_opened_total";

/** Connections the patcher says it opened to the API server (all its series summed); undefined when not served. */
export function connectionsOpened(m: Record<string, number> | undefined): number | undefined {
  const series = Object.entries(m ?? {}).filter(
    ([k]) => k === CONNECTIONS_METRIC || k.startsWith(`${CONNECTIONS_METRIC}{`),
  );
  return series.length ? series.reduce((sum, [, v]) => sum + v, 0) : undefined;
}

/** The patcher's own counters of work done: writes, relists, watch restarts, reconciles, connections. */
export function pickCounters(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (COUNTERS.test(k)) out[k] = v;
  }
  return out;
}

const REPORTED_GAUGES = new Set([
  "imagepullsecret_patcher_queue_depth",
  "imagepullsecret_patcher_process_resident_memory_bytes",
  "imagepullsecret_patcher_nodejs_heap_size_used_bytes",
  "imagepullsecret_patcher_nodejs_heap_size_total_bytes",
  "imagepullsecret_patcher_nodejs_eventloop_lag_p99_seconds",
  "imagepullsecret_patcher_nodejs_eventloop_lag_max_seconds",
  "imagepullsecret_patcher_process_cpu_seconds_total",
]);

/** The counters above, and the gauges of queue, memory, event loop and CPU, for the report. */
export function pickMetrics(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) {
    if (REPORTED_GAUGES.has(k) || COUNTERS.test(k)) out[k] = v;
  }
  return out;
}
