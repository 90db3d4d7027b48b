import { CoreV1Api, type V1Namespace, type V1Secret, type V1ServiceAccount } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import type { SourceProvider, SourceValue } from "../plugins/contracts.js";
import { classifyApiError } from "../kube/errors.js";
import { EventRecorder } from "../kube/events.js";
import { Reflector } from "../kube/reflector.js";
import { TokenBucket } from "../kube/token-bucket.js";
import {
  namespaceView,
  namespacedKey,
  secretView,
  serviceAccountView,
  type CachedNamespace,
  type CachedSecret,
  type CachedServiceAccount,
} from "../kube/views.js";
import { WorkQueue, type HandlerResult } from "../queue/work-queue.js";
import { applyActions, coreV1Writer, StalePatchError, WriteRefusedError, type ClusterWriter, type Written } from "./apply.js";
import { INSTANCE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, MAPPING_LABEL, addedByUs } from "./ownership.js";
import { planKey, type KeyState, type MappingPolicy, type Outcome, type Plan } from "./plan.js";
import type { EngineOptions, KeyStatus, Mapping, MappingStatus, TrackedCounts } from "./engine-types.js";
import { RETIRED_SEP, SEP, keyOf, retiredId, splitKey } from "./keys.js";
import { RetiredMappings, leftBehind, recordedByInstance } from "./retired.js";

export type { EngineObserver, EngineOptions, KeyStatus, Mapping, MappingStatus, TrackedCounts } from "./engine-types.js";

const FIELD_MANAGER = "imagepullsecret-patcher";

/** A source the engine runs, with the controller that stops it when no mapping uses it any more. */
interface RunningSource {
  readonly stop: AbortController;
  readonly unsubscribe: () => void;
  /** Settles when the source's first attempt settled (its `start` contract), failed or not. */
  started: Promise<void>;
  /** Set when `start` threw: the source is dead until the engine is rebuilt. */
  failure?: string | undefined;
}

/** A watch on one copy name, stoppable on its own when no mapping uses the name any more. */
interface CopyWatch {
  readonly reflector: Reflector<V1Secret, CachedSecret>;
  readonly stop: AbortController;
}

/**
 * Informers → work queue keyed by (mapping, namespace) → `reconcile(key)` over cached state.
 * Embeddable: no globals, no `process.exit`, lifecycle bound to an AbortSignal.
 */
export class Engine {
  readonly #opts: EngineOptions;
  readonly #log: Logger;
  readonly #core: CoreV1Api;
  readonly #writer: ClusterWriter;
  readonly #instance: string;
  readonly #queue: WorkQueue;
  readonly #bucket: TokenBucket;
  readonly #events: EventRecorder | undefined;
  #mappings: Mapping[] = [];
  #retainOnRemoval: boolean;
  /** Removed mappings and former copy names, by retired id: cleaned up unless retained. */
  readonly #retired: RetiredMappings;
  #pruneTimer: NodeJS.Timeout | undefined;
  readonly #namespaces: Reflector<V1Namespace, CachedNamespace>;
  readonly #serviceAccounts: Reflector<V1ServiceAccount, CachedServiceAccount>;
  readonly #saByNamespace = new Map<string, Map<string, CachedServiceAccount>>();
  readonly #copyWatches = new Map<string, CopyWatch>();
  readonly #sources = new Map<SourceProvider, RunningSource>();
  /** Objects we just wrote, by cache key → the resourceVersion the cache must reach ("" = deleted). */
  readonly #expectations = new Map<string, { resourceVersion: string; at: number }>();
  readonly #status = new Map<string, KeyStatus>();
  /** `runOnce`: when each key started failing, to give up on it after the retry budget. */
  readonly #failingSince = new Map<string, number>();
  /** Verification results by source: the hash checked last and the newest value that passed. */
  readonly #verification = new Map<SourceProvider, { hash: string; ok?: boolean; problem?: string | undefined; passed?: SourceValue | undefined }>();
  #signal: AbortSignal | undefined;
  #started = false;
  /** Progress of the first full pass, for "synced 4,000/10,000 namespaces" logs. */
  #initialSync: { total: number; done: Set<string>; nextReport: number; started: number } | undefined;

  constructor(options: EngineOptions) {
    this.#opts = options;
    this.#log = options.logger ?? silentLogger;
    this.#instance = options.instance ?? "default";
    this.#retainOnRemoval = options.retainOnMappingRemoval ?? false;
    this.#retired = new RetiredMappings(this.#log);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#writer = options.writer ?? coreV1Writer(this.#core, FIELD_MANAGER);
    this.#queue = new WorkQueue({ observer: options.observer });
    this.#bucket = new TokenBucket(options.clientQps ?? 50, options.clientBurst ?? 100);
    this.#events = options.recordEvents === false ? undefined : new EventRecorder(options.kubeConfig, this.#log, "patcher", this.#instance);
    // Events are writes too: none after the engine stops or the leader lease is lost.
    if (this.#events) this.#events.gate = () => !this.#signal?.aborted && (options.canWrite?.() ?? true);
    const common = {
      kubeConfig: options.kubeConfig,
      logger: this.#log,
      observer: options.observer,
      inactivityTimeoutMs: options.watchInactivityTimeoutMs,
    };
    this.#namespaces = new Reflector<V1Namespace, CachedNamespace>({
      ...common,
      name: "namespaces",
      watchPath: "/api/v1/namespaces",
      list: (p) => this.#core.listNamespace(p),
      transform: namespaceView,
      key: (ns) => ns.name,
    });
    this.#serviceAccounts = new Reflector<V1ServiceAccount, CachedServiceAccount>({
      ...common,
      name: "serviceaccounts",
      watchPath: "/api/v1/serviceaccounts",
      list: (p) => this.#core.listServiceAccountForAllNamespaces(p),
      transform: serviceAccountView,
      key: namespacedKey,
    });
    this.#namespaces.on({
      add: (ns) => this.#enqueueNamespace(ns.name),
      update: (_o, ns) => this.#enqueueNamespace(ns.name),
      delete: (ns) => {
        this.#forgetNamespace(ns.name);
        this.#enqueueNamespace(ns.name);
      },
    });
    this.#serviceAccounts.on({
      add: (sa) => this.#indexSa(sa, true),
      update: (_o, sa) => this.#indexSa(sa, true),
      delete: (sa) => this.#indexSa(sa, false),
    });
    this.setMappings(options.mappings);
  }

  /** True once namespaces, ServiceAccounts and the copy watches of configured mappings have listed. */
  get synced(): boolean {
    return this.#baseSynced && this.#mappings.every((m) => this.#copyWatches.get(m.secretName)?.reflector.hasSynced ?? false);
  }

  /** Namespaces and ServiceAccounts have listed: keys can be enumerated. */
  get #baseSynced(): boolean {
    return this.#namespaces.hasSynced && this.#serviceAccounts.hasSynced;
  }

  /** A key can be planned once the Secrets of its own copy name have listed too. */
  #keySynced(secretName: string): boolean {
    return this.#baseSynced && (this.#copyWatches.get(secretName)?.reflector.hasSynced ?? false);
  }

  /** Longest time any watch has been silent; the app's health check reads it. */
  get msSinceLastWatchEvent(): number {
    return Math.max(this.#namespaces.msSinceLastEvent, this.#serviceAccounts.msSinceLastEvent);
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  /**
   * Why the engine may be working from stale or missing data, for readiness: watches or lists that
   * keep failing (naming the verb, e.g. a missing "watch" grant), and sources that failed to start.
   */
  problems(): string[] {
    const out: string[] = [];
    for (const r of [this.#namespaces, this.#serviceAccounts, ...[...this.#copyWatches.values()].map((w) => w.reflector)]) {
      if (r.problem) out.push(r.problem);
    }
    for (const m of this.#mappings) {
      const failure = this.#sources.get(m.source)?.failure;
      if (failure) out.push(`mapping ${m.name}: ${failure}`);
    }
    return out;
  }

  /** Sizes of the internal maps; each is bounded by namespaces × mappings or by a fixed cap. */
  trackedCounts(): TrackedCounts {
    return {
      keyStatuses: this.#status.size,
      retiredMappings: this.#retired.size,
      expectations: this.#expectations.size,
      verifications: this.#verification.size,
      copyWatches: this.#copyWatches.size,
      serviceAccountNamespaces: this.#saByNamespace.size,
    };
  }

  /**
   * Replaces the mappings (hot reload). Removed mappings, and names a mapping no longer writes, are
   * remembered so their copies and ServiceAccount entries are cleaned up (or kept, with
   * `retainOnMappingRemoval`, which may change in the same call so one edit never acts on a stale
   * setting). Sources no mapping uses any more are stopped; new ones start if the engine runs.
   */
  setMappings(mappings: readonly Mapping[], settings: { retainOnMappingRemoval?: boolean | undefined } = {}): void {
    const seen = new Set<string>();
    for (const m of mappings) {
      if (m.name.includes(SEP) || m.name.includes(RETIRED_SEP)) throw new Error(`mapping name "${m.name}" may not contain "${SEP}" or "${RETIRED_SEP}"`);
      if (seen.has(m.name)) throw new Error(`mapping name "${m.name}" is used twice`);
      seen.add(m.name);
    }
    if (settings.retainOnMappingRemoval !== undefined) this.#retainOnRemoval = settings.retainOnMappingRemoval;
    const next = new Map(mappings.map((m) => [m.name, m]));
    const previous = this.#mappings;
    this.#mappings = [...mappings];
    for (const old of previous) {
      const now = next.get(old.name);
      if (!now || now.secretName !== old.secretName) this.#retire(old.name, old.secretName);
    }
    for (const m of mappings) this.#retired.delete(retiredId(m.name, m.secretName));
    const oldSources = new Set(previous.map((m) => m.source));
    for (const m of mappings) this.#ensureCopyWatch(m.secretName);
    for (const source of oldSources) {
      if (!mappings.some((m) => m.source === source)) this.#stopSource(source);
    }
    this.#stopUnusedCopyWatches();
    this.#pruneStatus();
    if (this.#started) {
      for (const m of mappings) this.#startSource(m);
      this.#enqueueAll();
    }
  }

  /** Runs until `signal` aborts. Resolves after in-flight reconciles finish. */
  async run(signal: AbortSignal): Promise<void> {
    this.#startAll(signal);
    const resync = this.#opts.resyncIntervalMs ?? 10 * 60_000;
    const timer = resync > 0 ? setInterval(() => this.#enqueueAll(), resync) : undefined;
    try {
      await this.#queue.run((key) => this.#reconcile(key), { workers: this.#opts.workers ?? 4, signal });
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
      const running = this.#queue.run((key) => this.#reconcile(key, { once: true }), { workers: this.#opts.workers ?? 4, signal: controller.signal });
      await this.#waitForCaches(controller.signal);
      await this.#waitForSources(controller.signal, this.#opts.onceSourceWaitMs ?? 30_000);
      this.#enqueueAll();
      await Promise.race([this.#queue.whenIdle(), new Promise((resolve) => controller.signal.addEventListener("abort", resolve, { once: true }))]);
      controller.abort();
      await running;
    } finally {
      signal.removeEventListener("abort", stop);
    }
    return [...this.#status.values()].filter((s) => s.outcome === "error" || s.outcome === "conflict" || s.outcome === "waiting");
  }

  /** Plans every key without writing; for `plan`. */
  async planAll(signal: AbortSignal): Promise<(KeyStatus & { plan: Plan })[]> {
    const controller = new AbortController();
    signal.addEventListener("abort", () => controller.abort(), { once: true });
    this.#startAll(controller.signal, { enqueueOnSync: false });
    await this.#waitForCaches(controller.signal);
    await this.#waitForSources(controller.signal, this.#opts.onceSourceWaitMs ?? 30_000);
    const out: (KeyStatus & { plan: Plan })[] = [];
    for (const key of this.#allKeys()) {
      const [id, namespace] = splitKey(key);
      const state = this.#state(id, namespace);
      if (!state) continue;
      if (!this.#keySynced(state.mapping.secretName)) {
        const problem = this.#copyWatches.get(state.mapping.secretName)?.reflector.problem ?? "not listed in time";
        const reason = `Secrets named ${state.mapping.secretName} could not be listed: ${problem}`;
        out.push({ mapping: state.mapping.name, namespace, secretName: state.mapping.secretName, outcome: "error", reason, at: new Date(), plan: { outcome: "waiting", actions: [], reason } });
        continue;
      }
      const plan = planKey(state);
      out.push({ mapping: state.mapping.name, namespace, secretName: state.mapping.secretName, outcome: plan.outcome, reason: plan.reason, at: new Date(), plan });
    }
    controller.abort();
    return out;
  }

  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.#namespaces.waitForSync(signal),
      this.#serviceAccounts.waitForSync(signal),
      ...this.#mappings.map((m) => this.#copyWatches.get(m.secretName)?.reflector.waitForSync(signal)),
    ]);
  }

  /** Per-mapping counts from the last reconcile of each key. */
  status(): MappingStatus[] {
    return this.#mappings.map((m) => {
      const failure = this.#sources.get(m.source)?.failure;
      const sourceStatus = m.source.status();
      const s: MappingStatus = {
        name: m.name,
        source: m.source.description,
        sourceState: failure ? "failed" : sourceStatus.state,
        sourceError: failure ?? sourceStatus.error,
        verificationError: this.#verification.get(m.source)?.ok === false ? this.#verification.get(m.source)?.problem : undefined,
        inScope: 0,
        inSync: 0,
        conflicting: 0,
        failing: 0,
        waiting: 0,
        skipped: 0,
        skippedReasons: [],
      };
      for (const ns of this.#namespaces.list()) {
        if (ns.phase !== "Active" || !m.selector.matches(ns)) continue;
        s.inScope++;
        const st = this.#status.get(keyOf(m.name, ns.name));
        if (!st) continue;
        if (st.outcome === "in-sync") s.inSync++;
        else if (st.outcome === "conflict") s.conflicting++;
        else if (st.outcome === "error") s.failing++;
        else if (st.outcome === "waiting") s.waiting++;
        else if (st.outcome === "skipped") {
          s.skipped++;
          if (s.skippedReasons.length < 10 && !s.skippedReasons.includes(st.reason)) s.skippedReasons.push(st.reason);
        }
      }
      return s;
    });
  }

  keyStatuses(): KeyStatus[] {
    return [...this.#status.values()];
  }

  #startAll(signal: AbortSignal, options: { enqueueOnSync?: boolean } = {}): void {
    if (this.#started) throw new Error("the engine is already running");
    this.#started = true;
    this.#signal = signal;
    signal.addEventListener(
      "abort",
      () => {
        this.#started = false;
        for (const source of [...this.#sources.keys()]) this.#stopSource(source);
      },
      { once: true },
    );
    void this.#namespaces.run(signal);
    void this.#serviceAccounts.run(signal);
    for (const [name, watch] of this.#copyWatches) this.#runCopyWatch(name, watch);
    // Sources start in the background: one that cannot be read (say a 403 on its namespace) makes
    // its own mapping wait and report why, and never holds up the others.
    for (const m of this.#mappings) this.#startSource(m);
    this.#log.info({ mappings: this.#mappings.map((m) => m.name) }, "engine started");
    if (options.enqueueOnSync === false) return;
    void this.waitForSync(signal).then(() => {
      if (signal.aborted) return;
      this.#log.info({ namespaces: this.#namespaces.size, serviceAccounts: this.#serviceAccounts.size }, "caches synced");
      this.#retireFromRecords();
      this.#initialSync = { total: this.#namespaces.size, done: new Set(), nextReport: 0, started: Date.now() };
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
    await Promise.all([this.#namespaces.waitForSync(deadline), this.#serviceAccounts.waitForSync(deadline)]);
    if (!this.#baseSynced && !signal.aborted) {
      const problems = [this.#namespaces.problem, this.#serviceAccounts.problem].filter(Boolean).join("; ");
      throw new Error(`namespaces and ServiceAccounts could not be listed in time${problems ? `: ${problems}` : ""}`);
    }
    // Removed mappings found in the records need their copy watches before planning.
    this.#retireFromRecords();
    await Promise.all([...this.#copyWatches.values()].map((w) => w.reflector.waitForSync(deadline)));
  }

  /** Resolves when every source has settled (has a value, or reported a problem), or after `maxMs`. */
  async #waitForSources(signal: AbortSignal, maxMs: number): Promise<void> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(maxMs)]);
    const gaveUp = new Promise<void>((resolve) => deadline.addEventListener("abort", () => resolve(), { once: true }));
    await Promise.race([Promise.all(this.#mappings.map((m) => this.#sources.get(m.source)?.started ?? Promise.resolve())), gaveUp]);
  }

  /**
   * Logs progress of the first pass, counted in keys so a namespace is done only when every
   * mapping has reconciled it. Large clusters get a line about every 10%.
   */
  #reportInitialSync(key: string): void {
    const sync = this.#initialSync;
    if (!sync || sync.done.has(key)) return;
    sync.done.add(key);
    const perNamespace = Math.max(1, this.#mappings.length + this.#retired.size);
    const totalKeys = sync.total * perNamespace;
    if (sync.done.size >= totalKeys) {
      this.#log.info({ namespaces: sync.total, ms: Date.now() - sync.started }, `initial sync complete: ${sync.total.toLocaleString("en-US")} namespaces`);
      this.#initialSync = undefined;
    } else if (sync.total >= 100 && sync.done.size >= sync.nextReport) {
      const done = Math.floor(sync.done.size / perNamespace);
      if (done > 0) this.#log.info({ done, total: sync.total }, `synced ${done.toLocaleString("en-US")}/${sync.total.toLocaleString("en-US")} namespaces`);
      sync.nextReport = sync.done.size + Math.ceil(totalKeys / 10);
    }
  }

  #startSource(m: Mapping): void {
    const source = m.source;
    if (this.#sources.has(source) || !this.#signal || this.#signal.aborted) return;
    const stop = new AbortController();
    const parent = this.#signal;
    parent.addEventListener("abort", () => stop.abort(), { once: true, signal: stop.signal });
    const running: RunningSource = { stop, unsubscribe: source.onChange(() => this.#enqueueSource(source)), started: Promise.resolve() };
    this.#sources.set(source, running);
    running.started = source.start(stop.signal).then(
      () => this.#enqueueSource(source),
      (err: unknown) => {
        running.failure = `source ${source.description} failed to start: ${err instanceof Error ? err.message : String(err)}`;
        this.#log.error({ mapping: m.name, source: source.description, error: running.failure }, "source failed to start");
        this.#enqueueSource(source);
      },
    );
  }

  #stopSource(source: SourceProvider): void {
    const running = this.#sources.get(source);
    this.#sources.delete(source);
    this.#verification.delete(source);
    if (!running) return;
    running.unsubscribe();
    running.stop.abort();
  }

  #ensureCopyWatch(secretName: string): void {
    if (this.#copyWatches.has(secretName)) return;
    // Watch copies by name across namespaces: sees our copies and any same-name Secret (for
    // conflicts), and nothing else, so RBAC can limit the patcher to these names.
    const reflector = new Reflector<V1Secret, CachedSecret>({
      kubeConfig: this.#opts.kubeConfig,
      logger: this.#log,
      observer: this.#opts.observer,
      inactivityTimeoutMs: this.#opts.watchInactivityTimeoutMs,
      name: `secrets/${secretName}`,
      watchPath: "/api/v1/secrets",
      fieldSelector: `metadata.name=${secretName}`,
      list: (p) => this.#core.listSecretForAllNamespaces(p),
      transform: secretView,
      key: namespacedKey,
    });
    const onSecret = (s: CachedSecret, deleted: boolean): void => {
      this.#meetExpectation(`secret/${namespacedKey(s)}`, deleted ? "" : s.resourceVersion);
      for (const m of this.#mappings) if (m.secretName === s.name) this.#queue.add(keyOf(m.name, s.namespace));
      for (const [id, r] of this.#retired) if (r.secretName === s.name) this.#queue.add(keyOf(id, s.namespace));
      // One of this instance's copies from a mapping (or name) not configured now, e.g. removed
      // while the patcher was down. Another instance's copies are never ours to retire.
      const mapping = s.labels[MAPPING_LABEL];
      const ours = s.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && (s.labels[INSTANCE_LABEL] ?? "") === this.#instance;
      if (!deleted && mapping && ours && this.#retire(mapping, s.name)) this.#queue.add(keyOf(retiredId(mapping, s.name), s.namespace));
    };
    let listed = false;
    reflector.on({
      add: (s) => onSecret(s, false),
      update: (_o, s) => onSecret(s, false),
      delete: (s) => onSecret(s, true),
      // Keys of this name waited for this list (a new or renamed copy name): plan them now.
      synced: () => {
        if (listed) return;
        listed = true;
        this.#enqueueName(secretName);
      },
    });
    const watch: CopyWatch = { reflector, stop: new AbortController() };
    this.#copyWatches.set(secretName, watch);
    if (this.#started) this.#runCopyWatch(secretName, watch);
  }

  #runCopyWatch(_name: string, watch: CopyWatch): void {
    const parent = this.#signal;
    if (!parent || parent.aborted || watch.stop.signal.aborted) return;
    parent.addEventListener("abort", () => watch.stop.abort(), { once: true, signal: watch.stop.signal });
    void watch.reflector.run(watch.stop.signal);
  }

  #stopUnusedCopyWatches(): void {
    const used = new Set([...this.#mappings.map((m) => m.secretName), ...[...this.#retired.values()].map((r) => r.secretName)]);
    for (const [name, watch] of this.#copyWatches) {
      if (used.has(name)) continue;
      watch.stop.abort();
      this.#copyWatches.delete(name);
    }
  }

  /** Tracks (mapping, copy name) for cleanup when no configured mapping writes that name any more. */
  #retire(name: string, secretName: string): boolean {
    if (this.#mappings.some((m) => m.name === name && m.secretName === secretName)) return false;
    if (!this.#retired.add(name, secretName)) return false;
    this.#ensureCopyWatch(secretName);
    return true;
  }

  /**
   * After a restart, mappings removed or renamed while the patcher was down are only known from
   * what they left: this instance's records on ServiceAccounts name the mapping and the copy.
   */
  #retireFromRecords(): void {
    const accounts = [...this.#saByNamespace.values()].flatMap((byName) => [...byName.values()]);
    const fresh = recordedByInstance(this.#instance, accounts).filter((r) => this.#retire(r.name, r.secretName));
    if (fresh.length) this.#log.info({ retired: fresh.map((r) => retiredId(r.name, r.secretName)) }, "found entries of mappings no longer configured; cleaning up");
  }

  /** Drops retired entries that left nothing behind: no copy of theirs, no record on any ServiceAccount. */
  #pruneRetired(): void {
    if (!this.synced || this.#retired.size === 0) return;
    const accounts = (): Iterable<[string, Iterable<CachedServiceAccount>]> => [...this.#saByNamespace].map(([ns, byName]) => [ns, byName.values()]);
    for (const [id, r] of [...this.#retired]) {
      const watch = this.#copyWatches.get(r.secretName);
      if (!watch?.reflector.hasSynced || leftBehind(r, this.#instance, watch.reflector, accounts())) continue;
      this.#retired.delete(id);
      for (const key of [...this.#status.keys()]) if (splitKey(key)[0] === id) this.#status.delete(key);
    }
    this.#stopUnusedCopyWatches();
  }

  /** Forgets what was known about keys that cannot exist any more (mappings gone, namespaces gone). */
  #pruneStatus(): void {
    const ids = new Set([...this.#mappings.map((m) => m.name), ...this.#retired.keys()]);
    for (const key of [...this.#status.keys()]) if (!ids.has(splitKey(key)[0])) this.#status.delete(key);
    const now = Date.now();
    for (const [key, e] of this.#expectations) if (now - e.at > 30_000) this.#expectations.delete(key);
  }

  #forgetNamespace(namespace: string): void {
    for (const key of [...this.#status.keys()]) if (splitKey(key)[1] === namespace) this.#status.delete(key);
    this.#schedulePrune();
  }

  /** Prunes retired entries soon after cleanup work settles, not only on resync. */
  #schedulePrune(): void {
    if (this.#pruneTimer || this.#retired.size === 0) return;
    this.#pruneTimer = setTimeout(() => {
      this.#pruneTimer = undefined;
      if (this.#started) this.#pruneRetired();
    }, 1000);
    this.#pruneTimer.unref();
  }

  #indexSa(sa: CachedServiceAccount, present: boolean): void {
    let byName = this.#saByNamespace.get(sa.namespace);
    if (present) {
      if (!byName) this.#saByNamespace.set(sa.namespace, (byName = new Map<string, CachedServiceAccount>()));
      byName.set(sa.name, sa);
    } else {
      byName?.delete(sa.name);
      if (byName?.size === 0) this.#saByNamespace.delete(sa.namespace);
    }
    this.#meetExpectation(`sa/${namespacedKey(sa)}`, present ? sa.resourceVersion : "");
    this.#enqueueNamespace(sa.namespace);
  }

  /** resourceVersion of a cached object by expectation key, "" when not cached. */
  #cachedVersion(cacheKey: string): string {
    const [kind, namespace, name] = cacheKey.split("/") as [string, string, string];
    if (kind === "sa") return this.#saByNamespace.get(namespace)?.get(name)?.resourceVersion ?? "";
    return this.#copyWatches.get(name)?.reflector.get(`${namespace}/${name}`)?.resourceVersion ?? "";
  }

  #meetExpectation(key: string, resourceVersion: string): void {
    const expected = this.#expectations.get(key)?.resourceVersion;
    if (expected === undefined) return;
    // resourceVersions are opaque; etcd's are integers, so "newer" also satisfies when comparable.
    const newer = expected !== "" && resourceVersion !== "" && Number(resourceVersion) >= Number(expected);
    if (expected === resourceVersion || newer) this.#expectations.delete(key);
  }

  #enqueueNamespace(namespace: string): void {
    for (const m of this.#mappings) this.#queue.add(keyOf(m.name, namespace));
    for (const id of this.#retired.keys()) this.#queue.add(keyOf(id, namespace));
  }

  #enqueueName(secretName: string): void {
    if (!this.#baseSynced) return;
    const ids = [...this.#mappings.filter((m) => m.secretName === secretName).map((m) => m.name), ...[...this.#retired].filter(([, r]) => r.secretName === secretName).map(([id]) => id)];
    for (const ns of this.#namespaces.list()) for (const id of ids) this.#queue.add(keyOf(id, ns.name));
  }

  #enqueueSource(source: SourceProvider): void {
    if (!this.#baseSynced) return;
    for (const m of this.#mappings) {
      if (m.source !== source) continue;
      for (const ns of this.#namespaces.list()) this.#queue.add(keyOf(m.name, ns.name));
    }
  }

  *#allKeys(): Generator<string> {
    for (const ns of this.#namespaces.list()) {
      for (const m of this.#mappings) yield keyOf(m.name, ns.name);
      for (const id of this.#retired.keys()) yield keyOf(id, ns.name);
    }
  }

  #enqueueAll(): void {
    if (!this.#baseSynced) return;
    this.#pruneRetired();
    this.#pruneStatus();
    for (const key of this.#allKeys()) this.#queue.add(key);
  }

  /** The winning mapping for (namespace, secretName): the first in config order that selects it. */
  #claimant(namespace: CachedNamespace, secretName: string): string | undefined {
    for (const m of this.#mappings) {
      if (m.secretName !== secretName) continue;
      if (this.#isSourceSecret(namespace.name, secretName)) continue;
      if (namespace.phase === "Active" && m.selector.matches(namespace)) return m.name;
    }
    return undefined;
  }

  #sourceSecrets(): { namespace: string; name: string }[] {
    return this.#mappings.flatMap((m) => m.source.secretsRead ?? []);
  }

  #isSourceSecret(namespace: string, name: string): boolean {
    return this.#sourceSecrets().some((s) => s.namespace === namespace && s.name === name);
  }

  #state(id: string, namespaceName: string): KeyState | undefined {
    const active = this.#mappings.find((m) => m.name === id);
    const retired = active ? undefined : this.#retired.get(id);
    if (!active && !retired) return undefined;
    const name = active?.name ?? retired?.name ?? id;
    const secretName = active?.secretName ?? retired?.secretName ?? "";
    const namespace = this.#namespaces.get(namespaceName);
    const policy: MappingPolicy = active
      ? { name, secretName, selector: active.selector, strategy: active.strategy, conflictPolicy: active.conflictPolicy, active: true }
      : {
          name,
          secretName,
          selector: { description: "removed mapping", matches: () => false },
          strategy: { description: "removed mapping", selects: () => false },
          conflictPolicy: "skip",
          active: false,
        };
    const claimant = namespace ? this.#claimant(namespace, secretName) : undefined;
    return {
      mapping: policy,
      instance: this.#instance,
      namespaceName,
      namespace,
      credential: active ? this.#usableCredential(active) : undefined,
      // Every configured source, not just this mapping's: no copy ever overwrites any of them.
      sourceSecrets: this.#sourceSecrets(),
      secret: this.#copyWatches.get(secretName)?.reflector.get(`${namespaceName}/${secretName}`),
      serviceAccounts: [...(this.#saByNamespace.get(namespaceName)?.values() ?? [])],
      claimedBy: claimant && (claimant !== name || !active) ? claimant : undefined,
      retainOnRemoval: this.#retainOnRemoval,
    };
  }

  /** The source's value, or with `verifyCredential` the newest value that passed verification. */
  #usableCredential(m: Mapping): SourceValue | undefined {
    const value = m.source.current();
    const verify = this.#opts.verifyCredential;
    if (!value || !verify) return value;
    const record = this.#verification.get(m.source);
    if (record?.hash === value.credential.hash) return record.ok ? value : record.passed;
    const passed = record?.passed;
    this.#verification.set(m.source, { hash: value.credential.hash, passed });
    verify(value, m.name).then(
      (result) => this.#verified(m, value, result.ok, result.problem),
      (err: unknown) => this.#verified(m, value, false, err instanceof Error ? err.message : "verification failed"),
    );
    return passed;
  }

  #verified(m: Mapping, value: SourceValue, ok: boolean, problem: string | undefined): void {
    const record = this.#verification.get(m.source);
    if (record?.hash !== value.credential.hash) return; // a newer value is being checked, or the source was removed
    this.#verification.set(m.source, { hash: record.hash, ok, problem, passed: ok ? value : record.passed });
    if (ok) this.#log.info({ mapping: m.name, hash: value.credential.hash }, "new credential verified");
    else this.#log.warn({ mapping: m.name, hash: value.credential.hash, problem }, "new credential failed verification; keeping the previous one");
    this.#enqueueSource(m.source);
  }

  #pendingExpectation(state: KeyState): boolean {
    const pending = (key: string): boolean => {
      const e = this.#expectations.get(key);
      if (!e) return false;
      // A watch that lost our event must not block the key forever; the relist fixes the cache.
      if (Date.now() - e.at > 30_000) {
        this.#expectations.delete(key);
        return false;
      }
      return true;
    };
    if (pending(`secret/${state.namespaceName}/${state.mapping.secretName}`)) return true;
    return state.serviceAccounts.some((sa) => pending(`sa/${namespacedKey(sa)}`));
  }

  #record(id: string, state: KeyState, outcome: Outcome | "error", reason: string, started: number): void {
    const key = keyOf(id, state.namespaceName);
    // Only keys of namespaces that exist are kept: the map stays bounded by the cluster.
    if (state.namespace) this.#status.set(key, { mapping: state.mapping.name, namespace: state.namespaceName, secretName: state.mapping.secretName, outcome, reason, at: new Date() });
    else this.#status.delete(key);
    if (outcome !== "error") this.#reportInitialSync(key);
    this.#opts.observer?.onReconcile?.(state.mapping.name, outcome, Date.now() - started);
  }

  async #reconcile(key: string, mode: { once?: boolean } = {}): Promise<HandlerResult> {
    const written: Written[] = [];
    try {
      const result = await this.#reconcileKey(key, mode, written);
      if (result.kind !== "retry" && result.kind !== "requeue-after") {
        this.#failingSince.delete(key);
        return result;
      }
      if (!mode.once) return result;
      // One pass always ends: a key still retrying or waiting after the budget is given up.
      const since = this.#failingSince.get(key) ?? Date.now();
      this.#failingSince.set(key, since);
      const left = (this.#opts.onceRetryBudgetMs ?? 30_000) - (Date.now() - since);
      if (left > 0) return result.kind === "retry" && result.retryAfterMs !== undefined ? { ...result, retryAfterMs: Math.min(result.retryAfterMs, left) } : result;
      this.#failingSince.delete(key);
      const [id, namespace] = splitKey(key);
      const previous = this.#status.get(key);
      const why = previous && previous.outcome !== "in-sync" ? previous.reason : "its last write never showed up in the watch";
      const message = `gave up after ${Math.round((Date.now() - since) / 1000)}s: ${why}`;
      if (this.#namespaces.get(namespace)) this.#status.set(key, { mapping: previous?.mapping ?? id, namespace, secretName: previous?.secretName, outcome: previous?.outcome === "waiting" ? "waiting" : "error", reason: message, at: new Date() });
      this.#log.error({ key, reason: message }, "key did not settle; giving up for this pass");
      return { kind: "terminal", error: new Error(message) };
    } finally {
      const at = Date.now();
      for (const w of written) {
        this.#expectations.set(w.cacheKey, { resourceVersion: w.resourceVersion, at });
        // The watch may have delivered the write already, before the expectation existed.
        this.#meetExpectation(w.cacheKey, this.#cachedVersion(w.cacheKey));
      }
    }
  }

  /** Records a conflict once per change of its reason, so a lasting conflict writes no Events. */
  #reportConflict(id: string, state: KeyState, reason: string, log: Logger): void {
    const previous = this.#status.get(keyOf(id, state.namespaceName));
    if (previous?.outcome === "conflict" && previous.reason === reason) return;
    this.#opts.observer?.onConflict?.(state.mapping.name, state.namespaceName);
    log.warn({ reason }, "conflict; not writing");
    this.#events?.record(
      state.secret
        ? { kind: "Secret", namespace: state.namespaceName, name: state.mapping.secretName, uid: state.secret.uid }
        : { kind: "Namespace", namespace: state.namespaceName, name: state.namespaceName, uid: state.namespace?.uid },
      "Warning",
      "Conflict",
      reason,
    );
  }

  async #beforeWrite(): Promise<void> {
    await this.#bucket.take();
    if (this.#signal?.aborted) throw new WriteRefusedError("the engine is stopping");
    if (this.#opts.canWrite && !this.#opts.canWrite()) throw new WriteRefusedError("this process may not write now (not the leader)");
  }

  async #reconcileKey(key: string, mode: { once?: boolean }, written: Written[]): Promise<HandlerResult> {
    const started = Date.now();
    const [id, namespaceName] = splitKey(key);
    const state = this.#state(id, namespaceName);
    if (!state) return { kind: "done" };
    // Keys enqueued while caches still list are enqueued again once they have synced.
    if (!this.#keySynced(state.mapping.secretName)) {
      if (!mode.once) return { kind: "done" };
      const problem = this.#copyWatches.get(state.mapping.secretName)?.reflector.problem ?? "not listed in time";
      this.#record(id, state, "error", `Secrets named ${state.mapping.secretName} could not be listed: ${problem}`, started);
      return { kind: "terminal", error: new Error(problem) };
    }
    // Our last write is not in the cache yet: planning now would repeat it. The watch event
    // re-enqueues the key; the delay is a safety net should that event never come.
    if (this.#pendingExpectation(state)) return { kind: "requeue-after", ms: mode.once ? 200 : 5_000 };

    const plan = planKey(state);
    const log = this.#log.child({ mapping: state.mapping.name, namespace: namespaceName });
    if (plan.outcome === "conflict") this.#reportConflict(id, state, plan.reason, log);
    if (plan.actions.length === 0) {
      this.#record(id, state, plan.outcome, plan.reason, started);
      if (!state.mapping.active) this.#schedulePrune();
      if (plan.outcome === "waiting" && state.secret?.deleting) return { kind: "requeue-after", ms: 1000 };
      return { kind: "done" };
    }
    try {
      await applyActions(
        { writer: this.#writer, beforeWrite: () => this.#beforeWrite(), observer: this.#opts.observer },
        { mappingName: state.mapping.name, namespace: namespaceName, secretName: state.mapping.secretName, instance: this.#instance },
        plan.actions,
        state.credential,
        state.secret,
        written,
      );
      log.info({ actions: plan.reason }, "reconciled");
      this.#record(id, state, plan.outcome === "changes" ? "in-sync" : plan.outcome, plan.reason, started);
      return { kind: "done" };
    } catch (err) {
      return this.#failed(id, state, plan.reason, err, started, log);
    }
  }

  #failed(id: string, state: KeyState, planned: string, err: unknown, started: number, log: Logger): HandlerResult {
    if (err instanceof WriteRefusedError) {
      log.info({ reason: err.message }, "write not sent");
      return { kind: "terminal", error: err };
    }
    // A JSON patch built from a stale cache: re-read and try again, like a 409.
    const c = err instanceof StalePatchError ? { kind: "conflict" as const, status: 422, message: err.message, retryAfterMs: undefined } : classifyApiError(err);
    const namespaceName = state.namespaceName;
    if (c.kind === "terminal") {
      const previous = this.#status.get(keyOf(id, namespaceName));
      this.#record(id, state, "error", c.message, started);
      log.error({ error: c.message, status: c.status }, "reconcile failed; not retrying until something changes");
      // One Event per failure, not one per resync while it lasts.
      if (previous?.outcome !== "error" || previous.reason !== c.message) {
        this.#events?.record({ kind: "Namespace", namespace: namespaceName, name: namespaceName, uid: state.namespace?.uid }, "Warning", "Failed", `${planned}: ${c.message}`);
      }
      return { kind: "terminal", error: new Error(c.message) };
    }
    this.#record(id, state, "error", c.message, started);
    log.warn({ error: c.message, status: c.status, kind: c.kind }, "reconcile failed; will retry");
    return { kind: "retry", error: new Error(c.message), retryAfterMs: c.retryAfterMs };
  }
}

export { addedByUs };
