// The engine's event → key → plan → write flow against an in-memory cluster: informers fed from
// maps, a ClusterWriter that enforces the API server's preconditions, and resourceVersions that are
// opaque strings (not numbers), so nothing can order them. Each scenario mirrors one of the e2e
// suites (engine-trust, engine-semantics, engine-lifecycle) where it needs no real API server.
import {
  ApiException,
  KubeConfig,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseDockerConfigJson } from "../credentials/docker-config.js";
import type { CoreInformers } from "../kube/core-informers.js";
import type { EventSink, EventTarget } from "../kube/events.js";
import type { Informer, InformerHandlers } from "../kube/informer.js";
import { namespaceView, namespacedKey, secretView, serviceAccountView } from "../kube/views.js";
import type { PatchStrategy, SourceProvider, SourceValue, TargetSelector } from "../plugins/contracts.js";
import type { ClusterWriter } from "./apply.js";
import { Engine, type EngineOptions, type Mapping } from "./engine.js";
import { OPT_OUT_ANNOTATION } from "../selectors/opt-out.js";
import { ADDED_ANNOTATION, INSTANCE_LABEL, MANAGED_BY_LABEL, MAPPING_LABEL } from "./ownership.js";

// ---------------------------------------------------------------------------------------------
// An in-memory cluster
// ---------------------------------------------------------------------------------------------

type Kind = "namespace" | "secret" | "serviceaccount";
type Raw = V1Namespace | V1Secret | V1ServiceAccount;
type WatchType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * How watch events reach the informers: during the write (`sync`), after the writer returned
 * (`deferred`, as with a real watch), or only when the test calls `release()` (`held`).
 */
type Delivery = "sync" | "deferred" | "held";

function apiError(code: number, reason: string, details: object = { name: "x" }): ApiException<string> {
  return new ApiException(
    code,
    reason,
    JSON.stringify({ kind: "Status", reason, message: `${reason} (test)`, details }),
    {},
  );
}

const clone = <T>(obj: T): T => structuredClone(obj);

class MemoryCluster {
  readonly objects = new Map<string, Raw>();
  delivery: Delivery = "deferred";
  readonly #held: (() => void)[] = [];
  readonly #informers = new Set<MemoryInformer>();
  #version = 0;
  #uid = 0;

  /** Opaque and not numeric, so any ordering of resourceVersions would break. */
  nextVersion(): string {
    return `v${(++this.#version * 7919).toString(36)}-${"abcdefgh"[this.#version % 8]}`;
  }

  informers(): CoreInformers {
    return {
      namespaces: () => this.#informer("namespaces", "namespace", namespaceView, (n) => n.name),
      serviceAccounts: () => this.#informer("serviceaccounts", "serviceaccount", serviceAccountView, namespacedKey),
      secretsNamed: (name) =>
        this.#informer(`secrets/${name}`, "secret", secretView, namespacedKey, (raw) => raw.metadata?.name === name),
    };
  }

  #informer<T>(
    name: string,
    kind: Kind,
    view: (raw: never) => T,
    key: (obj: T) => string,
    filter: (raw: Raw) => boolean = () => true,
  ): Informer<T> {
    const informer = new MemoryInformer(
      this,
      name,
      kind,
      view as (raw: Raw) => unknown,
      key as (obj: unknown) => string,
      filter,
    );
    return informer as unknown as Informer<T>;
  }

  attach(informer: MemoryInformer): () => void {
    this.#informers.add(informer);
    return () => this.#informers.delete(informer);
  }

  list(kind: Kind): Raw[] {
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${kind}/`)).map(([, v]) => clone(v));
  }

  get<T extends Raw>(kind: Kind, namespace: string, name: string): T | undefined {
    const found = this.objects.get(`${kind}/${namespace}/${name}`);
    return found ? (clone(found) as T) : undefined;
  }

  /** Creates or replaces an object as a user would, without preconditions. */
  put(kind: Kind, obj: Raw): Raw {
    const meta = obj.metadata ?? {};
    const id = `${kind}/${meta.namespace ?? ""}/${meta.name ?? ""}`;
    const existing = this.objects.get(id);
    const stored = clone(obj);
    stored.metadata = {
      ...meta,
      uid: existing?.metadata?.uid ?? `uid-${++this.#uid}`,
      resourceVersion: this.nextVersion(),
    };
    this.objects.set(id, stored);
    this.#emit(kind, existing ? "MODIFIED" : "ADDED", stored);
    return clone(stored);
  }

  remove(kind: Kind, namespace: string, name: string): void {
    const id = `${kind}/${namespace}/${name}`;
    const existing = this.objects.get(id);
    if (!existing) return;
    this.objects.delete(id);
    this.#emit(kind, "DELETED", existing);
  }

  namespace(name: string, labels: Record<string, string> = {}, serviceAccounts = ["default"]): void {
    this.put("namespace", { metadata: { name, labels }, status: { phase: "Active" } });
    for (const sa of serviceAccounts) this.put("serviceaccount", { metadata: { name: sa, namespace: name } });
  }

  relabel(name: string, labels: Record<string, string>): void {
    const ns = this.get<V1Namespace>("namespace", "", name);
    if (ns) this.put("namespace", { ...ns, metadata: { ...ns.metadata, labels } });
  }

  annotate(name: string, annotations: Record<string, string>): void {
    const ns = this.get<V1Namespace>("namespace", "", name);
    if (ns) this.put("namespace", { ...ns, metadata: { ...ns.metadata, annotations } });
  }

  deleteNamespace(name: string): void {
    for (const id of [...this.objects.keys()]) {
      const [kind, namespace, objName] = id.split("/") as [Kind, string, string];
      if (namespace === name) this.remove(kind, namespace, objName);
    }
    this.remove("namespace", "", name);
  }

  secret(namespace: string, name: string): V1Secret | undefined {
    return this.get<V1Secret>("secret", namespace, name);
  }

  pullSecrets(namespace: string, sa = "default"): string[] {
    return (this.get<V1ServiceAccount>("serviceaccount", namespace, sa)?.imagePullSecrets ?? []).map(
      (r) => r.name ?? "",
    );
  }

  records(namespace: string, sa = "default"): string | undefined {
    return this.get<V1ServiceAccount>("serviceaccount", namespace, sa)?.metadata?.annotations?.[ADDED_ANNOTATION];
  }

  release(): void {
    for (const deliver of this.#held.splice(0)) deliver();
  }

  #emit(kind: Kind, type: WatchType, obj: Raw): void {
    const snapshot = clone(obj);
    const deliver = (): void => {
      for (const informer of this.#informers) informer.receive(kind, type, snapshot);
    };
    if (this.delivery === "sync") deliver();
    else if (this.delivery === "held") this.#held.push(deliver);
    else setImmediate(deliver);
  }
}

/** An informer over the memory cluster: lists when run, then follows the cluster's events. */
class MemoryInformer implements Informer<unknown> {
  hasSynced = false;
  problem: string | undefined;
  readonly msSinceLastEvent = 0;
  readonly #store = new Map<string, unknown>();
  readonly #handlers: InformerHandlers<unknown>[] = [];
  readonly #waiters: (() => void)[] = [];

  constructor(
    readonly cluster: MemoryCluster,
    readonly name: string,
    readonly kind: Kind,
    readonly view: (raw: Raw) => unknown,
    readonly key: (obj: unknown) => string,
    readonly filter: (raw: Raw) => boolean,
  ) {}

  get size(): number {
    return this.#store.size;
  }
  on(handlers: InformerHandlers<unknown>): void {
    this.#handlers.push(handlers);
  }
  get(key: string): unknown {
    return this.#store.get(key);
  }
  list(): IterableIterator<unknown> {
    return this.#store.values();
  }
  waitForSync(signal: AbortSignal): Promise<void> {
    if (this.hasSynced || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  run(signal: AbortSignal): Promise<void> {
    const detach = this.cluster.attach(this);
    for (const raw of this.cluster.list(this.kind)) if (this.filter(raw)) this.receive(this.kind, "ADDED", raw);
    this.hasSynced = true;
    for (const w of this.#waiters.splice(0)) w();
    for (const h of this.#handlers) h.synced?.();
    return new Promise((resolve) =>
      signal.addEventListener(
        "abort",
        () => {
          detach();
          resolve();
        },
        { once: true },
      ),
    );
  }
  receive(kind: Kind, type: WatchType, raw: Raw): void {
    if (kind !== this.kind || !this.filter(raw)) return;
    const obj = this.view(raw);
    const key = this.key(obj);
    const old = this.#store.get(key);
    if (type === "DELETED") {
      this.#store.delete(key);
      for (const h of this.#handlers) h.delete?.(old ?? obj);
      return;
    }
    this.#store.set(key, obj);
    for (const h of this.#handlers) {
      if (old === undefined) h.add?.(obj);
      else h.update?.(old, obj);
    }
  }
}

type PatchOp = { op: "add" | "remove" | "replace" | "test"; path: string; value?: unknown };

/** Applies the JSON patch ops the engine sends; a failed `test` or a missing path is a 422 without details. */
function applyJsonPatch(doc: Record<string, unknown>, ops: PatchOp[]): void {
  const unprocessable = (): ApiException<string> => apiError(422, "Invalid", {});
  for (const op of ops) {
    const parts = op.path
      .split("/")
      .slice(1)
      .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = parts.pop() ?? "";
    let parent: unknown = doc;
    for (const p of parts) parent = (parent as Record<string, unknown> | undefined)?.[p];
    if (typeof parent !== "object" || parent === null) throw unprocessable();
    const target = parent as Record<string, unknown>;
    if (op.op === "test" && JSON.stringify(target[last]) !== JSON.stringify(op.value)) throw unprocessable();
    if (op.op === "add" && Array.isArray(target))
      target.splice(last === "-" ? target.length : Number(last), 0, op.value);
    else if (op.op === "add") target[last] = op.value;
    if ((op.op === "replace" || op.op === "remove") && !(last in target)) throw unprocessable();
    if (op.op === "replace") target[last] = op.value;
    if (op.op === "remove" && Array.isArray(target)) target.splice(Number(last), 1);
    else if (op.op === "remove") Reflect.deleteProperty(target, last);
  }
}

/** A ClusterWriter with the API server's preconditions; counts what it was asked to do. */
class MemoryWriter implements ClusterWriter {
  readonly writes: string[] = [];
  /** Every write asked for, including those that failed. */
  readonly attempts: string[] = [];
  /** Return an error to fail a write before it happens. */
  fail: ((op: string, namespace: string, name: string) => Error | undefined) | undefined;

  constructor(readonly cluster: MemoryCluster) {}

  count(kind?: string): number {
    return kind ? this.writes.filter((w) => w === kind).length : this.writes.length;
  }

  createSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
    return this.#write("secret-create", namespace, body.metadata?.name ?? "", () => {
      if (!this.cluster.get("namespace", "", namespace)) throw apiError(404, "NotFound");
      if (this.cluster.secret(namespace, body.metadata?.name ?? "")) throw apiError(409, "AlreadyExists");
      return this.cluster.put("secret", { ...body, metadata: { ...body.metadata, namespace } });
    });
  }

  replaceSecret(namespace: string, name: string, body: V1Secret): Promise<V1Secret> {
    return this.#write("secret-update", namespace, name, () => {
      const current = this.cluster.secret(namespace, name);
      if (!current) throw apiError(404, "NotFound");
      if (
        body.metadata?.resourceVersion !== undefined &&
        body.metadata.resourceVersion !== current.metadata?.resourceVersion
      )
        throw apiError(409, "Conflict");
      if ((body.type ?? "Opaque") !== (current.type ?? "Opaque")) throw apiError(422, "Invalid");
      return this.cluster.put("secret", body);
    });
  }

  deleteSecret(
    namespace: string,
    name: string,
    pre: { uid: string; resourceVersion?: string | undefined },
  ): Promise<void> {
    return this.#write("secret-delete", namespace, name, () => {
      const current = this.cluster.secret(namespace, name);
      if (!current) throw apiError(404, "NotFound");
      if (pre.uid !== current.metadata?.uid) throw apiError(409, "Conflict");
      if (pre.resourceVersion !== undefined && pre.resourceVersion !== current.metadata?.resourceVersion)
        throw apiError(409, "Conflict");
      this.cluster.remove("secret", namespace, name);
    });
  }

  patchServiceAccount(namespace: string, name: string, patch: object[]): Promise<V1ServiceAccount> {
    return this.#write("serviceaccount-patch", namespace, name, () => {
      const current = this.cluster.get<V1ServiceAccount>("serviceaccount", namespace, name);
      if (!current) throw apiError(404, "NotFound");
      const ops = patch as PatchOp[];
      // A resourceVersion in a patch is a precondition, as on the API server.
      const expected = ops.find((o) => o.path === "/metadata/resourceVersion")?.value;
      if (expected !== undefined && expected !== current.metadata?.resourceVersion) throw apiError(409, "Conflict");
      const doc = clone(current) as Record<string, unknown>;
      applyJsonPatch(doc, ops);
      return this.cluster.put("serviceaccount", doc);
    });
  }

  async #write<T>(op: string, namespace: string, name: string, apply: () => T): Promise<T> {
    await Promise.resolve();
    this.attempts.push(op);
    const error = this.fail?.(op, namespace, name);
    if (error) throw error;
    const result = apply();
    this.writes.push(op);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// Sources, mappings and running engines
// ---------------------------------------------------------------------------------------------

function credential(password: string, description = "test"): SourceValue {
  const json = JSON.stringify({
    auths: { "registry.example.test": { auth: Buffer.from(`robot:${password}`).toString("base64") } },
  });
  return { credential: parseDockerConfigJson(json, description), fetchedAt: new Date(0) };
}

/** A source whose value the test sets; `startError` makes its start fail. */
class TestSource implements SourceProvider {
  readonly #listeners = new Set<() => void>();
  #value: SourceValue | undefined;
  signal: AbortSignal | undefined;

  constructor(
    readonly description: string,
    password: string | undefined,
    readonly startError?: Error,
    readonly secretsRead: readonly { namespace: string; name: string }[] = [],
  ) {
    this.#value = password === undefined ? undefined : credential(password, description);
  }
  start(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    return this.startError ? Promise.reject(this.startError) : Promise.resolve();
  }
  current(): SourceValue | undefined {
    return this.#value;
  }
  status(): { state: "ready" | "pending" } {
    return { state: this.#value ? "ready" : "pending" };
  }
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(password: string): void {
    this.#value = credential(password, this.description);
    for (const l of this.#listeners) l();
  }
}

const byLabel = (key: string, value: string): TargetSelector => ({
  description: `${key}=${value}`,
  matches: (ns) => ns.labels[key] === value,
});
const defaultOnly: PatchStrategy = { description: "default", selects: (sa) => sa.name === "default" };

function mapping(
  name: string,
  source: SourceProvider,
  selector: TargetSelector,
  extra: Partial<Mapping> = {},
): Mapping {
  return { name, secretName: "pull", source, selector, strategy: defaultOnly, conflictPolicy: "skip", ...extra };
}

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  // Nothing listens there: the engine under test must never reach for it.
  kc.loadFromOptions({
    clusters: [{ name: "none", server: "http://127.0.0.1:9" }],
    users: [{ name: "none" }],
    contexts: [{ name: "none", cluster: "none", user: "none" }],
    currentContext: "none",
  });
  return kc;
}

interface RecordedEvent {
  target: EventTarget;
  reason: string;
  note: string;
}

interface Running {
  engine: Engine;
  writer: MemoryWriter;
  events: RecordedEvent[];
  stop(): Promise<void>;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

function build(
  cluster: MemoryCluster,
  mappings: Mapping[],
  options: Partial<EngineOptions> = {},
): Omit<Running, "stop"> {
  const writer = new MemoryWriter(cluster);
  const events: RecordedEvent[] = [];
  const eventSink: EventSink = {
    gate: undefined,
    record(target, _type, reason, note) {
      if (!eventSink.gate || eventSink.gate()) events.push({ target, reason, note });
    },
  };
  const engine = new Engine({
    kubeConfig: kubeConfig(),
    mappings,
    informers: cluster.informers(),
    writer,
    eventSink,
    resyncIntervalMs: 0,
    clientQps: 10_000,
    clientBurst: 10_000,
    ...options,
  });
  return { engine, writer, events };
}

async function start(
  cluster: MemoryCluster,
  mappings: Mapping[],
  options: Partial<EngineOptions> = {},
): Promise<Running> {
  const built = build(cluster, mappings, options);
  const controller = new AbortController();
  const loop = built.engine.run(controller.signal);
  await built.engine.waitForSync(controller.signal);
  const r: Running = {
    ...built,
    async stop() {
      controller.abort();
      await loop;
    },
  };
  running.push(r);
  return r;
}

/** Waits until every engine's queue is empty and no write happened for a while. */
async function settle(engines: Running[], quietRounds = 8): Promise<void> {
  let last = -1;
  let quiet = 0;
  for (let round = 0; round < 2_000; round++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const writes = engines.reduce((n, e) => n + e.writer.count(), 0);
    const idle = engines.every((e) => e.engine.queueLength === 0);
    quiet = writes === last && idle ? quiet + 1 : 0;
    last = writes;
    if (quiet >= quietRounds) return;
  }
  throw new Error("engines never settled");
}

const hashOf = (password: string): string => credential(password).credential.hash;
const copyHash = (s: V1Secret | undefined): string | undefined => (s ? secretView(s).dataHash : undefined);

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

describe("engine over an in-memory cluster", () => {
  it("creates copies and entries, then sends no write at all while resyncs find nothing to do", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("a1", { team: "a" });
    cluster.namespace("a2", { team: "a" });
    cluster.namespace("other");
    const source = new TestSource("source a", "pw-1");
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))], { resyncIntervalMs: 10 });
    await settle([r]);
    expect(copyHash(cluster.secret("a1", "pull"))).toBe(hashOf("pw-1"));
    expect(cluster.pullSecrets("a2")).toEqual(["pull"]);
    expect(cluster.records("a1")).toBe("pull@default/team-a");
    expect(cluster.secret("other", "pull")).toBeUndefined();
    expect(r.writer.writes.sort()).toEqual([
      "secret-create",
      "secret-create",
      "serviceaccount-patch",
      "serviceaccount-patch",
    ]);

    const before = r.writer.count();
    await new Promise((resolve) => setTimeout(resolve, 150)); // about 15 resyncs
    expect(r.writer.count()).toBe(before);
    expect(r.engine.status()[0]).toMatchObject({ inScope: 2, inSync: 2, conflicting: 0, failing: 0 });
    expect(r.engine.trackedCounts().expectations).toBe(0);
  });

  it("leaves a same-name Secret it does not own alone: a conflict, one Event, no entry on the ServiceAccount", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("foreign", { team: "a" });
    const theirs = cluster.put("secret", {
      metadata: { name: "pull", namespace: "foreign" },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": "e30=" },
    });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))], {
      resyncIntervalMs: 10,
    });
    await settle([r]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cluster.secret("foreign", "pull")?.metadata?.resourceVersion).toBe(theirs.metadata?.resourceVersion);
    expect(cluster.pullSecrets("foreign")).toEqual([]);
    expect(r.writer.count()).toBe(0);
    expect(r.engine.status()[0]?.conflicting).toBe(1);
    expect(r.events.map((e) => `${e.reason} ${e.target.kind}`)).toEqual(["Conflict Secret"]);
    expect(r.events[0]?.note).toContain("not managed by imagepullsecret-patcher");
  });

  it("restores a deleted copy and an edited one, updating in place", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    await settle([r]);
    const first = cluster.secret("ns", "pull");
    cluster.remove("secret", "ns", "pull");
    await settle([r]);
    const recreated = cluster.secret("ns", "pull");
    expect(recreated?.metadata?.uid).not.toBe(first?.metadata?.uid);
    expect(copyHash(recreated)).toBe(hashOf("pw"));

    cluster.put("secret", {
      ...recreated,
      data: { ".dockerconfigjson": Buffer.from('{"auths":{"x":{}}}').toString("base64") },
    });
    await settle([r]);
    expect(cluster.secret("ns", "pull")?.metadata?.uid).toBe(recreated?.metadata?.uid);
    expect(copyHash(cluster.secret("ns", "pull"))).toBe(hashOf("pw"));
    expect(r.writer.count("serviceaccount-patch")).toBe(1);
  });

  it("rotates the source into N updates and no ServiceAccount write", async () => {
    const cluster = new MemoryCluster();
    const n = 6;
    for (let i = 0; i < n; i++) cluster.namespace(`ns${i}`, { team: "a" });
    const source = new TestSource("s", "old");
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))]);
    await settle([r]);
    const before = [...r.writer.writes];
    source.set("new");
    await settle([r]);
    expect(r.writer.writes.slice(before.length)).toEqual(Array.from({ length: n }, () => "secret-update"));
    for (let i = 0; i < n; i++) expect(copyHash(cluster.secret(`ns${i}`, "pull"))).toBe(hashOf("new"));
  });

  it("does not rewrite anything when a namespace is relabelled but stays selected", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    await settle([r]);
    const before = r.writer.count();
    cluster.relabel("ns", { team: "a", unrelated: "x" });
    await settle([r]);
    expect(r.writer.count()).toBe(before);
  });

  it("cleans up only its own copy and entry when a namespace leaves the mapping", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" }, ["default", "ci"]);
    cluster.namespace("theirs", { team: "a" });
    const foreign = cluster.put("secret", { metadata: { name: "pull", namespace: "theirs" }, type: "Opaque" });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    await settle([r]);
    // A user's own entry of the same name on another ServiceAccount.
    const ci = cluster.get<V1ServiceAccount>("serviceaccount", "ns", "ci");
    cluster.put("serviceaccount", { ...ci, imagePullSecrets: [{ name: "user-entry" }, { name: "pull" }] });
    await settle([r]);
    cluster.relabel("ns", {});
    cluster.relabel("theirs", {});
    await settle([r]);
    expect(cluster.secret("ns", "pull")).toBeUndefined();
    expect(cluster.pullSecrets("ns")).toEqual([]);
    expect(cluster.records("ns")).toBeUndefined();
    expect(cluster.pullSecrets("ns", "ci")).toEqual(["user-entry", "pull"]);
    expect(cluster.secret("theirs", "pull")?.metadata?.resourceVersion).toBe(foreign.metadata?.resourceVersion);
  });

  it("leaves a namespace that opted out to no mapping: cleans up, counts it out of scope, hands it to no other", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    cluster.namespace("kept", { team: "a" });
    const first = mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"));
    const second = mapping("fallback", new TestSource("t", "pw-2"), {
      description: "every namespace",
      matches: () => true,
    });
    const r = await start(cluster, [first, second]);
    await settle([r]);
    expect(cluster.records("ns")).toBe("pull@default/team-a");
    cluster.annotate("ns", { [OPT_OUT_ANNOTATION]: "true" });
    await settle([r]);
    expect(cluster.secret("ns", "pull")).toBeUndefined();
    expect(cluster.pullSecrets("ns")).toEqual([]);
    expect(cluster.secret("kept", "pull")).toBeDefined();
    expect(r.engine.status().map((s) => [s.name, s.inScope])).toEqual([
      ["team-a", 1],
      ["fallback", 1],
    ]);
    cluster.annotate("ns", {});
    await settle([r]);
    expect(cluster.records("ns")).toBe("pull@default/team-a");
  });

  it("runs two instances side by side without a fight: the first writer keeps the namespace they share", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("a1", { alpha: "yes" });
    cluster.namespace("b1", { beta: "yes" });
    cluster.namespace("both", { alpha: "yes", beta: "yes" });
    const alpha = await start(cluster, [mapping("team-a", new TestSource("a", "pw-a"), byLabel("alpha", "yes"))], {
      instance: "alpha",
      resyncIntervalMs: 10,
    });
    await settle([alpha]);
    const beta = await start(cluster, [mapping("team-b", new TestSource("b", "pw-b"), byLabel("beta", "yes"))], {
      instance: "beta",
      resyncIntervalMs: 10,
    });
    await settle([alpha, beta]);
    expect(cluster.secret("both", "pull")?.metadata?.labels?.[INSTANCE_LABEL]).toBe("alpha");
    expect(copyHash(cluster.secret("b1", "pull"))).toBe(hashOf("pw-b"));
    expect(cluster.records("both")).toBe("pull@alpha/team-a");
    expect(cluster.records("b1")).toBe("pull@beta/team-b");
    expect(beta.engine.status()[0]?.conflicting).toBe(1);

    const writes = alpha.writer.count() + beta.writer.count();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alpha.writer.count() + beta.writer.count()).toBe(writes);

    // The namespace leaves beta: alpha's copy and entry stay.
    beta.engine.setMappings([mapping("team-b", new TestSource("b", "pw-b"), byLabel("beta", "only-b1"))]);
    await settle([alpha, beta]);
    expect(cluster.secret("both", "pull")?.metadata?.labels?.[INSTANCE_LABEL]).toBe("alpha");
    expect(cluster.records("both")).toBe("pull@alpha/team-a");
  });

  it("goes on with other mappings when one source cannot be read, in run and in runOnce", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const broken = (): Mapping =>
      mapping("broken", new TestSource("broken", undefined, new Error("HTTP 403 Forbidden")), byLabel("team", "a"), {
        secretName: "x-pull",
      });
    const works = (): Mapping =>
      mapping("works", new TestSource("works", "pw"), byLabel("team", "a"), { secretName: "ok-pull" });
    const once = build(cluster, [broken(), works()], { onceSourceWaitMs: 1_000 });
    const left = await once.engine.runOnce(new AbortController().signal);
    expect(left.map((k) => `${k.mapping}:${k.outcome}`)).toEqual(["broken:waiting"]);
    expect(cluster.secret("ns", "ok-pull")).toBeDefined();

    const r = await start(cluster, [broken(), works()]);
    await settle([r]);
    expect(r.engine.problems().join("\n")).toContain("HTTP 403 Forbidden");
    expect(r.engine.status().find((s) => s.name === "broken")).toMatchObject({ sourceState: "failed" });
    expect(r.engine.status().find((s) => s.name === "broken")?.sourceError).toContain("403");
    expect(cluster.secret("ns", "x-pull")).toBeUndefined();
  });

  it("does not repeat a write whose watch event has not arrived, with opaque resourceVersions", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    cluster.delivery = "held";
    const source = new TestSource("s", "pw");
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))]);
    await settle([r]);
    expect(r.writer.writes.sort()).toEqual(["secret-create", "serviceaccount-patch"]);
    expect(r.engine.trackedCounts().expectations).toBe(2);
    // Re-planned from the stale cache, the key would create the copy again (and get a 409).
    r.engine.setMappings([mapping("team-a", source, byLabel("team", "a"))]);
    await settle([r]);
    expect(r.writer.attempts).toHaveLength(2);
    cluster.delivery = "deferred";
    cluster.release();
    await settle([r]);
    expect(r.writer.attempts).toHaveLength(2);
    expect(r.engine.trackedCounts().expectations).toBe(0);
    expect(r.engine.keyStatuses().map((k) => k.outcome)).toEqual(["in-sync"]);
  });

  it("meets expectations delivered during the write itself", async () => {
    const cluster = new MemoryCluster();
    cluster.delivery = "sync";
    cluster.namespace("ns", { team: "a" });
    const source = new TestSource("s", "pw");
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))]);
    await settle([r]);
    source.set("pw-2");
    await settle([r]);
    expect(r.writer.writes).toEqual(["secret-create", "serviceaccount-patch", "secret-update"]);
    expect(r.engine.trackedCounts().expectations).toBe(0);
  });

  it("re-creates a copy whose type is wrong, and waits through the delete before creating", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const labels = {
      [MANAGED_BY_LABEL]: "imagepullsecret-patcher",
      [MAPPING_LABEL]: "team-a",
      [INSTANCE_LABEL]: "default",
    };
    cluster.put("secret", { metadata: { name: "pull", namespace: "ns", labels }, type: "Opaque", data: { x: "eA==" } });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    await settle([r]);
    expect(cluster.secret("ns", "pull")?.type).toBe("kubernetes.io/dockerconfigjson");
    expect(r.writer.writes.filter((w) => w.startsWith("secret"))).toEqual(["secret-delete", "secret-create"]);
  });

  it("cleans up a mapping removed by reload, keeps it with retainOnMappingRemoval, and forgets it once cleaned", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    cluster.namespace("kept", { team: "k" });
    const source = new TestSource("s", "pw");
    const r = await start(cluster, [
      mapping("team-a", source, byLabel("team", "a")),
      mapping("keep", source, byLabel("team", "k"), { secretName: "kept" }),
    ]);
    await settle([r]);
    r.engine.setMappings([mapping("keep", source, byLabel("team", "k"), { secretName: "kept" })]);
    await settle([r]);
    expect(cluster.secret("ns", "pull")).toBeUndefined();
    expect(cluster.pullSecrets("ns")).toEqual([]);
    r.engine.setMappings([], { retainOnMappingRemoval: true });
    await settle([r]);
    expect(cluster.secret("kept", "kept")).toBeDefined();
    expect(cluster.pullSecrets("kept")).toEqual(["kept"]);
    expect(source.signal?.aborted).toBe(true);
  });

  it("cleans up a mapping removed before the watch showed its writes", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("other", { team: "b" });
    const source = new TestSource("s", "pw");
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))]);
    await settle([r]);
    cluster.delivery = "held";
    cluster.namespace("late", { team: "a" });
    cluster.release(); // the namespace; the copy and entry written for it stay held back
    await settle([r]);
    expect(cluster.secret("late", "pull")).toBeDefined();
    // Removed while the cache shows none of its copies or entries: nothing may be forgotten yet.
    r.engine.setMappings([]);
    await settle([r]);
    cluster.delivery = "deferred";
    cluster.release();
    await vi.waitFor(() => expect(cluster.secret("late", "pull")).toBeUndefined(), { timeout: 5_000 });
    expect(cluster.pullSecrets("late")).toEqual([]);
    await vi.waitFor(() => expect(r.engine.trackedCounts().retiredMappings).toBe(0), { timeout: 5_000 });
  });

  it("finishes cleanup after a restart from the records on ServiceAccounts", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const first = await start(cluster, [
      mapping("old-name", new TestSource("s", "pw"), byLabel("team", "a"), { secretName: "first-pull" }),
    ]);
    await settle([first]);
    await first.stop();
    const second = await start(cluster, [
      mapping("renamed", new TestSource("s", "pw"), byLabel("team", "a"), { secretName: "second-pull" }),
    ]);
    await settle([second]);
    expect(cluster.secret("ns", "first-pull")).toBeUndefined();
    expect(cluster.pullSecrets("ns")).toEqual(["second-pull"]);
    expect(cluster.records("ns")).toBe("second-pull@default/renamed");
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // the prune after cleanup
    expect(second.engine.trackedCounts()).toMatchObject({ retiredMappings: 0, copyWatches: 1 });
  });

  it("forgets the statuses of deleted namespaces", async () => {
    const cluster = new MemoryCluster();
    for (const ns of ["n1", "n2", "n3"]) cluster.namespace(ns, { team: "a" });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    await settle([r]);
    expect(r.engine.trackedCounts().keyStatuses).toBe(3);
    cluster.deleteNamespace("n1");
    cluster.deleteNamespace("n2");
    await settle([r]);
    expect(r.engine.trackedCounts()).toMatchObject({ keyStatuses: 1, serviceAccountNamespaces: 1 });
  });

  it("ends runOnce within its retry budget while writes keep failing retryably", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("hooked", { team: "a" });
    const { engine, writer } = build(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))], {
      onceRetryBudgetMs: 300,
    });
    writer.fail = (op) => (op === "secret-create" ? apiError(500, "InternalError") : undefined);
    const started = Date.now();
    const left = await engine.runOnce(new AbortController().signal);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(left.map((k) => `${k.namespace}:${k.outcome}`)).toEqual(["hooked:error"]);
    expect(left[0]?.reason).toMatch(/gave up after .*500/);
  });

  it("holds a new credential back until it passes verification", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    const source = new TestSource("s", "good");
    const verifyCredential = (value: SourceValue): Promise<{ ok: boolean; problem?: string }> =>
      Promise.resolve(
        value.credential.hash === hashOf("bad") ? { ok: false, problem: "registry refused the login" } : { ok: true },
      );
    const r = await start(cluster, [mapping("team-a", source, byLabel("team", "a"))], { verifyCredential });
    await settle([r]);
    expect(copyHash(cluster.secret("ns", "pull"))).toBe(hashOf("good"));
    source.set("bad");
    await settle([r]);
    expect(copyHash(cluster.secret("ns", "pull"))).toBe(hashOf("good"));
    expect(r.engine.status()[0]?.verificationError).toBe("registry refused the login");
    source.set("better");
    await settle([r]);
    expect(copyHash(cluster.secret("ns", "pull"))).toBe(hashOf("better"));
    expect(r.engine.status()[0]?.verificationError).toBeUndefined();
  });

  it("sends nothing, Events included, once canWrite says no", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    cluster.namespace("foreign", { team: "a" });
    cluster.put("secret", { metadata: { name: "pull", namespace: "foreign" }, type: "Opaque" });
    const r = await start(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))], {
      canWrite: () => false,
    });
    await settle([r]);
    expect(r.writer.count()).toBe(0);
    expect(r.events).toEqual([]);
  });

  it("plans without writing", async () => {
    const cluster = new MemoryCluster();
    cluster.namespace("ns", { team: "a" });
    cluster.namespace("other");
    const { engine, writer } = build(cluster, [mapping("team-a", new TestSource("s", "pw"), byLabel("team", "a"))]);
    const planned = await engine.planAll(new AbortController().signal);
    expect(
      planned.map((p) => `${p.namespace}:${p.outcome}:${p.plan.actions.map((a) => a.type).join("+")}`).sort(),
    ).toEqual(["ns:changes:create-secret+add-reference", "other:out-of-scope:"]);
    expect(writer.count()).toBe(0);
  });
});
