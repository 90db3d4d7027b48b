// The Pod admission webhook with more than one replica, and across certificate rotations, on the real API server.
// The API server calls https://127.0.0.1:<proxy>, a loopback TCP proxy that forwards to the replica the test picks,
// as a Service picks an endpoint. The mapping patches only a `builder` ServiceAccount, so a copy in a Pod's
// spec.imagePullSecrets can only come from the webhook.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect as connectTcp, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectTls } from "node:tls";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import {
  CLOCK_SKEW_MS,
  createCertificateAuthority,
  issueServingCertificate,
  webhookTlsSecretData,
} from "@imagepullsecret-patcher/core/admission-tls";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  putSourceSecret,
  sleep,
  waitForCopy,
  waitForDefaultServiceAccount,
} from "../src/support/fixtures.ts";

const COPY = "replicas-pull";
const MINUTE = 60_000;
/** The shortest lifetimes webhook.tls accepts (see the floors in apps/patcher/src/config/schema.ts). */
const SERVING_VALIDITY_MS = 4 * MINUTE;
const CA_VALIDITY_MS = 8 * MINUTE;
const CA_PROPAGATION_MS = MINUTE;
/** Pods created per second while the certificates rotate, one at a time. */
const PODS_PER_SECOND = 5;

/**
 * A loopback TCP proxy in front of the replicas. `route` sends new connections to one replica and closes the open
 * ones, so the API server's next call connects (and shakes hands) anew.
 */
class SwitchableProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #target: number | undefined;
  port = 0;
  /** Connections forwarded so far. */
  connections = 0;

  private constructor() {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(): Promise<SwitchableProxy> {
    const proxy = new SwitchableProxy();
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    const address = proxy.#server.address();
    proxy.port = typeof address === "object" && address ? address.port : 0;
    return proxy;
  }

  route(port: number): void {
    this.#target = port;
    this.dropConnections();
  }

  /** Call only with no admission call in flight: the API server does not retry a POST cut short. */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  #accept(client: Socket): void {
    if (this.#target === undefined) {
      client.destroy();
      return;
    }
    const upstream = connectTcp(this.#target, "127.0.0.1");
    this.connections++;
    for (const socket of [client, upstream]) this.#sockets.add(socket);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      for (const socket of [client, upstream]) {
        socket.destroy();
        this.#sockets.delete(socket);
      }
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

interface Replica {
  process: PatcherProcess;
  serverPort: number;
  webhookPort: number;
}

interface ReplicaOptions {
  suite: string;
  configurationName: string;
  tlsSecret: string;
  proxy: SwitchableProxy;
  /** Extra YAML at the top level. */
  extra?: string;
  /** Extra entries of webhook.tls, flow style. */
  tls?: string;
}

describe("webhook replicas and certificate rotation", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("replicas")}`;
  const configurations: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  let src: string;

  beforeAll(async () => {
    src = await namespaces.create("wr-src");
    await putSourceSecret(core, src, "regcred", password);
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    for (const name of configurations) {
      await admission.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    }
    await namespaces.cleanup();
  });

  async function startProxy(): Promise<SwitchableProxy> {
    const proxy = await SwitchableProxy.start();
    cleanups.push(() => proxy.close());
    return proxy;
  }

  /** A patcher with the webhook on a port of its own, called through `proxy`; resolves once it serves. */
  async function startReplica(name: string, options: ReplicaOptions): Promise<Replica> {
    const [serverPort, webhookPort] = [await freePort(), await freePort()];
    const config = join(mkdtempSync(join(tmpdir(), "webhook-replicas-")), "config.yaml");
    writeFileSync(
      config,
      `secretName: ${COPY}
mappings:
  - name: replicas
    source: { secret: { name: regcred, namespace: ${src} } }
    targets: { selector: { matchLabels: { suite: ${options.suite} } } }
    serviceAccounts: [builder]
    podAdmission: true
controller: { resyncInterval: 0 }
${options.extra ?? ""}
webhook:
  enabled: true
  address: 127.0.0.1:${webhookPort}
  url: https://127.0.0.1:${options.proxy.port}
  configurationName: ${options.configurationName}
  tls: { mode: self-managed, secretNamespace: ${src}, secretName: ${options.tlsSecret}${options.tls ?? ""} }
`,
    );
    const patcher = new PatcherProcess(
      ["run", "--config", config, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${serverPort}`],
      { POD_NAME: name, POD_NAMESPACE: src },
    );
    cleanups.push(() => patcher.stop());
    await patcher.waitForLog((l) => l.msg === "serving the pod admission webhook", 30_000);
    return { process: patcher, serverPort, webhookPort };
  }

  /** The configuration's caBundle once a replica has written it. */
  async function publishedCaBundle(name: string): Promise<string> {
    const configuration = await eventually(`MutatingWebhookConfiguration ${name} with a caBundle`, async () => {
      const found = await admission.readMutatingWebhookConfiguration({ name }).catch(() => undefined);
      return found?.webhooks?.[0]?.clientConfig.caBundle ? found : undefined;
    });
    return Buffer.from(configuration.webhooks?.[0]?.clientConfig.caBundle ?? "", "base64").toString("utf8");
  }

  /** imagepullsecret_patcher_admission_reviews_total{result="patched"} of one replica. */
  async function patchedReviews(replica: Replica): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${replica.serverPort}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith("imagepullsecret_patcher_admission_reviews_total{") && l.includes('result="patched"'));
    return line ? Number(line.split(" ").pop()) : 0;
  }

  function createPod(namespace: string, name: string): Promise<k8s.V1Pod> {
    const body: k8s.V1Pod = {
      metadata: { name },
      spec: { containers: [{ name: "app", image: "registry.example.test/team/app:1" }] },
    };
    return core.createNamespacedPod({ namespace, body });
  }

  const hasCopy = (pod: k8s.V1Pod): boolean => (pod.spec?.imagePullSecrets ?? []).some((s) => s.name === COPY);

  /** The certificates of a PEM bundle, in order. */
  const certificates = (bundle: string): string[] =>
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

  /**
   * Waits until the API server calls the webhook (it learns of the configuration through a watch): Pods in
   * `namespace` until one gets the copy.
   */
  async function webhookInEffect(namespace: string): Promise<void> {
    let attempt = 0;
    await eventually("the API server to call the webhook", async () => {
      const pod = await createPod(namespace, `warm-up-${attempt++}`);
      return hasCopy(pod) ? true : undefined;
    });
  }

  async function namespaceWithServiceAccount(prefix: string, suite: string): Promise<string> {
    const namespace = await namespaces.create(prefix, { suite });
    // The ServiceAccount admission plugin refuses Pods until `default` exists.
    await waitForDefaultServiceAccount(core, namespace);
    return namespace;
  }

  it("two replicas with leader election: the follower, the leader and, once the leader is killed, the survivor admit", async () => {
    const suite = uniqueName("wr-ha");
    const configurationName = uniqueName("wr-ha-webhook");
    configurations.push(configurationName);
    const proxy = await startProxy();
    const options: ReplicaOptions = {
      suite,
      configurationName,
      tlsSecret: "wr-ha-tls",
      proxy,
      extra: `leaderElection: { enabled: true, namespace: ${src}, leaseDuration: 3s, renewDeadline: 2s, retryPeriod: 500ms }`,
    };
    // Started together: both find no TLS Secret, one creates it and the other uses what it wrote.
    const [a, b] = await Promise.all([startReplica("replica-a", options), startReplica("replica-b", options)]);
    await publishedCaBundle(configurationName);
    const holder = await eventually("a leader", async () => {
      const lease = await kc
        .makeApiClient(k8s.CoordinationV1Api)
        .readNamespacedLease({ name: "imagepullsecret-patcher", namespace: src })
        .catch(() => undefined);
      return lease?.spec?.holderIdentity || undefined;
    });
    const [leader, follower] = holder === "replica-a" ? [a, b] : [b, a];
    proxy.route(follower.webhookPort);
    await webhookInEffect(await namespaceWithServiceAccount("wr-warm-up", suite));

    /** Routes the webhook to `replica`, creates a Pod in a new namespace, and checks `replica` patched it. */
    const admitThrough = async (replica: Replica, label: string, others: Replica[]): Promise<string> => {
      proxy.route(replica.webhookPort);
      const namespace = await namespaceWithServiceAccount(`wr-${label}`, suite);
      const before = await Promise.all([replica, ...others].map(patchedReviews));
      const pod = await createPod(namespace, "app");
      expect(
        pod.spec?.imagePullSecrets?.map((s) => s.name),
        `Pod admitted through the ${label}`,
      ).toContain(COPY);
      const after = await Promise.all([replica, ...others].map(patchedReviews));
      expect(after, `patched reviews of the ${label} and the others`).toEqual([
        (before[0] ?? 0) + 1,
        ...before.slice(1),
      ]);
      return namespace;
    };

    await admitThrough(follower, "follower", [leader]);
    await admitThrough(leader, "leader", [follower]);
    expect(await patchedReviews(follower)).toBeGreaterThan(0);
    expect(await patchedReviews(leader)).toBeGreaterThan(0);

    leader.process.child.kill("SIGKILL");
    await leader.process.exited;
    // Admission does not wait for the survivor to take the Lease.
    const last = await admitThrough(follower, "survivor", []);
    // Once it leads, its engine makes the copy the Pod names.
    await waitForCopy(core, last, COPY, password);
    expect(follower.process.stdout + follower.process.stderr).not.toContain(password);
  });

  it("keeps admitting every Pod while its serving certificate is reissued and its CA rotated", async () => {
    const suite = uniqueName("wr-rot");
    const configurationName = uniqueName("wr-rot-webhook");
    configurations.push(configurationName);
    const tlsSecret = "wr-rot-tls";
    const proxy = await startProxy();
    const loadNamespaces = await Promise.all([1, 2, 3, 4, 5].map(() => namespaceWithServiceAccount("wr-rot", suite)));
    // Certificates made earlier, so that the rotations fall inside this test: the serving certificate is due 15 s
    // from now, the CA 22 s from now, and the serving certificate moves to the new CA a propagation later (82 s).
    const seededAt = Date.now();
    const seeded = await seedTls(tlsSecret, { servingDueInMs: 15_000, caDueInMs: 22_000 });
    const replica = await startReplica("rotating", {
      suite,
      configurationName,
      tlsSecret,
      proxy,
      tls: `, servingValidity: ${SERVING_VALIDITY_MS / 1000}s, caValidity: ${CA_VALIDITY_MS / 1000}s, caPropagation: ${CA_PROPAGATION_MS / 1000}s`,
    });
    proxy.route(replica.webhookPort);
    expect(certificates(await publishedCaBundle(configurationName))).toEqual(certificates(seeded.caCertPem));
    await webhookInEffect(loadNamespaces[0] as string);
    const loadStart = Date.now();
    const connectionsBefore = proxy.connections;
    expect(loadStart - seededAt, "the replica must serve before its first renewal").toBeLessThan(15_000);

    const reloads = (): Record<string, unknown>[] =>
      replica.process.logs().filter((l) => l.msg === "webhook serving certificate reloaded");
    const probe = probeHandshakes(replica.webhookPort, configurationName);
    const load = { created: [] as number[], lacking: [] as string[], failed: [] as string[] };
    const deadline = seededAt + 2 * MINUTE;
    let droppedAt = 0;
    // One Pod at a time, so that no admission call is in flight when the proxy drops the API server's connections:
    // every 2 s it must connect again and trust whatever certificate the replica serves at that moment.
    for (let i = 0; Date.now() < deadline; i++) {
      const namespace = loadNamespaces[i % loadNamespaces.length] as string;
      try {
        const pod = await createPod(namespace, `pod-${i}`);
        load.created.push(Date.now());
        if (!hasCopy(pod)) load.lacking.push(`${namespace}/pod-${i}`);
      } catch (err) {
        load.failed.push(`${namespace}/pod-${i}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (Date.now() - droppedAt >= 2_000) {
        proxy.dropConnections();
        droppedAt = Date.now();
      }
      const lastReload = reloads()[1]?.time;
      if (typeof lastReload === "string" && Date.now() - Date.parse(lastReload) > 5_000) break;
      await sleep(Math.max(0, loadStart + ((i + 1) * 1000) / PODS_PER_SECOND - Date.now()));
    }
    const handshakes = await probe.stop();
    const reconnects = proxy.connections - connectionsBefore;

    const renewals = replica.process.logs().filter((l) => l.msg === "webhook TLS renewed");
    const at = (line: Record<string, unknown> | undefined): number =>
      Math.round((Date.parse(String(line?.time)) - seededAt) / 100) / 10;
    // Pods created before, between and after the renewals.
    const bounds = [loadStart, ...renewals.map((r) => Date.parse(String(r.time))), Infinity];
    const perPhase = bounds
      .slice(1)
      .map((end, k) => load.created.filter((t) => t >= (bounds[k] ?? 0) && t < end).length);
    console.log(
      `webhook rotation: ${load.created.length} Pods created in ${Math.round((Date.now() - seededAt) / 1000)} s, ` +
        `${load.lacking.length} lacking ${COPY}, ${load.failed.length} failed; renewals ` +
        `${renewals.map((r) => `${String(r.action)}@${at(r)}s`).join(", ")}; reloads at ` +
        `${reloads()
          .map((r) => `${at(r)}s`)
          .join(", ")}; ${handshakes.ok} handshakes against the published caBundle, ` +
        `${handshakes.failed.length} failed, ${handshakes.certificates.size} serving certificates seen; ` +
        `the API server connected ${reconnects} times; Pods per phase ${perPhase.join(", ")}`,
    );
    expect(load.failed).toEqual([]);
    expect(load.lacking).toEqual([]);
    expect(renewals.map((r) => r.action)).toEqual(["reissue-serving", "rotate-ca", "reissue-serving"]);
    // However busy the machine, Pods were created in every phase.
    expect(Math.min(...perPhase), `Pods created per phase: ${perPhase.join(", ")}`).toBeGreaterThanOrEqual(5);
    // It connected anew after every drop, so it trusted each certificate served, old and new.
    expect(reconnects).toBeGreaterThanOrEqual(20);
    // A renewal due sooner than the 60 s check interval happens when due.
    expect(at(renewals[0])).toBeLessThan(15 + 5);
    expect(reloads()).toHaveLength(2);
    expect(handshakes.failed).toEqual([]);
    expect(handshakes.certificates.size).toBe(3);

    const secret = await core.readNamespacedSecret({ namespace: src, name: tlsSecret });
    const pem = (key: string): string => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
    expect(certificates(pem("ca-previous.crt"))).toEqual(certificates(seeded.caCertPem));
    expect(certificates(pem("ca.crt"))).not.toEqual(certificates(seeded.caCertPem));
    const served = new X509Certificate(pem("tls.crt"));
    expect(served.verify(new X509Certificate(pem("ca.crt")).publicKey)).toBe(true);
    expect(certificates(await publishedCaBundle(configurationName))).toEqual([
      ...certificates(pem("ca.crt")),
      ...certificates(seeded.caCertPem),
    ]);
    expect(replica.process.stdout + replica.process.stderr).not.toContain(password);
  });

  /**
   * Writes the webhook's TLS Secret with a CA and a serving certificate made in the past, so that each is renewed
   * the given time from now: made at `now + dueIn - (2 * validity - skew) / 3`, since certificates start a clock
   * skew early and are renewed with a third of that lifetime left.
   */
  async function seedTls(
    name: string,
    due: { servingDueInMs: number; caDueInMs: number },
  ): Promise<{ caCertPem: string }> {
    const now = Date.now();
    const madeAt = (dueInMs: number, validityMs: number): Date =>
      new Date(now + dueInMs - (2 * validityMs - CLOCK_SKEW_MS) / 3);
    const ca = await createCertificateAuthority({
      now: madeAt(due.caDueInMs, CA_VALIDITY_MS),
      validityMs: CA_VALIDITY_MS,
    });
    const serving = await issueServingCertificate(ca, {
      now: madeAt(due.servingDueInMs, SERVING_VALIDITY_MS),
      validityMs: SERVING_VALIDITY_MS,
      dnsNames: [],
      ipAddresses: ["127.0.0.1"],
    });
    const data = webhookTlsSecretData({
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      certPem: serving.certPem,
      keyPem: serving.keyPem,
    });
    await core.createNamespacedSecret({ namespace: src, body: { metadata: { name }, type: "Opaque", data } });
    return { caCertPem: ca.certPem };
  }

  /**
   * Once a second, a TLS handshake with the replica that trusts only the caBundle published at that moment, as an
   * API server connecting anew would. Counts the distinct serving certificates seen.
   */
  function probeHandshakes(
    port: number,
    configurationName: string,
  ): { stop(): Promise<{ ok: number; failed: string[]; certificates: Set<string> }> } {
    const result = { ok: 0, failed: [] as string[], certificates: new Set<string>() };
    let running = true;
    const handshake = (ca: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connectTls({ host: "127.0.0.1", port, ca }, () => {
          const fingerprint = socket.getPeerCertificate().fingerprint256;
          socket.end();
          resolve(fingerprint);
        });
        socket.setTimeout(5_000, () => socket.destroy(new Error("handshake timed out")));
        socket.on("error", reject);
      });
    const loop = (async () => {
      while (running) {
        try {
          result.certificates.add(await handshake(await publishedCaBundle(configurationName)));
          result.ok++;
        } catch (err) {
          result.failed.push(`${new Date().toISOString()}: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(1_000);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return result;
      },
    };
  }
});
