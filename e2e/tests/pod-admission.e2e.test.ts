// The race of titansoft/imagepullsecret-patcher#10, measured on the real API server: a namespace and
// its Pod applied together (as GitOps tools do) can see the Pod admitted after the `default`
// ServiceAccount exists but before the patcher has patched it. The `pod-admission` strategy closes it:
// the API server calls the patcher's webhook (clientConfig.url, https://127.0.0.1:<port>) on Pod CREATE.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, statusCode, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import { TEST_PASSWORD_PREFIX, putSourceSecret, sleep, waitForPullSecrets } from "../src/support/fixtures.ts";
import { pool } from "../src/support/pool.ts";

const RACE_NAMESPACES = Number(process.env.E2E_RACE_NAMESPACES ?? 500);
/** Parallel appliers, each creating a namespace and then at once its Pod. */
const APPLIERS = 20;
const COPY = "race-pull";

interface RaceResult {
  pods: number;
  lacking: number;
  /** Pod creations refused until the ServiceAccount controller made `default` (as a GitOps tool retries). */
  retries: number;
}

describe("pod-admission: no Pod without its pull secret", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("race")}`;
  const configurationName = uniqueName("race-webhook");
  let src: string;

  beforeAll(async () => {
    src = await namespaces.create("race-src");
    await putSourceSecret(core, src, "regcred", password);
  });
  afterAll(async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: configurationName }).catch(() => undefined);
    await namespaces.cleanup();
    // A thousand namespaces keep the namespace controller busy for a while: wait here, so that the
    // next file's namespaces do not queue behind ours and stay Terminating.
    const started = Date.now();
    const ours = new Set(namespaces.created);
    // Listed every 2 s: polling a thousand namespaces faster would only slow their deletion.
    while (Date.now() - started < 300_000) {
      const left = (await core.listNamespace()).items.filter((n) => ours.has(n.metadata?.name ?? "")).length;
      if (left === 0) break;
      await sleep(2_000);
    }
    console.log(`race namespaces deleted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 320_000);

  /** A patcher over namespaces labelled `suite`, with or without the webhook. */
  async function startPatcher(
    suite: string,
    podAdmission: boolean,
  ): Promise<{ patcher: PatcherProcess; port: number }> {
    const dir = mkdtempSync(join(tmpdir(), "pod-admission-"));
    const config = join(dir, "config.yaml");
    const port = await freePort();
    const webhookPort = await freePort();
    writeFileSync(
      config,
      `secretName: ${COPY}
mappings:
  - name: race
    source: { secret: { name: regcred, namespace: ${src} } }
    targets: { selector: { matchLabels: { suite: ${suite} } } }
    podAdmission: ${podAdmission}
controller: { workers: 8, clientQps: 200, clientBurst: 400, resyncInterval: 0 }
webhook:
  enabled: ${podAdmission}
  address: 127.0.0.1:${webhookPort}
  url: https://127.0.0.1:${webhookPort}
  configurationName: ${configurationName}
  tls: { mode: self-managed, secretNamespace: ${src}, secretName: race-webhook-tls }
`,
    );
    const patcher = new PatcherProcess(
      ["run", "--config", config, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`],
      { POD_NAMESPACE: src },
    );
    await eventually("patcher ready", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.ok ? true : undefined;
    });
    return { patcher, port };
  }

  /** Creates `count` namespaces, each followed at once by a Pod naming no pull secret. */
  async function race(suite: string, count: number): Promise<RaceResult> {
    const result: RaceResult = { pods: 0, lacking: 0, retries: 0 };
    await pool(
      Array.from({ length: count }, (_, i) => i),
      APPLIERS,
      async () => {
        const ns = await namespaces.create("race", { suite });
        const pod = await createPodRetrying(ns, result);
        result.pods++;
        if (!(pod.spec?.imagePullSecrets ?? []).some((s) => s.name === COPY)) result.lacking++;
      },
    );
    return result;
  }

  async function createPodRetrying(namespace: string, result: RaceResult): Promise<k8s.V1Pod> {
    const body: k8s.V1Pod = {
      metadata: { name: "app" },
      spec: { containers: [{ name: "app", image: "registry.example.test/team/app:1" }] },
    };
    for (;;) {
      try {
        return await core.createNamespacedPod({ namespace, body });
      } catch (err) {
        // The ServiceAccount admission plugin refuses Pods until `default` exists.
        if (statusCode(err) !== 403 && statusCode(err) !== 409) throw err;
        result.retries++;
        await sleep(20);
      }
    }
  }

  it(`measures the race with the ServiceAccount strategy alone (${RACE_NAMESPACES} namespaces)`, async () => {
    const suite = uniqueName("race-sa");
    const { patcher } = await startPatcher(suite, false);
    try {
      const result = await race(suite, RACE_NAMESPACES);
      console.log(
        `race, ServiceAccount strategy alone: ${result.lacking} of ${result.pods} Pods admitted without ${COPY} (${result.retries} creations retried until the ServiceAccount existed)`,
      );
      expect(result.pods).toBe(RACE_NAMESPACES);
    } finally {
      expect(await patcher.stop(), patcher.stdout.slice(-3000) + patcher.stderr.slice(-2000)).toBe(0);
    }
  });

  const webhookSuite = uniqueName("race-wh");

  it(`with pod-admission, 0 of ${RACE_NAMESPACES} Pods lack the secret`, async () => {
    const suite = webhookSuite;
    const { patcher } = await startPatcher(suite, true);
    try {
      const configuration = await admission.readMutatingWebhookConfiguration({ name: configurationName });
      const hook = configuration.webhooks?.[0];
      expect(hook?.failurePolicy).toBe("Ignore");
      expect(hook?.sideEffects).toBe("None");
      expect(hook?.timeoutSeconds).toBeLessThanOrEqual(2);
      expect(hook?.clientConfig.caBundle).toBeTruthy();
      const result = await race(suite, RACE_NAMESPACES);
      console.log(
        `race, with pod-admission: ${result.lacking} of ${result.pods} Pods admitted without ${COPY} (${result.retries} creations retried)`,
      );
      expect(result).toMatchObject({ pods: RACE_NAMESPACES, lacking: 0 });
      expect(patcher.stdout + patcher.stderr).not.toContain(password);
    } finally {
      expect(await patcher.stop(), patcher.stdout.slice(-3000) + patcher.stderr.slice(-2000)).toBe(0);
    }
  });

  it("fails open: with the webhook down, Pods are admitted and the ServiceAccount path still patches", async () => {
    // The configuration still selects these namespaces and points at the stopped patcher's port.
    const configuration = await admission.readMutatingWebhookConfiguration({ name: configurationName });
    expect(configuration.webhooks?.length).toBeGreaterThan(0);
    const { patcher } = await startPatcher(webhookSuite, false);
    try {
      const ns = await namespaces.create("race-down", { suite: webhookSuite });
      const pod = await createPodRetrying(ns, { pods: 0, lacking: 0, retries: 0 });
      expect(pod.metadata?.name).toBe("app");
      await waitForPullSecrets(core, ns, "default", [COPY]);
    } finally {
      expect(await patcher.stop(), patcher.stdout.slice(-3000) + patcher.stderr.slice(-2000)).toBe(0);
    }
  });
});
