// Two patcher replicas with leader election: exactly one reconciles; when it is killed (SIGKILL,
// no release) the other takes over within the lease duration.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import { TEST_PASSWORD_PREFIX, putSourceSecret, waitForCopy, waitForPullSecrets } from "../src/support/fixtures.ts";

describe("leader failover with two replicas", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const replicas: PatcherProcess[] = [];
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await namespaces.cleanup();
  });

  it("only the leader writes; the follower takes over within the lease duration after the leader dies", async () => {
    const password = `${TEST_PASSWORD_PREFIX}${uniqueName("ha")}`;
    const home = await namespaces.create("ha-home");
    await putSourceSecret(core, home, "regcred", password);
    const suite = uniqueName("ha");
    const dir = mkdtempSync(join(tmpdir(), "patcher-ha-"));
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      `mappings:
  - name: ha
    source: { secret: { name: regcred, namespace: ${home} } }
    targets: { selector: "suite=${suite}" }
    secretName: ha-pull
leaderElection: { enabled: true, namespace: ${home}, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms }
controller: { resyncInterval: 0 }
`,
    );
    const ports = [await freePort(), await freePort()];
    const start = (i: number): PatcherProcess => {
      const p = new PatcherProcess(
        [
          "run",
          "--config",
          config,
          "--kubeconfig",
          inject("kubeconfigPath"),
          "--server-address",
          `127.0.0.1:${ports[i]}`,
        ],
        { POD_NAME: `replica-${i}` },
      );
      replicas.push(p);
      return p;
    };
    const [r0, r1] = [start(0), start(1)];
    const leaderOf = async (): Promise<string | undefined> =>
      (
        await kc
          .makeApiClient(k8s.CoordinationV1Api)
          .readNamespacedLease({ name: "imagepullsecret-patcher", namespace: home })
          .catch(() => undefined)
      )?.spec?.holderIdentity || undefined;
    const first = await eventually("a leader", leaderOf);
    const [leader, follower] = first === "replica-0" ? [r0, r1] : [r1, r0];
    const followerPort = first === "replica-0" ? ports[1] : ports[0];

    const ns1 = await namespaces.create("ha-1", { suite });
    await waitForCopy(core, ns1, "ha-pull", password);
    await waitForPullSecrets(core, ns1, "default", ["ha-pull"]);
    // Only the leader reconciled anything.
    // The follower is ready too (it knows it follows) once its first Lease read is in.
    const readiness = await eventually("the follower to report itself ready as follower", async () => {
      const res = await fetch(`http://127.0.0.1:${followerPort}/readyz`).catch(() => undefined);
      const body = res ? ((await res.json()) as { leader: string }) : undefined;
      return res?.status === 200 && body?.leader === "follower" ? body : undefined;
    });
    expect(readiness.leader).toBe("follower");
    expect(follower.logs().filter((l) => l.msg === "reconciled")).toEqual([]);
    expect(leader.logs().filter((l) => l.msg === "reconciled").length).toBeGreaterThan(0);

    leader.child.kill("SIGKILL");
    const killedAt = Date.now();
    await leader.exited;
    const next = await eventually(
      "the follower to take the lease",
      async () => {
        const holder = await leaderOf();
        return holder && holder !== first ? holder : undefined;
      },
      30_000,
    );
    const takeoverMs = Date.now() - killedAt;
    expect(next).not.toBe(first);
    // Lease duration 4 s, plus a retry period and scheduling slack on a busy machine.
    expect(takeoverMs).toBeLessThan(4_000 + 3_000);

    const ns2 = await namespaces.create("ha-2", { suite });
    await waitForCopy(core, ns2, "ha-pull", password);
    await waitForPullSecrets(core, ns2, "default", ["ha-pull"]);
    expect(follower.logs().some((l) => l.msg === "reconciled" && l.namespace === ns2)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${followerPort}/metrics`)).text();
    expect(metrics).toMatch(/^imagepullsecret_patcher_leader 1$/m);
  });
});
