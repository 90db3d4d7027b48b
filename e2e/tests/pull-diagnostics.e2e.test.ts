// Image-pull diagnostics on the real API server. There is no kubelet here, so the test writes what
// one would: the Pod's waiting status (ImagePullBackOff) and its `Failed` Event
// ("Failed to pull image ..."). Pods are created before the patcher runs, so they lack the copy.
// No ReplicaSet controller runs either: the ReplicaSet is only an owner, created before its Pod so
// that the garbage collector keeps the Pod.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, statusCode, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  eventsFor,
  putSourceSecret,
  sleep,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

const COPY = "diag-pull";
const IMAGE = "registry.example.test/team/app:1";

describe("pull diagnostics: Pods stuck without the copy", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("diag")}`;
  const suite = uniqueName("diag");
  let src: string;
  let target: string;
  let patcher: PatcherProcess | undefined;
  let port: number;

  beforeAll(async () => {
    src = await namespaces.create("diag-src");
    await putSourceSecret(core, src, "regcred", password);
    target = await namespaces.create("diag", { suite });
    await waitForDefaultServiceAccount(core, target);
  });
  afterAll(async () => {
    await patcher?.stop();
    await namespaces.cleanup();
  });

  function podBody(name: string, owner?: k8s.V1ReplicaSet): k8s.V1Pod {
    const ownerReferences = owner
      ? [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: owner.metadata?.name ?? "",
            uid: owner.metadata?.uid ?? "",
            controller: true,
          },
        ]
      : undefined;
    return {
      metadata: { name, labels: { app: "web" }, ownerReferences },
      spec: { containers: [{ name: "app", image: IMAGE }] },
    };
  }

  /** What the kubelet writes when the pull fails: the waiting status, then the `Failed` Event. */
  async function kubeletPullFailed(pod: k8s.V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? "";
    const current = await core.readNamespacedPod({ namespace: target, name });
    await core.replaceNamespacedPodStatus({
      namespace: target,
      name,
      body: {
        ...current,
        status: {
          phase: "Pending",
          containerStatuses: [
            {
              name: "app",
              image: IMAGE,
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${IMAGE}"` } },
            },
          ],
        },
      },
    });
    const now = new Date();
    await core.createNamespacedEvent({
      namespace: target,
      body: {
        metadata: { name: `${name}.${uniqueName("pull")}` },
        involvedObject: { apiVersion: "v1", kind: "Pod", namespace: target, name, uid: pod.metadata?.uid },
        reason: "Failed",
        message: `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to authorize: 401 Unauthorized`,
        type: "Warning",
        source: { component: "kubelet", host: "node-1" },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  async function podExists(name: string): Promise<boolean> {
    try {
      await core.readNamespacedPod({ namespace: target, name });
      return true;
    } catch (err) {
      if (statusCode(err) === 404) return false;
      throw err;
    }
  }

  async function missingPullSecretEvents(name: string): Promise<k8s.EventsV1Event[]> {
    return (await eventsFor(kc, target, name)).filter((e) => e.reason === "MissingPullSecret");
  }

  it("reports both Pods, deletes only the controller-owned one, and leaves a Pod with the copy alone", async () => {
    // Created while no patcher runs: the default ServiceAccount names no pull secret yet.
    const owner = await apps.createNamespacedReplicaSet({
      namespace: target,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: IMAGE }] } },
        },
      },
    });
    const owned = await core.createNamespacedPod({ namespace: target, body: podBody("web-owned", owner) });
    const bare = await core.createNamespacedPod({ namespace: target, body: podBody("bare") });
    expect(owned.spec?.imagePullSecrets ?? []).toEqual([]);

    const dir = mkdtempSync(join(tmpdir(), "pull-diagnostics-"));
    const config = join(dir, "config.yaml");
    port = await freePort();
    writeFileSync(
      config,
      `secretName: ${COPY}
mappings:
  - name: diag
    source: { secret: { name: regcred, namespace: ${src} } }
    targets: { selector: { matchLabels: { suite: ${suite} } } }
controller: { resyncInterval: 0 }
diagnostics: { enabled: true, deleteStuckPods: true, maxDeletesPerMinute: 5 }
`,
    );
    patcher = new PatcherProcess(
      ["run", "--config", config, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`],
      { POD_NAMESPACE: src },
    );
    await waitForCopy(core, target, COPY, password);
    await waitForPullSecrets(core, target, "default", [COPY]);
    // Admitted after the patch: the ServiceAccount admission plugin gives it the copy.
    const fine = await core.createNamespacedPod({ namespace: target, body: podBody("fine") });
    expect((fine.spec?.imagePullSecrets ?? []).map((s) => s.name)).toEqual([COPY]);

    for (const pod of [owned, bare, fine]) await kubeletPullFailed(pod);

    const ownedReport = await eventually("MissingPullSecret on web-owned", async () => {
      const events = await missingPullSecretEvents("web-owned");
      return events[0];
    });
    expect(ownedReport.type).toBe("Warning");
    expect(ownedReport.note).toContain(`Secret "${COPY}" of mapping "diag"`);
    const bareReport = await eventually(
      "MissingPullSecret on bare",
      async () => (await missingPullSecretEvents("bare"))[0],
    );
    expect(bareReport.note).toContain(COPY);

    await eventually("web-owned deleted", async () => ((await podExists("web-owned")) ? undefined : true));
    const deletion = await patcher.waitForLog((l) => String(l.msg).includes("deleted a Pod stuck"));
    expect(deletion).toMatchObject({ namespace: target, pod: "web-owned", controller: "ReplicaSet/web" });

    // A few more kubelet reports: still no deletion of a Pod no controller would recreate, no second Event.
    await kubeletPullFailed(bare);
    await sleep(1500);
    expect(await podExists("bare")).toBe(true);
    expect(await missingPullSecretEvents("bare")).toHaveLength(1);
    expect(await missingPullSecretEvents("fine")).toEqual([]);
    expect(await podExists("fine")).toBe(true);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('imagepullsecret_patcher_pods_missing_pull_secret_total{mapping="diag"} 2');
    expect(metrics).toContain('imagepullsecret_patcher_stuck_pods_deleted_total{mapping="diag"} 1');

    const diagnostics = (await (await fetch(`http://127.0.0.1:${port}/diagnostics`)).json()) as {
      enabled: boolean;
      pods: { pod: string; action: string; reason?: string }[];
    };
    expect(diagnostics.enabled).toBe(true);
    expect(diagnostics.pods.find((p) => p.pod === "web-owned")?.action).toBe("deleted");
    const kept = diagnostics.pods.find((p) => p.pod === "bare");
    expect(kept?.action).toBe("kept");
    expect(kept?.reason).toContain("no controller");
    // `status` (a process of its own) counts the reported Pods that still exist: the bare one.
    const status = await runPatcher(["status", "--config", config, "--kubeconfig", kubeconfig]);
    expect(status.code, status.stderr).toBe(0);
    const [header, row] = status.stdout.split("\n").filter((l) => /^(MAPPING|diag)\s/.test(l));
    expect(header).toMatch(/STUCK PODS$/);
    expect(row?.trim().split(/\s+/).at(-1)).toBe("1");
    expect(patcher.stdout + patcher.stderr).not.toContain(password);
    expect(await patcher.stop(), patcher.stdout.slice(-3000) + patcher.stderr.slice(-2000)).toBe(0);
  });
});
