// Starts and stops the patcher under test, one process at a time, and samples its memory.
import type { BenchCluster } from "./cluster.ts";
import { Patcher, connectionsOpened, type ControllerSettings } from "./patcher.ts";
import { RssSampler, round2, type RssWindow } from "./proc.ts";
import type { ConnectionsResult } from "./scenarios/results.ts";

/** The patcher's watches: namespaces, ServiceAccounts, copies (all namespaces) and the source Secret. */
export const WATCHES = 4;
/**
 * Connections allowed beyond one per worker and one per watch: the initial lists, the Lease and
 * Events may share the pool or not, and a server-closed keep-alive connection is reopened.
 */
export const CONNECTION_SLACK = 4;

export interface PatcherRunOptions {
  /** The script the patcher runs from. */
  main: string;
  leaderElection: boolean;
  /** Node arguments: the image's flags, then any experiment's. */
  nodeArgs: string[];
  /** Environment the image sets. */
  nodeEnv: Record<string, string>;
}

export class PatcherRunner {
  readonly #cluster: BenchCluster;
  readonly #options: PatcherRunOptions;
  readonly #log: (line: string) => void;
  #patcher: Patcher | undefined;
  /** The last patcher's sampler; kept after it stops, so its figures can still be read. */
  #sampler: RssSampler | undefined;
  #settings: ControllerSettings | undefined;

  constructor(cluster: BenchCluster, options: PatcherRunOptions, log: (line: string) => void) {
    this.#cluster = cluster;
    this.#options = options;
    this.#log = log;
  }

  /** The running patcher's process id, for CPU accounting. */
  get pid(): number | undefined {
    return this.#patcher?.pid;
  }

  get current(): Patcher | undefined {
    return this.#patcher;
  }

  /** The running patcher; `scenario` needs one. */
  running(scenario: string): Patcher {
    if (!this.#patcher) throw new Error(`${scenario} needs a running patcher`);
    return this.#patcher;
  }

  async start(
    settings: ControllerSettings,
    label: string,
    extra: { source?: Record<string, unknown>; env?: Record<string, string> } = {},
  ): Promise<Patcher> {
    const patcher = await Patcher.start({
      ...extra,
      main: this.#options.main,
      dir: this.#cluster.workDir,
      kubeconfigPath: this.#cluster.patcherKubeconfig,
      settings,
      leaderElection: this.#options.leaderElection,
      label,
      nodeArgs: this.#options.nodeArgs,
      nodeEnv: this.#options.nodeEnv,
    });
    this.#patcher = patcher;
    this.#settings = settings;
    this.#sampler = new RssSampler(patcher.pid, 250);
    void patcher.exited.then((code) => {
      if (this.#patcher === patcher)
        this.#log(`!! the patcher exited (code ${code}); last problems:\n${patcher.errors.slice(-5).join("\n")}`);
    });
    return patcher;
  }

  async stop(graceMs?: number): Promise<void> {
    const p = this.#patcher;
    if (!p) return;
    this.#patcher = undefined;
    this.#sampler?.stop();
    await p.stop(graceMs);
  }

  /** Throws with the patcher's last problems when it has exited. */
  static assertRunning(p: Patcher): void {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(
        `the patcher exited (${p.child.exitCode ?? p.child.signalCode}); log ${p.logPath}:\n${p.errors.slice(-10).join("\n")}`,
      );
    }
  }

  /** The patcher's VmRSS (MB) sampled closest to `t`. */
  rssAt(t: number | undefined): number | undefined {
    if (t === undefined || !this.#sampler) return undefined;
    let best: { t: number; rss: number } | undefined;
    for (const s of this.#sampler.samples) if (!best || Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
    return best ? round2(best.rss / 1048576) : undefined;
  }

  rssWindow(from: number, to: number, steadyMs: number): RssWindow | undefined {
    return this.#sampler?.window(from, to, steadyMs);
  }

  /** The running patcher's connection counter against the bound workers + watches + slack. */
  async connections(): Promise<ConnectionsResult> {
    const workers = this.#settings?.workers ?? 0;
    const metrics = await this.#patcher?.tryMetrics();
    return {
      opened: connectionsOpened(metrics),
      bound: workers + WATCHES + CONNECTION_SLACK,
      workers,
      watches: WATCHES,
      socketsSeen: this.#sampler?.socketsSeen.size,
    };
  }

  /** VmHWM of the last patcher at its last sample: its peak RSS over the run. */
  peakRssMB(): number | undefined {
    const hwm = this.#sampler?.samples.at(-1)?.hwm;
    return hwm === undefined ? undefined : round2(hwm / 1048576);
  }
}
