// The embedded example in HA mode: two replicas of examples/embedded-controller/dist/main.js with
// --leader-elect against the real API server. Exactly one leads and reconciles; when it is killed
// (SIGKILL, no release) the other takes the Lease and reconciles a namespace created afterwards.
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { TEST_PASSWORD_PREFIX, putSourceSecret, waitForCopy, waitForPullSecrets } from "../src/support/fixtures.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";

const EMBEDDED_MAIN = fileURLToPath(new URL("../../examples/embedded-controller/dist/main.js", import.meta.url));
const LEASE = "example-embedded-controller";
// Short timings so the test does not wait 15 s for a crashed leader's Lease to expire.
const TIMINGS = ["--lease-duration", "4", "--renew-deadline", "3", "--retry-period", "0.5"];

/** One replica of the example program, with its JSON log lines kept for assertions. */
class Replica extends PatcherProcess {
  readonly identity: string;

  constructor(identity: string, args: string[]) {
    super([...args, "--identity", identity], {}, EMBEDDED_MAIN);
    this.identity = identity;
  }

  said(msg: string, namespace?: string): boolean {
    return this.logs().some((l) => l.msg === msg && (namespace === undefined || l.namespace === namespace));
  }
}

describe("embedded controller with --leader-elect", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
  const namespaces = new NamespaceScope(core);
  const replicas: Replica[] = [];
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await namespaces.cleanup();
    for (const r of replicas) expect(r.stdout + r.stderr).not.toContain(TEST_PASSWORD_PREFIX);
  });

  it("lets one replica reconcile; after the leader is killed the other takes over and reconciles", async () => {
    const password = `${TEST_PASSWORD_PREFIX}${uniqueName("embedded-ha")}`;
    const home = await namespaces.create("ex-ha-home");
    await putSourceSecret(core, home, "regcred", password);
    // An annotation of this test's own, so no other example run picks these namespaces up.
    const annotation = `${uniqueName("ha")}.example.com/pull-secrets`;
    const optIn = async (prefix: string): Promise<string> => {
      const name = uniqueName(prefix);
      await core.createNamespace({ body: { metadata: { name, annotations: { [annotation]: "true" } } } });
      namespaces.created.push(name);
      return name;
    };
    const args = [
      ...["--kubeconfig", inject("kubeconfigPath"), "--source-secret", `${home}/regcred`, "--secret-name", "ha-pull"],
      ...["--annotation", annotation, "--leader-elect", "--lease-namespace", home, ...TIMINGS],
    ];
    const [r0, r1] = [new Replica("replica-0", args), new Replica("replica-1", args)];
    replicas.push(r0, r1);
    const holder = async (): Promise<string | undefined> => {
      const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: home }).catch(() => undefined);
      return lease?.spec?.holderIdentity || undefined;
    };

    const first = await eventually("a leader", holder);
    const [leader, follower] = first === r0.identity ? [r0, r1] : [r1, r0];
    const ns1 = await optIn("ex-ha-1");
    await waitForCopy(core, ns1, "ha-pull", password);
    await waitForPullSecrets(core, ns1, "default", ["ha-pull"]);
    await eventually("the follower to see the leader", () => (follower.said("new leader observed") ? true : undefined));
    // Exactly one ran an engine and reconciled.
    expect(leader.said("engine started")).toBe(true);
    expect(leader.said("reconciled", ns1)).toBe(true);
    expect(follower.said("leading: starting the engine")).toBe(false);
    expect(follower.said("engine started")).toBe(false);
    expect(follower.said("reconciled")).toBe(false);

    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    await leader.exited;
    const next = await eventually(
      "the follower to take the Lease",
      async () => {
        const h = await holder();
        return h && h !== first ? h : undefined;
      },
      30_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(next).toBe(follower.identity);
    // Lease duration 4 s, plus a retry period and scheduling slack on a busy machine.
    expect(takeoverMs).toBeLessThan(4_000 + 3_000);

    const ns2 = await optIn("ex-ha-2");
    await waitForCopy(core, ns2, "ha-pull", password);
    await waitForPullSecrets(core, ns2, "default", ["ha-pull"]);
    await eventually("the new leader's log of ns2", () => (follower.said("reconciled", ns2) ? true : undefined));
    const lease = await coordination.readNamespacedLease({ name: LEASE, namespace: home });
    expect(lease.spec?.leaseTransitions).toBe(1);

    // A clean stop releases the Lease for the next replica.
    expect(await follower.stop()).toBe(0);
    expect(await holder()).toBeUndefined();
    expect(follower.said("controller stopped")).toBe(true);
    expect(follower.logs().at(-1)?.msg).toBe("leader election stopped");
  });
});
