// The user-visible result: a credential in kube-system reaches new namespaces and their Pods.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { MANAGED_BY_LABEL, MAPPING_LABEL } from "@imagepullsecret-patcher/core";
import { NamespaceScope, adminKubeConfig, uniqueName } from "../src/support/kube.ts";
import { startEngine, type RunningEngine } from "../src/support/engine.ts";
import {
  TEST_PASSWORD_PREFIX,
  putSourceSecret,
  pullSecretNames,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForNoSecret,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

describe("seed scenario: regcred in kube-system, all namespaces, default ServiceAccount", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("seed")}`;
  const sourceName = uniqueName("regcred");
  const secretName = uniqueName("seed-pull");
  let patcher: RunningEngine;

  beforeAll(async () => {
    await putSourceSecret(core, "kube-system", sourceName, password);
    patcher = await startEngine(kc, [
      {
        name: "seed",
        source: { secret: { name: sourceName, namespace: "kube-system" } },
        targets: { all: {} },
        secretName,
      },
    ]);
  });
  afterAll(async () => {
    // Removing every mapping must clean up everywhere, including namespaces of other suites.
    patcher.engine.setMappings([]);
    await waitForNoSecret(core, "kube-public", secretName);
    await waitForPullSecrets(core, "kube-public", "default", []);
    await patcher.stop();
    await core.deleteNamespacedSecret({ name: sourceName, namespace: "kube-system" });
    await namespaces.cleanup();
    expect(patcher.logger.text()).not.toContain(password);
  });

  it("copies the secret into a new namespace and patches its default ServiceAccount as soon as it exists", async () => {
    const ns = await namespaces.create("seed");
    const copy = await waitForCopy(core, ns, secretName, password);
    expect(copy.type).toBe("kubernetes.io/dockerconfigjson");
    expect(copy.metadata?.labels?.[MANAGED_BY_LABEL]).toBe("imagepullsecret-patcher");
    expect(copy.metadata?.labels?.[MAPPING_LABEL]).toBe("seed");
    await waitForPullSecrets(core, ns, "default", [secretName]);
  });

  it("fills a Pod created without imagePullSecrets with ours (ServiceAccount admission)", async () => {
    const ns = await namespaces.create("seed-pod");
    await waitForPullSecrets(core, ns, "default", [secretName]);
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: { containers: [{ name: "web", image: "registry.example.test/team/web:1" }] },
      },
    });
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: secretName }]);
  });

  it("does not patch ServiceAccounts other than default under the default strategy", async () => {
    const ns = await namespaces.create("seed-sa");
    await waitForDefaultServiceAccount(core, ns);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "builder" } } });
    await waitForPullSecrets(core, ns, "default", [secretName]);
    expect(await pullSecretNames(core, ns, "builder")).toEqual([]);
  });

  it("covers namespaces that existed before it started (kube-public)", async () => {
    await waitForCopy(core, "kube-public", secretName, password);
    await waitForPullSecrets(core, "kube-public", "default", [secretName]);
  });
});
