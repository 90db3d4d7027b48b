import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { kubeConnectionsOpened } from "../kube.js";
import type { EngineObserver, Mapping, MappingStatus, TrackedCounts } from "@imagepullsecret-patcher/core";

/** What the scrape-time gauges read from the running engine. */
export interface StatusSource {
  status(): MappingStatus[];
  trackedCounts?(): TrackedCounts;
}

/** Source states reported by `source_state`; the engine reports a source that could not start as `failed`. */
const SOURCE_STATES = ["pending", "ready", "degraded", "failed"] as const;

const P = "imagepullsecret_patcher_";

/**
 * Prometheus metrics. Counters are fed by the engine's observer hooks; per-mapping gauges
 * (sources, scope) are read from the engine when scraped, so they are never stale.
 */
export class PatcherMetrics {
  readonly registry = new Registry();
  #engine: StatusSource | undefined;
  #mappings: readonly Mapping[] = [];

  readonly reconciles = new Counter({
    name: `${P}reconciles_total`,
    help: "Reconciles by mapping and result.",
    labelNames: ["mapping", "result"],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: `${P}reconcile_duration_seconds`,
    help: "Time spent reconciling one key.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: `${P}queue_depth`,
    help: "Keys waiting to be reconciled.",
    registers: [this.registry],
  });
  readonly queueLatency = new Histogram({
    name: `${P}queue_latency_seconds`,
    help: "Time a key waited in the queue before a worker took it.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: `${P}writes_total`,
    help: "API writes by kind.",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly conflicts = new Counter({
    name: `${P}conflicts_total`,
    help: "Keys left alone because of a conflict.",
    labelNames: ["mapping"],
    registers: [this.registry],
  });
  readonly watchRestarts = new Counter({
    name: `${P}watch_restarts_total`,
    help: "Watch re-establishments by watch and reason.",
    labelNames: ["watch", "reason"],
    registers: [this.registry],
  });
  readonly relists = new Counter({
    name: `${P}relists_total`,
    help: "Full lists by watch.",
    labelNames: ["watch"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: `${P}leader`,
    help: "1 while this replica holds the leader lease.",
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: `${P}config_reloads_total`,
    help: "Config reloads by result.",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly admissionReviews = new Counter({
    name: `${P}admission_reviews_total`,
    help: "Pod admission reviews answered, by mapping and result (patched, present, not-selected, skipped, lookup-failed, malformed).",
    labelNames: ["mapping", "result"],
    registers: [this.registry],
  });
  /**
   * A counter, not a gauge: without a cache of Pods nothing sees such a Pod go away, so only finding
   * one is known. Each Pod counts once per mapping (a bounded LRU of uids); alert on its increase.
   */
  readonly podsMissingPullSecret = new Counter({
    name: `${P}pods_missing_pull_secret_total`,
    help: "Pods whose image pull failed while spec.imagePullSecrets lacked the mapping's copy (diagnostics), by mapping.",
    labelNames: ["mapping"],
    registers: [this.registry],
  });
  readonly stuckPodsDeleted = new Counter({
    name: `${P}stuck_pods_deleted_total`,
    help: "Such Pods deleted so that their controller recreates them with the copy (diagnostics.deleteStuckPods), by mapping.",
    labelNames: ["mapping"],
    registers: [this.registry],
  });
  /** Read from the shared connection pools (kube.ts) when scraped; stays low however many requests are made. */
  readonly kubeConnectionsOpened = new Counter({
    name: `${P}kube_connections_opened_total`,
    help: "TLS/TCP connections opened to the Kubernetes API server.",
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc(kubeConnectionsOpened());
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: P });
    // prom-client calls collect() with the gauge as `this`; these read the engine through `view`.
    const view = {
      mappings: (): readonly Mapping[] => this.#mappings,
      engine: (): StatusSource | undefined => this.#engine,
    };
    new Gauge({
      name: `${P}source_state`,
      help: "1 for the state each mapping's source is in (pending, ready, degraded, failed), as the engine reports it.",
      labelNames: ["mapping", "state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of view.engine()?.status() ?? []) {
          for (const s of SOURCE_STATES) this.set({ mapping: m.name, state: s }, s === m.sourceState ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: `${P}source_age_seconds`,
      help: "Seconds since the source last produced or confirmed its value.",
      labelNames: ["mapping"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of view.mappings()) {
          const v = m.source.current();
          if (v) this.set({ mapping: m.name }, (Date.now() - v.fetchedAt.getTime()) / 1000);
        }
      },
    });
    new Gauge({
      name: `${P}source_expiry_timestamp_seconds`,
      help: "When the current credential expires (Unix seconds), for sources that report it.",
      labelNames: ["mapping"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const m of view.mappings()) {
          const at = m.source.current()?.expiresAt ?? m.source.status().expiresAt;
          if (at) this.set({ mapping: m.name }, at.getTime() / 1000);
        }
      },
    });
    new Gauge({
      name: `${P}namespaces`,
      help: "Namespaces per mapping by state: in_scope, in_sync, conflicting, failing, waiting, skipped.",
      labelNames: ["mapping", "state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const s of view.engine()?.status() ?? []) {
          this.set({ mapping: s.name, state: "in_scope" }, s.inScope);
          this.set({ mapping: s.name, state: "in_sync" }, s.inSync);
          this.set({ mapping: s.name, state: "conflicting" }, s.conflicting);
          this.set({ mapping: s.name, state: "failing" }, s.failing);
          this.set({ mapping: s.name, state: "waiting" }, s.waiting);
          this.set({ mapping: s.name, state: "skipped" }, s.skipped);
        }
      },
    });
    new Gauge({
      name: `${P}engine_tracked_keys`,
      help: "Entries in the engine's internal maps, by map; bounded by namespaces x mappings or a fixed cap.",
      labelNames: ["map"],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = view.engine()?.trackedCounts?.();
        if (!counts) return;
        for (const [map, n] of Object.entries(counts) as [string, number][]) this.set({ map }, n);
      },
    });
  }

  /** Points the scrape-time gauges at the running engine and its mappings (undefined: none runs). */
  attach(engine: StatusSource | undefined, mappings: readonly Mapping[]): void {
    this.#engine = engine;
    this.#mappings = mappings;
  }

  /** The engine's hooks, turned into metric updates. */
  observer(): EngineObserver {
    return {
      onReconcile: (mapping, outcome, ms) => {
        this.reconciles.inc({ mapping, result: outcome });
        this.reconcileDuration.observe(ms / 1000);
      },
      onConflict: (mapping) => this.conflicts.inc({ mapping }),
      onWrite: (kind) => this.writes.inc({ kind }),
      onWatchRestart: (watch, reason) => this.watchRestarts.inc({ watch, reason }),
      onRelist: (watch) => this.relists.inc({ watch }),
      onDepth: (n) => this.queueDepth.set(n),
      onLatency: (_key, ms) => this.queueLatency.observe(ms / 1000),
    };
  }
}
