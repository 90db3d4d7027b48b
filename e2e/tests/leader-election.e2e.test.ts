// Leader election on a coordination.k8s.io/v1 Lease against the real API server: two electors in this
// process with short timings. Every version of the Lease is recorded through a watch, and every leading
// term (onStartedLeading .. leaderSignal abort) is recorded per elector; terms must never overlap.
//
// Imports the built core (run `cd packages/core && pnpm exec tsc -p tsconfig.build.json` first) and runs
// the built patcher binary for the last test.
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LeaderElector, LeaseLock, MicroTime, parseMicroTime } from "@imagepullsecret-patcher/core";
import { NamespaceScope, adminKubeConfig, eventually, statusCode, tokenKubeConfig } from "../src/support/kube.ts";
import { CapturingLogger } from "../src/support/logs.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import { TEST_PASSWORD_PREFIX, dockerConfigJson, waitForCopy } from "../src/support/fixtures.ts";

const LEASE = "patcher-leader";
const TIMINGS = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 } as const;
const SIX_DIGITS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** Measured timings, on stderr with E2E_VERBOSE=1 (and in assertion messages). */
function report(what: string, values: Record<string, number>): string {
  const text = `${what}: ${Object.entries(values)
    .map(([k, v]) => `${k}=${Math.round(v)}ms`)
    .join(" ")}`;
  if (process.env.E2E_VERBOSE === "1") process.stderr.write(`[leader-election] ${text}\n`);
  return text;
}

interface Term {
  identity: string;
  start: number;
  end?: number;
}

interface Candidate {
  identity: string;
  elector: LeaderElector;
  logger: CapturingLogger;
  controller: AbortController;
  done: Promise<void>;
  stopped: number;
  terms: Term[];
}

/** Every leading term of every candidate in one test, for the no-overlap assertion. */
class Terms {
  readonly all: Term[] = [];
  /** Max number of candidates that called themselves leader at the same sampled moment. */
  maxConcurrentLeaders = 0;
  readonly #candidates: Candidate[] = [];
  readonly #sampler: NodeJS.Timeout;

  constructor() {
    this.#sampler = setInterval(() => {
      const leading = this.#candidates.filter((c) => c.elector.isLeader).length;
      this.maxConcurrentLeaders = Math.max(this.maxConcurrentLeaders, leading);
    }, 20);
  }

  track(candidate: Candidate): void {
    this.#candidates.push(candidate);
  }

  assertNoOverlap(): void {
    const sorted = [...this.all].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      const previous = sorted[i - 1] as Term;
      const current = sorted[i] as Term;
      expect(
        previous.end,
        `term of ${previous.identity} must have ended before ${current.identity} started`,
      ).toBeDefined();
      expect(previous.end ?? Infinity).toBeLessThanOrEqual(current.start);
    }
    expect(this.maxConcurrentLeaders).toBeLessThanOrEqual(1);
  }

  stop(): void {
    clearInterval(this.#sampler);
  }
}

interface LeaseVersion {
  at: number;
  resourceVersion: string;
  holder: string;
  renewTime: string | undefined;
  renewTimeMs: number | undefined;
  acquireTime: string | undefined;
  transitions: number;
  durationSeconds: number | undefined;
}

/** Every version of the Lease as the API server stored it (raw JSON from a watch). */
class LeaseHistory {
  readonly versions: LeaseVersion[] = [];
  #controller: AbortController | undefined;

  async start(kc: k8s.KubeConfig, namespace: string): Promise<void> {
    this.#controller = await new k8s.Watch(kc).watch(
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      {},
      (
        _type: string,
        obj: { metadata?: { name?: string; resourceVersion?: string }; spec?: Record<string, unknown> },
      ) => {
        if (obj.metadata?.name !== LEASE) return;
        const spec = obj.spec ?? {};
        const renewTime = typeof spec.renewTime === "string" ? spec.renewTime : undefined;
        this.versions.push({
          at: Date.now(),
          resourceVersion: obj.metadata.resourceVersion ?? "",
          holder: typeof spec.holderIdentity === "string" ? spec.holderIdentity : "",
          renewTime,
          renewTimeMs: parseMicroTime(renewTime),
          acquireTime: typeof spec.acquireTime === "string" ? spec.acquireTime : undefined,
          transitions: typeof spec.leaseTransitions === "number" ? spec.leaseTransitions : 0,
          durationSeconds: typeof spec.leaseDurationSeconds === "number" ? spec.leaseDurationSeconds : undefined,
        });
      },
      () => {},
    );
  }

  /** The latest renewTime the API server stored while `holder` held the Lease. */
  lastRenewBy(holder: string): number {
    const times = this.versions.filter((v) => v.holder === holder).map((v) => v.renewTimeMs ?? 0);
    if (times.length === 0) throw new Error(`no Lease version held by ${holder}`);
    return Math.max(...times);
  }

  stop(): void {
    this.#controller?.abort();
  }
}

/**
 * A TCP proxy in front of the API server, so one candidate can be cut off: `partition()` drops every
 * connection and swallows new ones (requests hang, as when a node loses the network).
 */
class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #partitioned = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: URL): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    server.on("connection", (client) => proxy.#accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  #accept(client: Socket, target: URL): void {
    this.#track(client);
    client.on("error", () => client.destroy());
    if (this.#partitioned) return; // hold the connection open, forward nothing
    const upstream = connect(Number(target.port), target.hostname);
    this.#track(upstream);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
  }

  partition(): void {
    this.#partitioned = true;
    for (const socket of this.#sockets) socket.destroy();
  }

  heal(): void {
    this.#partitioned = false;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The admin credentials, sent to another server address (the proxy). */
function kubeConfigVia(admin: k8s.KubeConfig, server: string): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  const user = admin.getCurrentUser();
  if (!cluster || !user) throw new Error("admin kubeconfig has no current cluster or user");
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, name: "via-proxy", server }],
    users: [user],
    contexts: [{ name: "via-proxy", cluster: "via-proxy", user: user.name }],
    currentContext: "via-proxy",
  });
  return kc;
}

describe("Lease leader election", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const namespaces = new NamespaceScope(core);
  const cleanups: (() => Promise<void> | void)[] = [];

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => namespaces.cleanup());

  /** A fresh namespace with a Lease watch and a term recorder; everything is stopped after the test. */
  async function setup(prefix: string): Promise<{ namespace: string; history: LeaseHistory; terms: Terms }> {
    const namespace = await namespaces.create(prefix);
    const history = new LeaseHistory();
    await history.start(kc, namespace);
    const terms = new Terms();
    cleanups.push(
      () => history.stop(),
      () => terms.stop(),
    );
    return { namespace, history, terms };
  }

  function candidate(
    terms: Terms,
    namespace: string,
    identity: string,
    options: { kubeConfig?: k8s.KubeConfig; releaseOnCancel?: boolean } = {},
  ): Candidate {
    const logger = new CapturingLogger([], { candidate: identity });
    const elector = new LeaderElector({
      lock: new LeaseLock({ kubeConfig: options.kubeConfig ?? kc, namespace, name: LEASE }),
      identity,
      ...TIMINGS,
      logger,
      ...(options.releaseOnCancel === undefined ? {} : { releaseOnCancel: options.releaseOnCancel }),
    });
    const controller = new AbortController();
    const c: Candidate = { identity, elector, logger, controller, done: Promise.resolve(), stopped: 0, terms: [] };
    c.done = elector.run(controller.signal, {
      onStartedLeading: (leaderSignal) => {
        const term: Term = { identity, start: Date.now() };
        terms.all.push(term);
        c.terms.push(term);
        // The "work": runs until leadership ends.
        return new Promise<void>((resolve) => {
          leaderSignal.addEventListener("abort", () => {
            term.end = Date.now();
            resolve();
          });
        });
      },
      onStoppedLeading: () => {
        c.stopped++;
      },
    });
    terms.track(c);
    cleanups.push(async () => {
      c.controller.abort();
      await c.done.catch(() => undefined);
    });
    return c;
  }

  it("is needed: the API server rejects a Lease time with millisecond precision; the elector's MicroTime is accepted", async () => {
    const namespace = await namespaces.create("lease-microtime");
    const at = Date.UTC(2026, 10, 29, 14, 39, 9, 35);
    const rejected = await coordination
      .createNamespacedLease({
        namespace,
        body: { metadata: { name: "plain-date" }, spec: { holderIdentity: "x", renewTime: new Date(at) } },
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(statusCode(rejected)).toBe(400);
    expect(String((rejected as k8s.ApiException<unknown>).body)).toContain('cannot parse \\".035Z\\" as \\".000000\\"');

    const created = await coordination.createNamespacedLease({
      namespace,
      body: {
        metadata: { name: "micro-time" },
        spec: { holderIdentity: "x", renewTime: new MicroTime(at), acquireTime: new MicroTime(at) },
      },
    });
    // client-node hands MicroTime fields back as the server's strings, whatever the type says.
    expect(typeof created.spec?.renewTime).toBe("string");
    expect(created.spec?.renewTime as unknown).toBe("2026-11-29T14:39:09.035000Z");
    expect(parseMicroTime(created.spec?.renewTime)).toBe(at);
  });

  /** A ServiceAccount token that may only get, create and update Leases in `namespace`. */
  async function leaseOnlyToken(namespace: string): Promise<string> {
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "elector" } } });
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: "leader-election" },
        rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: "leader-election" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "leader-election" },
        subjects: [{ kind: "ServiceAccount", name: "elector", namespace }],
      },
    });
    const request = await core.createNamespacedServiceAccountToken({
      name: "elector",
      namespace,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = request.status?.token;
    if (!token) throw new Error("no token issued");
    const limited = tokenKubeConfig(kc, token, "elector").makeApiClient(k8s.CoordinationV1Api);
    await eventually("RBAC to allow reading Leases", () =>
      limited.readNamespacedLease({ namespace, name: "absent" }).then(
        () => true,
        (err: unknown) => (statusCode(err) === 404 ? true : undefined),
      ),
    );
    return token;
  }

  it("lets exactly one of two candidates lead, and hands over at once when the leader releases", async () => {
    const { namespace, history, terms } = await setup("lease-release");
    // candidate-b runs with the least privilege an elector needs: get, create and update on Leases.
    const token = await leaseOnlyToken(namespace);
    const a = candidate(terms, namespace, "candidate-a");
    const b = candidate(terms, namespace, "candidate-b", { kubeConfig: tokenKubeConfig(kc, token, "elector") });

    const leader = await eventually("a leader", () => [a, b].find((c) => c.elector.isLeader), 15_000);
    const follower = leader === a ? b : a;
    // Hold for longer than a lease duration: the leader keeps renewing, nobody else leads.
    await sleep(TIMINGS.leaseDurationMs + 1000);
    expect(leader.elector.isLeader).toBe(true);
    expect(follower.elector.isLeader).toBe(false);
    expect(leader.terms).toHaveLength(1);
    expect(follower.terms).toHaveLength(0);
    expect(leader.elector.state).toBe("leader");
    expect(follower.elector.state).toBe("follower");
    expect(follower.elector.currentLeader).toBe(leader.identity);
    expect(leader.elector.leaseTransitions).toBe(0);

    const lease = await coordination.readNamespacedLease({ namespace, name: LEASE });
    expect(lease.spec?.holderIdentity).toBe(leader.identity);
    expect(lease.spec?.leaseDurationSeconds).toBe(3);
    const held = history.versions.filter((v) => v.holder === leader.identity);
    // Created, then renewed about every retryPeriod; every stored time has six fraction digits.
    expect(held.length).toBeGreaterThanOrEqual(6);
    for (const v of held) {
      expect(v.renewTime).toMatch(SIX_DIGITS);
      expect(v.acquireTime).toMatch(SIX_DIGITS);
      expect(v.acquireTime).toBe(held[0]?.acquireTime);
    }

    const releasedAt = Date.now();
    leader.controller.abort();
    await leader.done;
    expect(leader.stopped).toBe(1);
    expect(leader.elector.state).toBe("unknown");
    await eventually(
      "the release to be stored",
      () => history.versions.some((v) => v.holder === "" && v.durationSeconds === 1) || undefined,
      5_000,
    );

    await eventually("the follower to take over", () => follower.elector.isLeader || undefined, 10_000);
    const takeover = (follower.terms[0]?.start ?? Infinity) - releasedAt;
    const measured = report("release", { takeoverAfterRelease: takeover });
    // At its next poll: retryPeriod × (1 + 1.2 jitter) at most, far less than a lease duration.
    expect(takeover, measured).toBeLessThan(TIMINGS.retryPeriodMs * 2.2 + 500);
    expect(takeover, measured).toBeLessThan(TIMINGS.leaseDurationMs);
    const after = await coordination.readNamespacedLease({ namespace, name: LEASE });
    expect(after.spec?.holderIdentity).toBe(follower.identity);
    expect(after.spec?.leaseTransitions).toBe(1);
    terms.assertNoOverlap();
    expect(terms.all).toHaveLength(2);
    for (const c of [a, b]) {
      expect(c.logger.lines.length).toBeGreaterThan(0);
      expect(c.logger.text()).not.toContain(token);
    }
  });

  it("replaces a crashed leader (no release) after the lease duration, within leaseDuration + 2 × retryPeriod", async () => {
    const { namespace, history, terms } = await setup("lease-crash");
    // releaseOnCancel: false makes the abort a crash: renewals stop, the Lease is left as it is.
    const a = candidate(terms, namespace, "candidate-a", { releaseOnCancel: false });
    await eventually("candidate-a to lead", () => a.elector.isLeader || undefined, 15_000);
    const b = candidate(terms, namespace, "candidate-b");
    await eventually(
      "candidate-b to follow candidate-a",
      () => (b.elector.state === "follower" && b.elector.currentLeader === a.identity) || undefined,
    );
    await sleep(1000);

    const crashedAt = Date.now();
    a.controller.abort();
    await a.done;
    const left = await coordination.readNamespacedLease({ namespace, name: LEASE });
    expect(left.spec?.holderIdentity).toBe(a.identity);
    expect(b.elector.isLeader).toBe(false);

    await eventually("candidate-b to take over", () => b.elector.isLeader || undefined, 15_000);
    const takeoverAt = b.terms[0]?.start ?? Infinity;
    const lastRenew = history.lastRenewBy(a.identity);
    const measured = report("crash", {
      takeoverAfterCrash: takeoverAt - crashedAt,
      takeoverAfterLastRenew: takeoverAt - lastRenew,
    });
    expect(lastRenew, measured).toBeLessThanOrEqual(crashedAt);
    expect(takeoverAt, measured).toBeGreaterThanOrEqual(lastRenew + TIMINGS.leaseDurationMs);
    expect(takeoverAt - crashedAt, measured).toBeLessThanOrEqual(TIMINGS.leaseDurationMs + 2 * TIMINGS.retryPeriodMs);
    const taken = history.versions.find((v) => v.holder === b.identity);
    expect(taken?.transitions).toBe(1);
    terms.assertNoOverlap();
  });

  it("steps a leader whose renewals fail down before its Lease expires; it then campaigns again", async () => {
    const { namespace, history, terms } = await setup("lease-partition");
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error("admin kubeconfig has no server");
    const proxy = await TcpProxy.start(new URL(server));
    cleanups.push(() => proxy.close());

    const a = candidate(terms, namespace, "candidate-a", { kubeConfig: kubeConfigVia(kc, proxy.url) });
    await eventually("candidate-a to lead", () => a.elector.isLeader || undefined, 15_000);
    const b = candidate(terms, namespace, "candidate-b");
    await eventually(
      "candidate-b to follow candidate-a",
      () => (b.elector.state === "follower" && b.elector.currentLeader === a.identity) || undefined,
    );
    await sleep(1000);

    const partitionedAt = Date.now();
    proxy.partition();
    await eventually("candidate-a to step down", () => (a.elector.isLeader ? undefined : true), 10_000);
    const steppedDownAt = a.terms[0]?.end ?? Infinity;
    await eventually("candidate-b to take over", () => b.elector.isLeader || undefined, 10_000);
    const takeoverAt = b.terms[0]?.start ?? Infinity;

    const lastRenew = history.lastRenewBy(a.identity);
    const measured = report("partition", {
      stepDownAfterLastRenew: steppedDownAt - lastRenew,
      stepDownAfterPartition: steppedDownAt - partitionedAt,
      takeoverAfterLastRenew: takeoverAt - lastRenew,
      takeoverAfterPartition: takeoverAt - partitionedAt,
      gap: takeoverAt - steppedDownAt,
    });
    expect(lastRenew, measured).toBeLessThanOrEqual(partitionedAt);
    // Steps down renewDeadline after its last renewal (from a timer), before lastRenew + leaseDuration.
    // (Its deadline counts from the last renewal it saw succeed, which can be one renewal older than
    // the last one stored if the partition swallowed the response.)
    expect(steppedDownAt, measured).toBeGreaterThanOrEqual(
      lastRenew + TIMINGS.renewDeadlineMs - TIMINGS.retryPeriodMs - 100,
    );
    expect(steppedDownAt, measured).toBeLessThan(lastRenew + TIMINGS.leaseDurationMs);
    expect(steppedDownAt - partitionedAt, measured).toBeLessThanOrEqual(TIMINGS.renewDeadlineMs + 250);
    expect(a.stopped).toBe(1);
    expect(takeoverAt, measured).toBeGreaterThanOrEqual(lastRenew + TIMINGS.leaseDurationMs);
    expect(takeoverAt - partitionedAt, measured).toBeLessThanOrEqual(
      TIMINGS.leaseDurationMs + 2 * TIMINGS.retryPeriodMs,
    );
    terms.assertNoOverlap();

    // Not exited: still campaigning, though it cannot read the Lease ...
    await eventually(
      "candidate-a's state to become unknown",
      () => (a.elector.state === "unknown" ? true : undefined),
      10_000,
    );
    expect(a.logger.text()).toContain("lost leadership; stepping down");
    // ... and once the network is back, it follows the new leader.
    proxy.heal();
    await eventually(
      "candidate-a to follow candidate-b",
      () => (a.elector.state === "follower" && a.elector.currentLeader === b.identity) || undefined,
      10_000,
    );
    expect(a.elector.isLeader).toBe(false);
    expect(b.elector.isLeader).toBe(true);
    terms.assertNoOverlap();
  });

  it("the patcher binary leads again after an API outage longer than renewDeadline, with working sources (not the ones the first term stopped)", async () => {
    const { namespace } = await setup("lease-patcher");
    const target = await namespaces.create("lease-patcher-target", { suite: namespace });
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error("admin kubeconfig has no server");
    const proxy = await TcpProxy.start(new URL(server));
    cleanups.push(() => proxy.close());
    const dir = mkdtempSync(join(tmpdir(), "patcher-lease-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeConfigVia(kc, proxy.url).exportConfig());
    const creds = join(dir, "creds", "config.json");
    const writeCreds = (password: string): void => {
      writeFileSync(`${creds}.tmp`, dockerConfigJson(password));
      renameSync(`${creds}.tmp`, creds);
    };
    mkdirSync(join(dir, "creds"));
    const first = `${TEST_PASSWORD_PREFIX}${namespace}-1`;
    writeCreds(first);
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      `mappings:
  - name: from-file
    source: { file: { path: ${creds}, pollIntervalSeconds: 1 } }
    targets: { selector: "suite=${namespace}" }
    secretName: lease-pull
leaderElection: { enabled: true, namespace: ${namespace}, leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms }
controller: { resyncInterval: 0 }
`,
    );
    const port = await freePort();
    const patcher = new PatcherProcess(
      ["run", "--config", config, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`],
      { POD_NAME: "solo" },
    );
    cleanups.push(async () => void (await patcher.stop()));
    await waitForCopy(core, target, "lease-pull", first);
    const ready = async (): Promise<
      { status: number; body: { leader?: string; degradedSources?: string[] } } | undefined
    > => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res
        ? { status: res.status, body: (await res.json()) as { leader?: string; degradedSources?: string[] } }
        : undefined;
    };
    await eventually("ready as leader", async () => ((await ready())?.status === 200 ? true : undefined));

    // Cut it off from the API server for longer than renewDeadline: it steps down.
    proxy.partition();
    await patcher.waitForLog((l) => l.msg === "lost the leader lease; stopped reconciling", 15_000);
    await sleep(1000);
    proxy.heal();
    // Nobody else campaigns: the same process wins the Lease again and starts a second term.
    await eventually(
      "a second term",
      () => (patcher.logs().filter((l) => l.msg === "engine started").length >= 2 ? true : undefined),
      30_000,
    );
    await eventually(
      "ready as leader again",
      async () => {
        const r = await ready();
        return r?.status === 200 && r.body.leader === "leader" ? r : undefined;
      },
      30_000,
    );

    // The second term's file source works: a new credential in the file reaches the copy.
    const second = `${TEST_PASSWORD_PREFIX}${namespace}-2`;
    writeCreds(second);
    await waitForCopy(core, target, "lease-pull", second);
    expect(patcher.logs().filter((l) => l.msg === "source failed to start")).toEqual([]);
    expect(await patcher.stop()).toBe(0);
  });
});
