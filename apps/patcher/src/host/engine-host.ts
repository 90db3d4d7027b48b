import type { Logger, Mapping, MappingStatus, TrackedCounts } from "@imagepullsecret-patcher/core";
import type { LoadedConfig } from "../config/load.js";
import { classifyReload, sourceConfigs, type ReloadPlan } from "./classify.js";
import { OwnedSource } from "./owned-source.js";

/** What the host needs of an engine; core's Engine satisfies it. */
export interface HostedEngine {
  run(signal: AbortSignal): Promise<void>;
  setMappings(mappings: readonly Mapping[]): void;
  readonly synced: boolean;
  readonly msSinceLastWatchEvent: number;
  status(): MappingStatus[];
  /** Lists or watches that keep failing (naming the missing verb), and sources that failed to start. */
  problems?(): string[];
  /** Reconciles a namespace soon (a Pod there was given a copy at admission). */
  enqueueNamespace?(namespace: string): void;
  /** Sizes of the engine's internal maps, for the `engine_tracked_keys` gauge. */
  trackedCounts?(): TrackedCounts;
}

export interface EngineHostOptions {
  /** The config the process started with. */
  config: LoadedConfig;
  /** The mappings of a config, each with a new source nobody has started. Throws for a bad config. */
  buildMappings(config: LoadedConfig): Promise<Mapping[]>;
  /** An engine with the settings of `config` over `mappings` (not running yet). */
  buildEngine(config: LoadedConfig, mappings: readonly Mapping[]): Promise<HostedEngine>;
  /** Applies a changed `log.level`; absent when the level is fixed (e.g. by a command-line flag). */
  setLogLevel?: ((level: string) => void) | undefined;
  /** Told about the engine that runs now (undefined: none) and its mappings, e.g. for metrics. */
  onEngine?: ((engine: HostedEngine | undefined, mappings: readonly Mapping[]) => void) | undefined;
  logger: Logger;
}

/** A config change that needs a process restart; `field` names the setting. */
export class ReloadRefused extends Error {
  override readonly name = "ReloadRefused";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

interface Running {
  engine: HostedEngine;
  mappings: Mapping[];
  /** Stops this engine (term over, or replaced by one with new settings). */
  stop: AbortController;
  /** Set when a reload replaces this engine within the same term. */
  replace: boolean;
}

function stopSources(mappings: readonly Mapping[], keep: readonly Mapping[] = []): void {
  const kept = new Set(keep.map((m) => m.source));
  for (const m of mappings) if (m.source instanceof OwnedSource && !kept.has(m.source)) m.source.stop();
}

/**
 * Owns the engine of the running process and the config it was built from.
 *
 * - Every leadership term ({@link runTerm}) builds its mappings, and so its sources, afresh from
 *   the latest applied config: sources started and stopped in an earlier term are never reused.
 * - {@link apply} takes a new config: settings bound at start (server, leaderElection) are refused
 *   with the field named; changed engine settings (controller.*, plugins) stop the running engine
 *   and start a new one built from the new config in the same term; a change of mappings alone is
 *   handed to the running engine, keeping the sources of mappings whose source did not change.
 */
export class EngineHost {
  readonly #opts: EngineHostOptions;
  #applied: LoadedConfig;
  #running: Running | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: EngineHostOptions) {
    this.#opts = options;
    this.#applied = options.config;
  }

  /** The config applied last: what the running engine (or the next one) is built from. */
  get config(): LoadedConfig {
    return this.#applied;
  }

  /** The engine running now, if any. */
  get engine(): HostedEngine | undefined {
    return this.#running?.engine;
  }

  /**
   * Runs engines until `signal` aborts: one built from the latest config, replaced in place when a
   * reload changes engine settings. Resolves after the last engine stopped.
   */
  async runTerm(signal: AbortSignal): Promise<void> {
    let previous: Mapping[] | undefined;
    while (!signal.aborted) {
      const running = await this.#exclusive(() => this.#start(signal, previous));
      if (!running) return;
      const onAbort = (): void => running.stop.abort();
      signal.addEventListener("abort", onAbort, { once: true });
      try {
        await running.engine.run(running.stop.signal);
      } finally {
        signal.removeEventListener("abort", onAbort);
        await this.#exclusive(() => {
          if (this.#running === running) this.#running = undefined;
          stopSources(running.mappings);
          this.#opts.onEngine?.(undefined, []);
          return Promise.resolve();
        });
      }
      if (!running.replace) return;
      previous = running.mappings;
    }
  }

  async #start(signal: AbortSignal, previous: Mapping[] | undefined): Promise<Running | undefined> {
    if (signal.aborted) return undefined;
    const config = this.#applied;
    const mappings = (await this.#opts.buildMappings(config)).map((m) => ({ ...m, source: new OwnedSource(m.source) }));
    // A replacement engine first learns the mappings its predecessor ran, then the new ones, so it
    // knows which were removed by this reload and treats them under the new settings
    // (controller.onMappingRemoved). The old sources are stopped; the engine never starts them
    // because it is not running while it learns them.
    const engine = await this.#opts.buildEngine(config, previous ?? mappings);
    if (previous) engine.setMappings(mappings);
    const running: Running = { engine, mappings, stop: new AbortController(), replace: false };
    this.#running = running;
    this.#opts.onEngine?.(engine, mappings);
    return running;
  }

  /**
   * Applies a new config. Rejects with {@link ReloadRefused} for a change that needs a restart, or
   * with the config's own error when it cannot be built; the running config is then untouched.
   */
  apply(next: LoadedConfig): Promise<Exclude<ReloadPlan, { kind: "refused" }>> {
    return this.#exclusive(async () => {
      const plan = classifyReload(this.#applied, next);
      if (plan.kind === "refused") throw new ReloadRefused(plan.field, plan.message);
      if (plan.kind === "unchanged") return plan;
      // Build once before anything changes: a config whose plugins or mappings cannot be built is refused.
      const built = await this.#opts.buildMappings(next);
      const previousConfig = this.#applied;
      this.#applied = next;
      if (plan.logLevel !== undefined) this.#opts.setLogLevel?.(plan.logLevel);
      const running = this.#running;
      if (!running || (!plan.mappings && plan.restartEngine.length === 0)) return plan;
      if (plan.restartEngine.length > 0) {
        // runTerm sees `replace`, waits for this engine to finish its in-flight work, and starts
        // one built from `next`.
        running.replace = true;
        running.stop.abort();
        return plan;
      }
      const mappings = this.#keepUnchangedSources(running.mappings, built, previousConfig, next);
      running.engine.setMappings(mappings);
      stopSources(running.mappings, mappings);
      running.mappings = mappings;
      this.#opts.onEngine?.(running.engine, mappings);
      return plan;
    });
  }

  /** New mappings; those whose source config is unchanged keep their running source. */
  #keepUnchangedSources(current: Mapping[], built: Mapping[], previous: LoadedConfig, next: LoadedConfig): Mapping[] {
    const before = sourceConfigs(previous, current);
    const after = sourceConfigs(next, built);
    return built.map((m) => {
      const old = current.find((c) => c.name === m.name);
      const was = before.get(m.name);
      if (old && was !== undefined && was === after.get(m.name)) return { ...m, source: old.source };
      return { ...m, source: new OwnedSource(m.source) };
    });
  }

  /** Runs `fn` after every earlier call has settled, so builds and reloads never interleave. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(fn);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
