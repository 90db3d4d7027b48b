import type { CoreInformers } from "../kube/core-informers.js";
import type { Informer } from "../kube/informer.js";
import type { CachedNamespace, CachedSecret, CachedServiceAccount } from "../kube/views.js";

/** What the cache reports to the engine; each event names what changed. */
export interface CacheEvents {
  namespace(ns: CachedNamespace, deleted: boolean): void;
  /** Called after the ServiceAccount index was updated. */
  serviceAccount(sa: CachedServiceAccount, deleted: boolean): void;
  copy(secret: CachedSecret, deleted: boolean): void;
  /** The first list of Secrets of this name finished: keys that waited for it can be planned. */
  copiesListed(secretName: string): void;
}

/** A watch of one copy name; stopped on its own when no mapping uses the name any more. */
interface CopyWatch {
  readonly informer: Informer<CachedSecret>;
  stop: AbortController | undefined;
}

/**
 * What the engine reads, kept in memory: all namespaces, all ServiceAccounts (indexed by
 * namespace), and the Secrets of each copy name in use. Copy watches come and go with the names
 * the mappings write.
 */
export class ClusterCache {
  readonly namespaces: Informer<CachedNamespace>;
  readonly serviceAccounts: Informer<CachedServiceAccount>;
  readonly #informers: CoreInformers;
  readonly #events: CacheEvents;
  readonly #saByNamespace = new Map<string, Map<string, CachedServiceAccount>>();
  readonly #copies = new Map<string, CopyWatch>();
  #signal: AbortSignal | undefined;

  constructor(informers: CoreInformers, events: CacheEvents) {
    this.#informers = informers;
    this.#events = events;
    this.namespaces = informers.namespaces();
    this.serviceAccounts = informers.serviceAccounts();
    this.namespaces.on({
      add: (ns) => events.namespace(ns, false),
      update: (_old, ns) => events.namespace(ns, false),
      delete: (ns) => events.namespace(ns, true),
    });
    this.serviceAccounts.on({
      add: (sa) => this.#indexServiceAccount(sa, true),
      update: (_old, sa) => this.#indexServiceAccount(sa, true),
      delete: (sa) => this.#indexServiceAccount(sa, false),
    });
  }

  /** Runs every watch until `signal` aborts; copy watches added later run too. */
  start(signal: AbortSignal): void {
    this.#signal = signal;
    void this.namespaces.run(signal);
    void this.serviceAccounts.run(signal);
    for (const watch of this.#copies.values()) this.#run(watch);
  }

  /** Namespaces and ServiceAccounts have listed: keys can be enumerated. */
  get baseSynced(): boolean {
    return this.namespaces.hasSynced && this.serviceAccounts.hasSynced;
  }

  /** A key can be planned once the Secrets of its copy name have listed too. */
  copiesSynced(secretName: string): boolean {
    return this.baseSynced && (this.#copies.get(secretName)?.informer.hasSynced ?? false);
  }

  /** Why the Secrets of this name are not listed (yet). */
  copiesProblem(secretName: string): string {
    return this.#copies.get(secretName)?.informer.problem ?? "not listed in time";
  }

  copies(secretName: string): Informer<CachedSecret> | undefined {
    return this.#copies.get(secretName)?.informer;
  }

  secret(namespace: string, name: string): CachedSecret | undefined {
    return this.#copies.get(name)?.informer.get(`${namespace}/${name}`);
  }

  serviceAccountsIn(namespace: string): CachedServiceAccount[] {
    return [...(this.#saByNamespace.get(namespace)?.values() ?? [])];
  }

  allServiceAccounts(): CachedServiceAccount[] {
    return [...this.#saByNamespace.values()].flatMap((byName) => [...byName.values()]);
  }

  serviceAccountsByNamespace(): [string, CachedServiceAccount[]][] {
    return [...this.#saByNamespace].map(([namespace, byName]) => [namespace, [...byName.values()]]);
  }

  /** Starts watching Secrets of this name (once). */
  watchCopies(secretName: string): void {
    if (this.#copies.has(secretName)) return;
    const informer = this.#informers.secretsNamed(secretName);
    let listed = false;
    informer.on({
      add: (s) => this.#events.copy(s, false),
      update: (_old, s) => this.#events.copy(s, false),
      delete: (s) => this.#events.copy(s, true),
      synced: () => {
        if (listed) return;
        listed = true;
        this.#events.copiesListed(secretName);
      },
    });
    const watch: CopyWatch = { informer, stop: undefined };
    this.#copies.set(secretName, watch);
    this.#run(watch);
  }

  /** Stops and forgets the watches of names not in `used`. */
  stopCopyWatchesExcept(used: ReadonlySet<string>): void {
    for (const [name, watch] of this.#copies) {
      if (used.has(name)) continue;
      watch.stop?.abort();
      this.#copies.delete(name);
    }
  }

  /** Resolves once namespaces, ServiceAccounts and the Secrets of `names` have listed, or on abort. */
  async waitForSync(signal: AbortSignal, names: Iterable<string>): Promise<void> {
    await Promise.all([
      this.waitForBase(signal),
      ...[...names].map((n) => this.#copies.get(n)?.informer.waitForSync(signal)),
    ]);
  }

  async waitForBase(signal: AbortSignal): Promise<void> {
    await Promise.all([this.namespaces.waitForSync(signal), this.serviceAccounts.waitForSync(signal)]);
  }

  /** Every copy watch, removed mappings' included. */
  async waitForAllCopies(signal: AbortSignal): Promise<void> {
    await Promise.all([...this.#copies.values()].map((w) => w.informer.waitForSync(signal)));
  }

  /** Lists or watches that keep failing. */
  problems(): string[] {
    const informers = [this.namespaces, this.serviceAccounts, ...[...this.#copies.values()].map((w) => w.informer)];
    return informers.flatMap((i) => (i.problem ? [i.problem] : []));
  }

  /** Longest time the namespace or ServiceAccount watch has been silent. */
  get msSinceLastWatchEvent(): number {
    return Math.max(this.namespaces.msSinceLastEvent, this.serviceAccounts.msSinceLastEvent);
  }

  get copyWatchCount(): number {
    return this.#copies.size;
  }

  get serviceAccountNamespaceCount(): number {
    return this.#saByNamespace.size;
  }

  /** resourceVersion of a cached object by expectation key (`secret/ns/name`, `sa/ns/name`); "" when absent. */
  observedVersion(cacheKey: string): string {
    const [kind, namespace = "", name = ""] = cacheKey.split("/");
    if (kind === "sa") return this.#saByNamespace.get(namespace)?.get(name)?.resourceVersion ?? "";
    return this.secret(namespace, name)?.resourceVersion ?? "";
  }

  #run(watch: CopyWatch): void {
    const parent = this.#signal;
    if (!parent || parent.aborted || (watch.stop && !watch.stop.signal.aborted)) return;
    const stop = new AbortController();
    watch.stop = stop;
    parent.addEventListener("abort", () => stop.abort(), { once: true, signal: stop.signal });
    void watch.informer.run(stop.signal);
  }

  #indexServiceAccount(sa: CachedServiceAccount, present: boolean): void {
    let byName = this.#saByNamespace.get(sa.namespace);
    if (present) {
      if (!byName) this.#saByNamespace.set(sa.namespace, (byName = new Map<string, CachedServiceAccount>()));
      byName.set(sa.name, sa);
    } else {
      byName?.delete(sa.name);
      if (byName?.size === 0) this.#saByNamespace.delete(sa.namespace);
    }
    this.#events.serviceAccount(sa, !present);
  }
}
