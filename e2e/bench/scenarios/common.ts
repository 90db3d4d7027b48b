// What every scenario shares: the environment it runs in, cluster queries as admin, and the
// measurement window (audit records, CPU, load and memory between two moments).
import type { AuditRecord } from "../audit.ts";
import type { BenchCluster } from "../cluster.ts";
import { nowMs, type KubeObject } from "../kube.ts";
import type { PatcherRunner } from "../patcher-runner.ts";
import { COPY_NAME, MANAGED_BY_SELECTOR } from "../patcher.ts";
import { cpuBetween, cpuSnapshot, loadInfo, type CpuSnapshot, type LoadInfo, type Timeline } from "../proc.ts";
import type { WindowFacts } from "./results.ts";

export interface BenchEnv {
  cluster: BenchCluster;
  patcher: PatcherRunner;
  /** Machine and process CPU every 2 s, to tell slow stretches caused by other jobs. */
  timeline: Timeline;
  /** Process ids CPU is accounted for: the control plane, the benchmark and the running patcher. */
  pids: () => Record<string, number>;
  /** Namespace creations (and deletions) in flight. */
  concurrency: number;
  log: (line: string) => void;
}

export const ms = (n: number): number => Math.round(n);
export const secs = (n: number): number => Math.round(n / 10) / 100;

/** Lists as metadata only: the benchmark polls often and must stay light. */
export const META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
export const COPIES_PATH = `/api/v1/secrets?labelSelector=${encodeURIComponent(MANAGED_BY_SELECTOR)}`;
export const DEFAULT_SERVICE_ACCOUNTS_PATH = "/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault";

export function names(prefix: string, count: number): string[] {
  const width = Math.max(4, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(width, "0")}`);
}

export function references(sa: KubeObject, secretName: string): boolean {
  return (sa.imagePullSecrets ?? []).some((r) => r.name === secretName);
}

export async function activeNamespaces(env: BenchEnv): Promise<Set<string>> {
  const list = await env.cluster.admin.listAll("/api/v1/namespaces", META_LIST);
  return new Set(list.filter((ns) => !ns.metadata.deletionTimestamp).map((ns) => ns.metadata.name));
}

/** Namespaces with a copy (metadata only), and namespaces whose default SA references it. */
export async function convergence(env: BenchEnv): Promise<{ copies: Set<string>; referenced: Set<string> }> {
  const admin = env.cluster.admin;
  const [copies, sas] = await Promise.all([
    admin.listAll(COPIES_PATH, META_LIST),
    admin.listAll(DEFAULT_SERVICE_ACCOUNTS_PATH),
  ]);
  return {
    copies: new Set(copies.filter((s) => s.metadata.name === COPY_NAME).map((s) => s.metadata.namespace ?? "")),
    referenced: new Set(sas.filter((sa) => references(sa, COPY_NAME)).map((sa) => sa.metadata.namespace ?? "")),
  };
}

export interface MeasuredWindow {
  from: number;
  to: number;
  /** The patcher's requests received in [from, to). */
  records: AuditRecord[];
  facts: WindowFacts;
}

/** CPU, load, memory and the patcher's requests between `begin` and `end`. */
export class Measurement {
  from: number;
  readonly #env: BenchEnv;
  readonly #cpu0: CpuSnapshot;
  readonly #load0: LoadInfo;

  private constructor(env: BenchEnv) {
    this.#env = env;
    env.cluster.audit.sync();
    this.#load0 = loadInfo();
    this.#cpu0 = cpuSnapshot(env.pids());
    this.from = nowMs();
  }

  static begin(env: BenchEnv): Measurement {
    return new Measurement(env);
  }

  /** The window starts when the patcher was spawned, after the baseline: it had used no CPU yet. */
  startAtSpawn(spawnedAt: number): void {
    this.from = spawnedAt;
    this.#cpu0.processes.patcher = 0;
  }

  /**
   * Waits `settleMs` for the audit log to catch up and closes the window. `to` defaults to the
   * moment after settling; `steadyMs` is the stretch whose median RSS counts as steady.
   */
  async end(options: { settleMs: number; steadyMs?: number; to?: number }): Promise<MeasuredWindow> {
    const { cluster, patcher } = this.#env;
    await cluster.audit.settle(options.settleMs);
    const to = options.to ?? nowMs();
    const cpu1 = cpuSnapshot(this.#env.pids());
    const load1 = loadInfo();
    const facts: WindowFacts = {
      rss: patcher.rssWindow(this.from, to, options.steadyMs ?? 10_000),
      cpuCores: cpuBetween(this.#cpu0, cpu1),
      otherClients: cluster.audit.othersBetween(this.from, to),
      loadBefore: this.#load0,
      loadAfter: load1,
    };
    return { from: this.from, to, records: cluster.audit.patcherBetween(this.from, to), facts };
  }
}
