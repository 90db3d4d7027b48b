import { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import type { SourceProvider } from "../plugins/contracts.js";
import { coreInformers } from "../kube/core-informers.js";
import { EventRecorder, type EventSink } from "../kube/events.js";
import { TokenBucket } from "../kube/token-bucket.js";
import { coreV1Writer, WriteRefusedError } from "./apply.js";
import { ClusterCache, type CacheEvents } from "./cache.js";
import { Controller } from "./controller.js";
import { CredentialGate } from "./credential-gate.js";
import type { EngineOptions, KeyStatus, Mapping, MappingStatus, TrackedCounts } from "./engine-types.js";
import { Expectations, secretCacheKey, serviceAccountCacheKey } from "./expectations.js";
import { splitKey } from "./keys.js";
import { MappingTable, type KeyInputs } from "./mapping-table.js";
import { KeyEnqueuer } from "./handlers.js";
import { addedByUs } from "./ownership.js";
import { InitialSyncProgress } from "./progress.js";
import type { Plan } from "./plan.js";
import { KeyReconciler, planOnly, type KeyLookup } from "./reconciler.js";
import { RetiredCleanup } from "./cleanup.js";
import { SourceRunner } from "./source-runner.js";
import { KeyStatuses, mappingStatus } from "./status.js";

export type {
  EngineObserver,
  EngineOptions,
  KeyStatus,
  Mapping,
  MappingStatus,
  TrackedCounts,
} from "./engine-types.js";

const FIELD_MANAGER = "imagepullsecret-patcher";

/**
 * Informers → work queue keyed by (mapping, namespace) → `reconcile(key)` over cached state.
 * Embeddable: no globals, no `process.exit`, lifecycle bound to an AbortSignal. This class only
 * composes its parts: the cache, the mapping table, sources and their credential gate, the
 * reconciler and the controller loop, statuses and expectations.
 */
export class Engine {
  readonly #opts: EngineOptions;
  readonly #log: Logger;
  readonly #bucket: TokenBucket;
  readonly #events: EventSink | undefined;
  readonly #cache: ClusterCache;
  readonly #table: MappingTable;
  readonly #sources: SourceRunner;
  readonly #gate: CredentialGate;
  readonly #expectations = new Expectations();
  readonly #statuses = new KeyStatuses();
  readonly #progress: InitialSyncProgress;
  readonly #controller: Controller;
  readonly #inputs: KeyInputs;
  readonly #enqueue: KeyEnqueuer;
  readonly #cleanup: RetiredCleanup;
  #signal: AbortSignal | undefined;
  #started = false;

  constructor(options: EngineOptions) {
    this.#opts = options;
    const log = (this.#log = options.logger ?? silentLogger);
    const instance = options.instance ?? "default";
    this.#bucket = new TokenBucket(options.clientQps ?? 50, options.clientBurst ?? 100);
    this.#events =
      options.recordEvents === false
        ? undefined
        : (options.eventSink ?? new EventRecorder(options.kubeConfig, log, "patcher", instance));
    // Events are writes too: none after the engine stops or the leader lease is lost.
    if (this.#events) this.#events.gate = () => !this.#signal?.aborted && (options.canWrite?.() ?? true);
    this.#progress = new InitialSyncProgress(log);
    this.#sources = new SourceRunner(log, (source) => this.#enqueue.source(source));
    this.#gate = new CredentialGate(options.verifyCredential, log, (source) => this.#enqueue.source(source));
    const informers =
      options.informers ??
      coreInformers({
        kubeConfig: options.kubeConfig,
        logger: log,
        observer: options.observer,
        inactivityTimeoutMs: options.watchInactivityTimeoutMs,
      });
    this.#cache = new ClusterCache(informers, this.#cacheEvents());
    this.#table = new MappingTable(instance, options.retainOnMappingRemoval ?? false, log, (secretName) =>
      this.#cache.watchCopies(secretName),
    );
    this.#cleanup = new RetiredCleanup(
      this.#table,
      this.#cache,
      this.#statuses,
      log,
      () => this.#started && this.synced,
      () => this.#expectations.settled(),
    );
    this.#inputs = {
      namespace: (name) => this.#cache.namespaces.get(name),
      secret: (namespace, name) => this.#cache.secret(namespace, name),
      serviceAccountsIn: (namespace) => this.#cache.serviceAccountsIn(namespace),
      credential: (m) => this.#gate.usable(m.source, m.name),
    };
    const reconciler = new KeyReconciler({
      log,
      observer: options.observer,
      instance,
      writer: options.writer ?? coreV1Writer(options.kubeConfig.makeApiClient(CoreV1Api), FIELD_MANAGER),
      events: this.#events,
      statuses: this.#statuses,
      expectations: this.#expectations,
      lookup: (id, namespace) => this.#lookup(id, namespace),
      observedVersion: (cacheKey) => this.#cache.observedVersion(cacheKey),
      beforeWrite: () => this.#beforeWrite(),
      settled: (key) => this.#progress.settled(key, this.#table.ids().length),
      cleanupDone: () => this.#cleanup.schedule(),
    });
    this.#controller = new Controller((key, mode) => reconciler.reconcile(key, mode), {
      log,
      observer: options.observer,
      statuses: this.#statuses,
      namespaceExists: (namespace) => this.#cache.namespaces.get(namespace) !== undefined,
      onceRetryBudgetMs: options.onceRetryBudgetMs ?? 30_000,
    });
    this.#enqueue = new KeyEnqueuer(this.#table, this.#cache, (key) => this.#controller.add(key));
    this.setMappings(options.mappings);
  }

  /** What each cache event means: expectations it meets, keys it enqueues, statuses it ends. */
  #cacheEvents(): CacheEvents {
    return {
      namespace: (ns, deleted) => {
        if (deleted) this.#forgetNamespace(ns.name);
        this.#enqueue.namespace(ns.name);
      },
      serviceAccount: (sa, deleted) => {
        this.#expectations.observe(serviceAccountCacheKey(sa.namespace, sa.name), deleted ? "" : sa.resourceVersion);
        this.#enqueue.namespace(sa.namespace);
      },
      copy: (secret, deleted) => {
        this.#expectations.observe(
          secretCacheKey(secret.namespace, secret.name),
          deleted ? "" : secret.resourceVersion,
        );
        this.#enqueue.copy(secret, deleted);
      },
      // Keys of this name waited for this list (a new or renamed copy name): plan them now.
      copiesListed: (secretName) => this.#enqueue.name(secretName),
    };
  }

  /** True once namespaces, ServiceAccounts and the copy watches of configured mappings have listed. */
  get synced(): boolean {
    return this.#cache.baseSynced && this.#table.mappings.every((m) => this.#cache.copiesSynced(m.secretName));
  }

  /** Longest time any watch has been silent; the app's health check reads it. */
  get msSinceLastWatchEvent(): number {
    return this.#cache.msSinceLastWatchEvent;
  }

  get queueLength(): number {
    return this.#controller.length;
  }

  /**
   * Why the engine may be working from stale or missing data, for readiness: watches or lists that
   * keep failing (naming the verb, e.g. a missing "watch" grant), and sources that failed to start.
   */
  problems(): string[] {
    const failures = this.#table.mappings.flatMap((m) => {
      const failure = this.#sources.failure(m.source);
      return failure ? [`mapping ${m.name}: ${failure}`] : [];
    });
    return [...this.#cache.problems(), ...failures];
  }

  /** Sizes of the internal maps; each is bounded by namespaces × mappings or by a fixed cap. */
  trackedCounts(): TrackedCounts {
    return {
      keyStatuses: this.#statuses.size,
      retiredMappings: this.#table.retired.size,
      expectations: this.#expectations.size,
      verifications: this.#gate.size,
      copyWatches: this.#cache.copyWatchCount,
      serviceAccountNamespaces: this.#cache.serviceAccountNamespaceCount,
    };
  }

  /**
   * Replaces the mappings (hot reload). Removed mappings, and names a mapping no longer writes, are
   * remembered so their copies and ServiceAccount entries are cleaned up (or kept, with
   * `retainOnMappingRemoval`, which may change in the same call so one edit never acts on a stale
   * setting). Sources no mapping uses any more are stopped; new ones start if the engine runs.
   */
  setMappings(mappings: readonly Mapping[], settings: { retainOnMappingRemoval?: boolean | undefined } = {}): void {
    const unused = this.#table.replace(mappings, settings.retainOnMappingRemoval);
    for (const m of mappings) this.#cache.watchCopies(m.secretName);
    for (const source of unused) this.#stopSource(source);
    this.#cache.stopCopyWatchesExcept(this.#table.namesInUse());
    this.#pruneStatus();
    if (this.#started) {
      for (const m of mappings) this.#startSource(m);
      this.#enqueueAll();
    }
  }

  /** Runs until `signal` aborts. Resolves after in-flight reconciles finish. */
  /**
   * Reconciles a namespace's keys soon, e.g. because a Pod there was just given a copy at admission:
   * its watch event may still be on the way. Harmless when the namespace is unknown or in sync.
   */
  enqueueNamespace(namespace: string): void {
    this.#enqueue.namespace(namespace);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#startAll(signal);
    const resync = this.#opts.resyncIntervalMs ?? 10 * 60_000;
    const timer = resync > 0 ? setInterval(() => this.#enqueueAll(), resync) : undefined;
    try {
      await this.#controller.run(signal, this.#opts.workers ?? 4);
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /**
   * One full pass, for `run --once` and CronJobs: syncs caches, waits (bounded) for sources' first
   * values, reconciles every key until the queue is idle, then stops. A key that keeps failing with
   * retryable errors is given up after the retry budget, so the pass always ends. Returns the keys
   * that failed, conflict or wait.
   */
  async runOnce(signal: AbortSignal): Promise<KeyStatus[]> {
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      this.#startAll(controller.signal, { enqueueOnSync: false });
      const running = this.#controller.run(controller.signal, this.#opts.workers ?? 4, { once: true });
      await this.#waitForCaches(controller.signal);
      await this.#waitForSources(controller.signal);
      this.#enqueueAll();
      await Promise.race([
        this.#controller.whenIdle(),
        new Promise((resolve) => controller.signal.addEventListener("abort", resolve, { once: true })),
      ]);
      controller.abort();
      await running;
    } finally {
      signal.removeEventListener("abort", stop);
    }
    return this.#statuses.unsettled();
  }

  /** Plans every key without writing; for `plan`. */
  async planAll(signal: AbortSignal): Promise<(KeyStatus & { plan: Plan })[]> {
    const controller = new AbortController();
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    this.#startAll(controller.signal, { enqueueOnSync: false });
    await this.#waitForCaches(controller.signal);
    await this.#waitForSources(controller.signal);
    const out: (KeyStatus & { plan: Plan })[] = [];
    for (const key of this.#enqueue.keys()) {
      const [id, namespace] = splitKey(key);
      const found = this.#lookup(id, namespace);
      if (found) out.push(planOnly(found));
    }
    controller.abort();
    return out;
  }

  async waitForSync(signal: AbortSignal): Promise<void> {
    await this.#cache.waitForSync(
      signal,
      this.#table.mappings.map((m) => m.secretName),
    );
  }

  /** Per-mapping counts from the last reconcile of each key. */
  status(): MappingStatus[] {
    return this.#table.mappings.map((m) =>
      mappingStatus(m, this.#cache.namespaces.list(), this.#statuses, {
        failure: this.#sources.failure(m.source),
        verificationError: this.#gate.problem(m.source),
      }),
    );
  }

  keyStatuses(): KeyStatus[] {
    return this.#statuses.values();
  }

  #startAll(signal: AbortSignal, options: { enqueueOnSync?: boolean } = {}): void {
    if (this.#started) throw new Error("the engine is already running");
    this.#started = true;
    this.#signal = signal;
    signal.addEventListener(
      "abort",
      () => {
        this.#started = false;
        for (const source of this.#sources.stopAll()) this.#gate.forget(source);
      },
      { once: true },
    );
    this.#cache.start(signal);
    for (const m of this.#table.mappings) this.#startSource(m);
    this.#log.info({ mappings: this.#table.mappings.map((m) => m.name) }, "engine started");
    if (options.enqueueOnSync === false) return;
    void this.waitForSync(signal).then(() => {
      if (signal.aborted) return;
      this.#log.info(
        { namespaces: this.#cache.namespaces.size, serviceAccounts: this.#cache.serviceAccounts.size },
        "caches synced",
      );
      this.#cleanup.retireFromRecords();
      this.#progress.begin(this.#cache.namespaces.size);
      this.#enqueueAll();
    });
  }

  /**
   * For one pass (`runOnce`, `plan`): namespaces and ServiceAccounts must list (an error names what
   * failed after the deadline); copy watches, removed mappings' included, get the same deadline,
   * after which their keys are reported rather than waited for.
   */
  async #waitForCaches(signal: AbortSignal): Promise<void> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.#opts.onceSyncTimeoutMs ?? 60_000)]);
    await this.#cache.waitForBase(deadline);
    if (!this.#cache.baseSynced && !signal.aborted) {
      const problems = [this.#cache.namespaces.problem, this.#cache.serviceAccounts.problem].filter(Boolean).join("; ");
      throw new Error(`namespaces and ServiceAccounts could not be listed in time${problems ? `: ${problems}` : ""}`);
    }
    // Removed mappings found in the records need their copy watches before planning.
    this.#cleanup.retireFromRecords();
    await this.#cache.waitForAllCopies(deadline);
  }

  /** Resolves when every source has settled its first attempt, or after the wait allowed for one pass. */
  async #waitForSources(signal: AbortSignal): Promise<void> {
    const sources = this.#table.mappings.map((m) => m.source);
    await this.#sources.firstAttempts(sources, signal, this.#opts.onceSourceWaitMs ?? 30_000);
  }

  #lookup(id: string, namespace: string): KeyLookup | undefined {
    const state = this.#table.keyState(id, namespace, this.#inputs);
    if (!state) return undefined;
    const secretName = state.mapping.secretName;
    return this.#cache.copiesSynced(secretName)
      ? { state }
      : { state, listProblem: this.#cache.copiesProblem(secretName) };
  }

  async #beforeWrite(): Promise<void> {
    await this.#bucket.take();
    if (this.#signal?.aborted) throw new WriteRefusedError("the engine is stopping");
    if (this.#opts.canWrite && !this.#opts.canWrite())
      throw new WriteRefusedError("this process may not write now (not the leader)");
  }

  #startSource(m: Mapping): void {
    if (this.#signal) this.#sources.start(m.source, m.name, this.#signal);
  }

  #stopSource(source: SourceProvider): void {
    this.#sources.stop(source);
    this.#gate.forget(source);
  }

  #enqueueAll(): void {
    if (!this.#cache.baseSynced) return;
    this.#cleanup.prune();
    this.#pruneStatus();
    this.#enqueue.all();
  }

  /** Forgets what was known about keys that cannot exist any more (mappings gone), and stale expectations. */
  #pruneStatus(): void {
    this.#statuses.keepOnly(new Set(this.#table.ids()));
    this.#expectations.prune();
  }

  #forgetNamespace(namespace: string): void {
    this.#statuses.forgetNamespace(namespace);
    this.#cleanup.schedule();
  }
}

export { addedByUs };
