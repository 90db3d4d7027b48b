// Process and machine measurements from /proc: RSS sampling, CPU time, load, machine description.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem } from "node:os";

export interface RssSample {
  t: number;
  rss: number;
  hwm: number;
  /** RssAnon: the process's own memory (heap, stacks, malloc); the rest of RSS is file-backed code. */
  anon: number;
  /** Open sockets (TCP connections, mostly to the API server). */
  sockets: number;
}

/** Socket inodes among a process's open file descriptors. */
function socketInodes(pid: number): string[] {
  const out: string[] = [];
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (target.startsWith("socket:[")) out.push(target.slice(8, -1));
      } catch {
        /* closed meanwhile */
      }
    }
  } catch {
    /* process gone */
  }
  return out;
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Memory and sockets of the patcher over a window. */
export interface RssWindow {
  peakRssMB: number;
  hwmMB: number;
  steadyRssMB: number;
  /**
   * Highest sampled RssAnon. The rest of RSS is file-backed (the node binary's code and ICU data,
   * shared libraries): page cache that other processes running the same binary share.
   */
  peakAnonMB?: number;
  samples: number;
  peakOpenSockets: number;
  socketsOpened: number;
}

/**
 * Samples VmRSS and VmHWM of one process every `intervalMs`, and its sockets: how many are open,
 * and when each socket inode was first seen (new connections; a connection that lives less than
 * one interval can be missed).
 */
export class RssSampler {
  readonly samples: RssSample[] = [];
  /** Socket inode → first time seen. */
  readonly socketsSeen = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;
  readonly pid: number;

  constructor(pid: number, intervalMs = 250) {
    this.pid = pid;
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): RssSample | undefined {
    const rss = statusField(this.pid, "VmRSS");
    const hwm = statusField(this.pid, "VmHWM");
    const anon = statusField(this.pid, "RssAnon");
    if (rss === undefined || hwm === undefined || anon === undefined) return undefined;
    const t = Date.now();
    const inodes = socketInodes(this.pid);
    for (const inode of inodes) if (!this.socketsSeen.has(inode)) this.socketsSeen.set(inode, t);
    const s = { t, rss, hwm, anon, sockets: inodes.length };
    this.samples.push(s);
    return s;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /**
   * Over [from, to]: the highest sampled VmRSS, VmHWM at the end (the kernel's peak since start),
   * and "steady": the median VmRSS of the last `steadyMs` of the window.
   */
  window(from: number, to: number, steadyMs = 10_000): RssWindow {
    const inWindow = this.samples.filter((s) => s.t >= from && s.t <= to);
    const last = inWindow
      .filter((s) => s.t >= to - steadyMs)
      .map((s) => s.rss)
      .sort((a, b) => a - b);
    const mb = (b: number): number => Math.round((b / 1048576) * 10) / 10;
    return {
      peakRssMB: mb(Math.max(0, ...inWindow.map((s) => s.rss))),
      hwmMB: mb(inWindow.at(-1)?.hwm ?? 0),
      steadyRssMB: mb(last[Math.floor(last.length / 2)] ?? 0),
      peakAnonMB: mb(Math.max(0, ...inWindow.map((s) => s.anon))),
      samples: inWindow.length,
      peakOpenSockets: Math.max(0, ...inWindow.map((s) => s.sockets)),
      socketsOpened: [...this.socketsSeen.values()].filter((t) => t >= from && t <= to).length,
    };
  }
}

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return Number.NaN;
  }
}

/** Busy and total jiffies of the whole machine. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export interface CpuSnapshot {
  t: number;
  machine: { busy: number; total: number };
  processes: Record<string, number>;
}

export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  const processes: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) processes[name] = cpuSeconds(pid);
  processes.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  return { t: Date.now(), machine: machineCpu(), processes };
}

/** Average cores used by each process (and the machine) between two snapshots. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const secs = (b.t - a.t) / 1000;
  const out: Record<string, number> = {};
  for (const [name, v] of Object.entries(b.processes)) {
    const before = a.processes[name];
    if (before !== undefined && Number.isFinite(v) && Number.isFinite(before)) out[name] = round2((v - before) / secs);
  }
  const total = b.machine.total - a.machine.total;
  out.machineBusyCores = round2(total > 0 ? ((b.machine.busy - a.machine.busy) / total) * cpus().length : 0);
  return out;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** `go build` processes running right now (other jobs on the machine); the big runs wait for none. */
export function goBuildRunning(): number {
  try {
    return execFileSync("pgrep", ["-f", "go build"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).length;
  } catch {
    return 0;
  }
}

export interface LoadInfo {
  at: string;
  uptime: string;
  loadavg: number[];
  goBuilds: number;
  /** Busiest other processes by CPU (ps), to explain a noisy figure. */
  busiest: string[];
}

export function loadInfo(): LoadInfo {
  let uptime = "";
  let busiest: string[] = [];
  try {
    uptime = execFileSync("uptime", { encoding: "utf8" }).trim();
  } catch {
    /* no uptime */
  }
  try {
    busiest = execFileSync("ps", ["-eo", "pcpu,rss,comm", "--sort=-pcpu", "--no-headers"], { encoding: "utf8" })
      .split("\n")
      .slice(0, 6)
      .map((l) => l.trim().replace(/\s+/g, " "))
      .filter(Boolean);
  } catch {
    /* no ps */
  }
  return { at: new Date().toISOString(), uptime, loadavg: loadavg().map(round2), goBuilds: goBuildRunning(), busiest };
}

export interface MachineInfo {
  nproc: string;
  cpuModel: string;
  memTotalGiB: number;
  memFreeGiB: number;
  /** `free -g` as printed. */
  free: string;
  kernel: string;
  node: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  etcd: string;
}

/** The first line a command prints, or "unknown". */
function firstLine(bin: string, args: string[]): string {
  try {
    return execFileSync(bin, args, { encoding: "utf8" }).trim().split("\n")[0] ?? "";
  } catch {
    return "unknown";
  }
}

export function machineInfo(binDir: string | undefined): MachineInfo {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  let free = "";
  try {
    free = execFileSync("free", ["-g"], { encoding: "utf8" }).trim();
  } catch {
    /* no free */
  }
  return {
    nproc: firstLine("nproc", []),
    cpuModel: model,
    memTotalGiB: round2(totalmem() / 2 ** 30),
    memFreeGiB: round2(freemem() / 2 ** 30),
    free,
    kernel: firstLine("uname", ["-r"]),
    node: process.version,
    kubeApiserver: binDir ? firstLine(`${binDir}/kube-apiserver`, ["--version"]) : "unknown",
    kubeControllerManager: binDir ? firstLine(`${binDir}/kube-controller-manager`, ["--version"]) : "unknown",
    etcd: binDir ? firstLine(`${binDir}/etcd`, ["--version"]) : "unknown",
  };
}

export interface TimelinePoint {
  t: number;
  /** Average cores used since the previous point. */
  machine: number;
  cores: Record<string, number>;
  goBuilds: number;
}

/**
 * CPU of the machine and of named processes every `intervalMs`, plus the number of `go build`
 * processes: shows whether a slow stretch of a run coincides with other jobs on the machine.
 */
export class Timeline {
  readonly points: TimelinePoint[] = [];
  readonly #pids: () => Record<string, number>;
  readonly #timer: NodeJS.Timeout;
  #prev: { t: number; machine: { busy: number; total: number }; cpu: Map<string, { pid: number; s: number }> };

  constructor(pids: () => Record<string, number>, intervalMs = 2000) {
    this.#pids = pids;
    this.#prev = this.#read();
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref();
  }

  #read(): { t: number; machine: { busy: number; total: number }; cpu: Map<string, { pid: number; s: number }> } {
    const cpu = new Map<string, { pid: number; s: number }>();
    for (const [name, pid] of Object.entries(this.#pids())) cpu.set(name, { pid, s: cpuSeconds(pid) });
    return { t: Date.now(), machine: machineCpu(), cpu };
  }

  tick(): void {
    const now = this.#read();
    const secs = (now.t - this.#prev.t) / 1000;
    if (secs <= 0) return;
    const cores: Record<string, number> = {};
    for (const [name, v] of now.cpu) {
      const before = this.#prev.cpu.get(name);
      if (before && before.pid === v.pid && Number.isFinite(v.s) && Number.isFinite(before.s))
        cores[name] = round2((v.s - before.s) / secs);
    }
    const total = now.machine.total - this.#prev.machine.total;
    const machine = round2(total > 0 ? ((now.machine.busy - this.#prev.machine.busy) / total) * cpus().length : 0);
    this.points.push({ t: now.t, machine, cores, goBuilds: goBuildRunning() });
    this.#prev = now;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  between(from: number, to: number): TimelinePoint[] {
    return this.points.filter((p) => p.t >= from && p.t <= to);
  }
}
