import { CoreV1Api, type KubeConfig, type V1Namespace, type V1Secret, type V1ServiceAccount } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import type { PatchStrategy, SourceProvider, SourceValue, TargetSelector } from "../plugins/contracts.js";
import { classifyApiError } from "../kube/errors.js";
import { EventRecorder } from "../kube/events.js";
import { Reflector, type ReflectorObserver } from "../kube/reflector.js";
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
import { WorkQueue, type HandlerResult, type QueueObserver } from "../queue/work-queue.js";
import { applyActions, type WriteObserver, type Written } from "./apply.js";
import { MAPPING_LABEL, addedByUs } from "./ownership.js";
import { planKey, type ConflictPolicy, type KeyState, type MappingPolicy, type Outcome, type Plan } from "./plan.js";

/** One credential going to one set of namespaces. */
export interface Mapping {
  readonly name: string;
  /** Name of the copies this mapping writes. */
  readonly secretName: string;
  readonly source: SourceProvider;
  readonly selector: TargetSelector;
  readonly strategy: PatchStrategy;
  readonly conflictPolicy: ConflictPolicy;
}

/** Hooks for metrics; all optional. */
export interface EngineObserver extends WriteObserver, ReflectorObserver, QueueObserver {
  onReconcile?(mapping: string, outcome: Outcome | "error", durationMs: number): void;
  onConflict?(mapping: string, namespace: string): void;
}

/** Settings of an {@link Engine}; only `kubeConfig` and `mappings` are required. */
export interface EngineOptions {
  kubeConfig: KubeConfig;
  mappings: readonly Mapping[];
  logger?: Logger | undefined;
  /** Distinguishes installations sharing a cluster; each only cleans up its own copies. */
  instance?: string | undefined;
  /** Concurrent reconciles. */
  workers?: number | undefined;
  /** Re-evaluates every key from cache this often, to catch anything an event missed. 0 disables. */
  resyncIntervalMs?: number | undefined;
  /** Client-side write rate limit. */
  clientQps?: number | undefined;
  clientBurst?: number | undefined;
  /** Keep copies and entries of a mapping removed from config. */
  retainOnMappingRemoval?: boolean | undefined;
  /** Write Kubernetes Events on conflicts and failures. */
  recordEvents?: boolean | undefined;
  /** Watchdog: relist a watch that delivered nothing for this long. */
  watchInactivityTimeoutMs?: number | undefined;
  /**
   * Checks a new credential before it fans out (for example a registry login probe). Until a
   * value passes, the last value that passed keeps being used; a failure is logged and shown in
   * {@link Engine.status}.
   */
  verifyCredential?: ((value: SourceValue, mapping: string) => Promise<{ ok: boolean; problem?: string | undefined }>) | undefined;
  observer?: EngineObserver | undefined;
}

/** The last outcome of one (mapping, namespace) key. */
export interface KeyStatus {
  mapping: string;
  namespace: string;
  outcome: Outcome | "error";
  reason: string;
  at: Date;
}

/** Per-mapping counts for `status`, metrics and readiness. */
export interface MappingStatus {
  name: string;
  source: string;
  sourceState: string;
  sourceError?: string | undefined;
  /** Why the newest credential is held back, when `verifyCredential` refused it. */
  verificationError?: string | undefined;
  inScope: number;
  inSync: number;
  conflicting: number;
  failing: number;
  waiting: number;
}

const FIELD_MANAGER = "imagepullsecret-patcher";
const SEP = "|";

function keyOf(mapping: string, namespace: string): string {
  return `${mapping}${SEP}${namespace}`;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf(SEP);
  return [key.slice(0, i), key.slice(i + 1)];
}

function stripNamespace(ns: V1Namespace): CachedNamespace {
  return namespaceView(ns);
}

/**
 * Informers → work queue keyed by (mapping, namespace) → `reconcile(key)` over cached state.
 * Embeddable: no globals, no `process.exit`, lifecycle bound to an AbortSignal.
 */
export class Engine {
  readonly #opts: EngineOptions;
  readonly #log: Logger;
  readonly #core: CoreV1Api;
  readonly #instance: string;
  readonly #queue: WorkQueue;
  readonly #bucket: TokenBucket;
  readonly #events: EventRecorder | undefined;
  #mappings: Mapping[] = [];
  /** Mappings removed by reload: their copies are cleaned up unless retained. */
  readonly #retired = new Map<string, { name: string; secretName: string }>();
  readonly #namespaces: Reflector<V1Namespace, CachedNamespace>;
  readonly #serviceAccounts: Reflector<V1ServiceAccount, CachedServiceAccount>;
  readonly #saByNamespace = new Map<string, Map<string, CachedServiceAccount>>();
  readonly #secretReflectors = new Map<string, Reflector<V1Secret, CachedSecret>>();
  readonly #sourceUnsubscribe = new Map<SourceProvider, () => void>();
  readonly #startedSources = new Set<SourceProvider>();
  /** Objects we just wrote, by cache key → the resourceVersion the cache must reach ("" = deleted). */
  readonly #expectations = new Map<string, { resourceVersion: string; at: number }>();
  readonly #status = new Map<string, KeyStatus>();
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
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#queue = new WorkQueue({ observer: options.observer });
    this.#bucket = new TokenBucket(options.clientQps ?? 50, options.clientBurst ?? 100);
    this.#events = options.recordEvents === false ? undefined : new EventRecorder(options.kubeConfig, this.#log, "patcher", this.#instance);
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
      transform: stripNamespace,
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
      delete: (ns) => this.#enqueueNamespace(ns.name),
    });
    this.#serviceAccounts.on({
      add: (sa) => this.#indexSa(sa, true),
      update: (_o, sa) => this.#indexSa(sa, true),
      delete: (sa) => this.#indexSa(sa, false),
    });
    this.setMappings(options.mappings);
  }

  /** True once namespaces, ServiceAccounts and every copy watch have listed. */
  get synced(): boolean {
    return this.#namespaces.hasSynced && this.#serviceAccounts.hasSynced && [...this.#secretReflectors.values()].every((r) => r.hasSynced);
  }

  /** Longest time any watch has been silent; the app's health check reads it. */
  get msSinceLastWatchEvent(): number {
    return Math.max(this.#namespaces.msSinceLastEvent, this.#serviceAccounts.msSinceLastEvent);
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  /**
   * Replaces the mappings (hot reload). Removed mappings are remembered so their copies and
   * ServiceAccount entries are cleaned up; new sources start if the engine runs.
   */
  setMappings(mappings: readonly Mapping[]): void {
    const seen = new Set<string>();
    for (const m of mappings) {
      if (seen.has(m.name)) throw new Error(`mapping name "${m.name}" is used twice`);
      seen.add(m.name);
    }
    for (const old of this.#mappings) {
      if (!seen.has(old.name)) this.#retired.set(old.name, { name: old.name, secretName: old.secretName });
    }
    for (const m of mappings) this.#retired.delete(m.name);
    const oldSources = new Set(this.#mappings.map((m) => m.source));
    this.#mappings = [...mappings];
    for (const m of mappings) this.#ensureSecretReflector(m.secretName);
    for (const source of oldSources) {
      if (!mappings.some((m) => m.source === source)) {
        this.#sourceUnsubscribe.get(source)?.();
        this.#sourceUnsubscribe.delete(source);
      }
    }
    if (this.#started) {
      for (const m of mappings) void this.#startSource(m);
      this.#enqueueAll();
    }
  }

  /** Runs until `signal` aborts. Resolves after in-flight reconciles finish. */
  async run(signal: AbortSignal): Promise<void> {
    await this.#startAll(signal);
    const resync = this.#opts.resyncIntervalMs ?? 10 * 60_000;
    const timer = resync > 0 ? setInterval(() => this.#enqueueAll(), resync) : undefined;
    try {
      await this.#queue.run((key) => this.#reconcile(key), { workers: this.#opts.workers ?? 4, signal });
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /**
   * One full pass, for `run --once` and CronJobs: syncs caches, reconciles every key until the queue
   * is idle, then stops. Returns the keys that failed or conflict.
   */
  async runOnce(signal: AbortSignal): Promise<KeyStatus[]> {
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    signal.addEventListener("abort", stop, { once: true });
    try {
      const running = this.#startAll(controller.signal).then(() =>
        this.#queue.run((key) => this.#reconcile(key, { once: true }), { workers: this.#opts.workers ?? 4, signal: controller.signal }),
      );
      await this.waitForSync(controller.signal);
      await this.#queue.whenIdle();
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
    await this.#startAll(controller.signal);
    await this.waitForSync(controller.signal);
    const out: (KeyStatus & { plan: Plan })[] = [];
    for (const key of this.#allKeys()) {
      const [mapping, namespace] = splitKey(key);
      const state = this.#state(mapping, namespace);
      if (!state) continue;
      const plan = planKey(state);
      out.push({ mapping, namespace, outcome: plan.outcome, reason: plan.reason, at: new Date(), plan });
    }
    controller.abort();
    return out;
  }

  async waitForSync(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.#namespaces.waitForSync(signal),
      this.#serviceAccounts.waitForSync(signal),
      ...[...this.#secretReflectors.values()].map((r) => r.waitForSync(signal)),
    ]);
  }

  /** Per-mapping counts from the last reconcile of each key. */
  status(): MappingStatus[] {
    return this.#mappings.map((m) => {
      const s: MappingStatus = {
        name: m.name,
        source: m.source.description,
        sourceState: m.source.status().state,
        sourceError: m.source.status().error,
        verificationError: this.#verification.get(m.source)?.ok === false ? this.#verification.get(m.source)?.problem : undefined,
        inScope: 0,
        inSync: 0,
        conflicting: 0,
        failing: 0,
        waiting: 0,
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
      }
      return s;
    });
  }

  keyStatuses(): KeyStatus[] {
    return [...this.#status.values()];
  }

  async #startAll(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error("the engine is already running");
    this.#started = true;
    this.#signal = signal;
    signal.addEventListener("abort", () => {
      this.#started = false;
      this.#startedSources.clear();
    }, { once: true });
    void this.#namespaces.run(signal);
    void this.#serviceAccounts.run(signal);
    for (const r of this.#secretReflectors.values()) void r.run(signal);
    await Promise.all(this.#mappings.map((m) => this.#startSource(m)));
    this.#log.info({ mappings: this.#mappings.map((m) => m.name) }, "engine started");
    void this.waitForSync(signal).then(() => {
      if (signal.aborted) return;
      this.#log.info(
        { namespaces: this.#namespaces.size, serviceAccounts: this.#serviceAccounts.size },
        "caches synced",
      );
      this.#initialSync = { total: this.#namespaces.size, done: new Set(), nextReport: 0, started: Date.now() };
      this.#enqueueAll();
    });
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

  async #startSource(m: Mapping): Promise<void> {
    const source = m.source;
    if (!this.#sourceUnsubscribe.has(source)) {
      this.#sourceUnsubscribe.set(source, source.onChange(() => this.#enqueueSource(source)));
    }
    if (this.#startedSources.has(source) || !this.#signal) return;
    this.#startedSources.add(source);
    try {
      await source.start(this.#signal);
    } catch (err) {
      this.#log.error({ mapping: m.name, source: source.description, error: err instanceof Error ? err.message : String(err) }, "source failed to start");
    }
  }

  #ensureSecretReflector(secretName: string): void {
    if (this.#secretReflectors.has(secretName)) return;
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
      for (const r of this.#retired.values()) if (r.secretName === s.name) this.#queue.add(keyOf(r.name, s.namespace));
      // A copy labelled with a mapping that is not configured (removed while we were down).
      const label = s.labels[MAPPING_LABEL];
      if (label && !this.#mappings.some((m) => m.name === label) && !this.#retired.has(label)) {
        this.#retired.set(label, { name: label, secretName: s.name });
        this.#queue.add(keyOf(label, s.namespace));
      }
    };
    reflector.on({
      add: (s) => onSecret(s, false),
      update: (_o, s) => onSecret(s, false),
      delete: (s) => onSecret(s, true),
    });
    this.#secretReflectors.set(secretName, reflector);
    if (this.#started && this.#signal) void reflector.run(this.#signal);
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
    return this.#secretReflectors.get(name)?.get(`${namespace}/${name}`)?.resourceVersion ?? "";
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
    for (const r of this.#retired.values()) this.#queue.add(keyOf(r.name, namespace));
  }

  #enqueueSource(source: SourceProvider): void {
    for (const m of this.#mappings) {
      if (m.source !== source) continue;
      for (const ns of this.#namespaces.list()) this.#queue.add(keyOf(m.name, ns.name));
    }
  }

  *#allKeys(): Generator<string> {
    for (const ns of this.#namespaces.list()) {
      for (const m of this.#mappings) yield keyOf(m.name, ns.name);
      for (const r of this.#retired.values()) yield keyOf(r.name, ns.name);
    }
  }

  #enqueueAll(): void {
    if (!this.synced) return;
    for (const key of this.#allKeys()) this.#queue.add(key);
  }

  /** The winning mapping for (namespace, secretName): the first in config order that selects it. */
  #claimant(namespace: CachedNamespace, secretName: string): string | undefined {
    for (const m of this.#mappings) {
      if (m.secretName !== secretName) continue;
      if (m.source.secretsRead?.some((s) => s.namespace === namespace.name && s.name === secretName)) continue;
      if (namespace.phase === "Active" && m.selector.matches(namespace)) return m.name;
    }
    return undefined;
  }

  #state(mappingName: string, namespaceName: string): KeyState | undefined {
    const active = this.#mappings.find((m) => m.name === mappingName);
    const retired = this.#retired.get(mappingName);
    if (!active && !retired) return undefined;
    const secretName = active?.secretName ?? retired?.secretName ?? "";
    const namespace = this.#namespaces.get(namespaceName);
    const policy: MappingPolicy = active
      ? { name: active.name, secretName, selector: active.selector, strategy: active.strategy, conflictPolicy: active.conflictPolicy, active: true }
      : {
          name: mappingName,
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
      sourceSecrets: active?.source.secretsRead ?? [],
      secret: this.#secretReflectors.get(secretName)?.get(`${namespaceName}/${secretName}`),
      serviceAccounts: [...(this.#saByNamespace.get(namespaceName)?.values() ?? [])],
      claimedBy: claimant && claimant !== mappingName ? claimant : undefined,
      retainOnRemoval: this.#opts.retainOnMappingRemoval ?? false,
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
    if (record?.hash !== value.credential.hash) return; // a newer value is being checked
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

  #record(mapping: string, namespace: string, outcome: Outcome | "error", reason: string, started: number): void {
    this.#status.set(keyOf(mapping, namespace), { mapping, namespace, outcome, reason, at: new Date() });
    if (outcome !== "error") this.#reportInitialSync(keyOf(mapping, namespace));
    this.#opts.observer?.onReconcile?.(mapping, outcome, Date.now() - started);
  }

  async #reconcile(key: string, mode: { once?: boolean } = {}): Promise<HandlerResult> {
    const written: Written[] = [];
    try {
      return await this.#reconcileKey(key, mode, written);
    } finally {
      const at = Date.now();
      for (const w of written) {
        this.#expectations.set(w.cacheKey, { resourceVersion: w.resourceVersion, at });
        // The watch may have delivered the write already, before the expectation existed.
        this.#meetExpectation(w.cacheKey, this.#cachedVersion(w.cacheKey));
      }
    }
  }

  async #reconcileKey(key: string, mode: { once?: boolean }, written: Written[]): Promise<HandlerResult> {
    const started = Date.now();
    const [mappingName, namespaceName] = splitKey(key);
    const state = this.#state(mappingName, namespaceName);
    if (!state) return { kind: "done" };
    // Our last write is not in the cache yet: planning now would repeat it. The watch event
    // re-enqueues the key; the delay is a safety net should that event never come.
    if (this.#pendingExpectation(state)) return { kind: "requeue-after", ms: mode.once ? 200 : 5_000 };

    const plan = planKey(state);
    const log = this.#log.child({ mapping: mappingName, namespace: namespaceName });
    if (plan.outcome === "conflict") {
      this.#opts.observer?.onConflict?.(mappingName, namespaceName);
      log.warn({ reason: plan.reason }, "conflict; not writing");
      this.#events?.record(
        state.secret
          ? { kind: "Secret", namespace: namespaceName, name: state.mapping.secretName, uid: state.secret.uid }
          : { kind: "Namespace", namespace: namespaceName, name: namespaceName, uid: state.namespace?.uid },
        "Warning",
        "Conflict",
        plan.reason,
      );
    }
    if (plan.actions.length === 0) {
      this.#record(mappingName, namespaceName, plan.outcome, plan.reason, started);
      if (plan.outcome === "waiting" && state.secret?.deleting) return { kind: "requeue-after", ms: 1000 };
      return { kind: "done" };
    }
    try {
      await applyActions(
        {
          core: this.#core,
          fieldManager: FIELD_MANAGER,
          beforeWrite: () => this.#bucket.take(),
          observer: this.#opts.observer,
        },
        { mappingName: state.mapping.name, namespace: namespaceName, secretName: state.mapping.secretName, instance: this.#instance },
        plan.actions,
        state.credential,
        state.secret,
        written,
      );
      log.info({ actions: plan.reason }, "reconciled");
      this.#record(mappingName, namespaceName, plan.outcome === "changes" ? "in-sync" : plan.outcome, plan.reason, started);
      return { kind: "done" };
    } catch (err) {
      const c = classifyApiError(err);
      this.#record(mappingName, namespaceName, "error", c.message, started);
      if (c.kind === "terminal") {
        log.error({ error: c.message, status: c.status }, "reconcile failed; not retrying until something changes");
        this.#events?.record({ kind: "Namespace", namespace: namespaceName, name: namespaceName, uid: state.namespace?.uid }, "Warning", "Failed", `${plan.reason}: ${c.message}`);
        return { kind: "terminal", error: new Error(c.message) };
      }
      log.warn({ error: c.message, status: c.status, kind: c.kind }, "reconcile failed; will retry");
      return { kind: "retry", error: new Error(c.message), retryAfterMs: c.retryAfterMs };
    }
  }
}

export { addedByUs };
