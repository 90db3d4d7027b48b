// Copies, ownership and ServiceAccount edits, each observed through the API as kubectl would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { ADDED_ANNOTATION, ADOPT_ANNOTATION, MANAGED_BY_LABEL } from "@imagepullsecret-patcher/core";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { startEngine, type RunningEngine } from "../src/support/engine.ts";
import {
  TEST_PASSWORD_PREFIX,
  b64,
  decodeCopy,
  dockerConfigJson,
  eventsFor,
  putSourceSecret,
  readSecret,
  sleep,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

describe("engine semantics on the real API server", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("sem")}`;
  const secretName = "team-pull";
  const label = uniqueName("sem");
  let sourceNs: string;
  let patcher: RunningEngine;

  const selected = (prefix: string): Promise<string> => namespaces.create(prefix, { "e2e-suite": label });

  beforeAll(async () => {
    sourceNs = await namespaces.create("sem-src");
    await putSourceSecret(core, sourceNs, "regcred", password);
    patcher = await startEngine(kc, [
      {
        name: "sem",
        source: { secret: { name: "regcred", namespace: sourceNs } },
        targets: { selector: { matchLabels: { "e2e-suite": label } } },
        secretName,
      },
      {
        name: "sem-adopt",
        source: { secret: { name: "regcred", namespace: sourceNs } },
        targets: { selector: { matchLabels: { "e2e-suite": `${label}-adopt` } } },
        secretName,
        conflictPolicy: "adopt",
      },
      {
        name: "sem-overwrite",
        source: { secret: { name: "regcred", namespace: sourceNs } },
        targets: { selector: { matchLabels: { "e2e-suite": `${label}-overwrite` } } },
        secretName,
        conflictPolicy: "overwrite",
      },
    ]);
  });
  afterAll(async () => {
    await patcher.stop();
    await namespaces.cleanup();
    expect(patcher.logger.text()).not.toContain(password);
  });

  it("updates copies in place when the source changes, and only writes when content differs", async () => {
    const ns = await selected("sem-update");
    const first = await waitForCopy(core, ns, secretName, password);
    await waitForPullSecrets(core, ns, "default", [secretName]);
    const rotated = `${password}-rotated`;
    await putSourceSecret(core, sourceNs, "regcred", rotated);
    const second = await waitForCopy(core, ns, secretName, rotated);
    expect(second.metadata?.uid).toBe(first.metadata?.uid);
    // A relabel that keeps the namespace selected must not rewrite anything.
    const rv = second.metadata?.resourceVersion;
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels/unrelated", value: "x" }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    await sleep(1500);
    expect((await readSecret(core, ns, secretName))?.metadata?.resourceVersion).toBe(rv);
    expect(
      (await core.readNamespacedServiceAccount({ name: "default", namespace: ns })).metadata?.resourceVersion,
    ).toBe(sa.metadata?.resourceVersion);
    await putSourceSecret(core, sourceNs, "regcred", password);
    await waitForCopy(core, ns, secretName, password);
  });

  it("restores a deleted copy and an edited copy", async () => {
    const ns = await selected("sem-restore");
    const original = await waitForCopy(core, ns, secretName, password);
    await core.deleteNamespacedSecret({ name: secretName, namespace: ns });
    const recreated = await waitForCopy(core, ns, secretName, password);
    expect(recreated.metadata?.uid).not.toBe(original.metadata?.uid);

    await core.replaceNamespacedSecret({
      name: secretName,
      namespace: ns,
      body: { ...recreated, data: { ".dockerconfigjson": b64(dockerConfigJson("tampered")) } },
    });
    const restored = await waitForCopy(core, ns, secretName, password);
    expect(restored.metadata?.uid).toBe(recreated.metadata?.uid);
  });

  it("recreates a copy whose type is wrong (delete + create is the only way to change a type)", async () => {
    const ns = await namespaces.create("sem-type");
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: {
          name: secretName,
          labels: {
            [MANAGED_BY_LABEL]: "imagepullsecret-patcher",
            "imagepullsecret-patcher.io/mapping": "sem",
            "imagepullsecret-patcher.io/instance": "default",
          },
        },
        type: "Opaque",
        data: { ".dockerconfigjson": b64("old") },
      },
    });
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels", value: { "e2e-suite": label } }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    const copy = await waitForCopy(core, ns, secretName, password);
    expect(copy.type).toBe("kubernetes.io/dockerconfigjson");
  });

  it("leaves a same-name Secret it does not own alone, with an Event (conflictPolicy skip)", async () => {
    const ns = await namespaces.create("sem-foreign");
    const mine = await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: secretName },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": b64(dockerConfigJson("someone-else")) },
      },
    });
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels", value: { "e2e-suite": label } }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    const events = await eventually("a Conflict Event on the foreign Secret", async () => {
      const list = await eventsFor(kc, ns, secretName);
      return list.some((e) => e.reason === "Conflict") ? list : undefined;
    });
    expect(events.find((e) => e.reason === "Conflict")?.note).toContain("not managed by imagepullsecret-patcher");
    const after = await readSecret(core, ns, secretName);
    expect(after?.metadata?.resourceVersion).toBe(mine.metadata?.resourceVersion);
    expect(decodeCopy(after ?? {})).toBe(dockerConfigJson("someone-else"));
    // It does not patch the ServiceAccount to point at a Secret it does not control.
    await waitForDefaultServiceAccount(core, ns);
    await sleep(500);
    expect(
      (await core.readNamespacedServiceAccount({ name: "default", namespace: ns })).imagePullSecrets ?? [],
    ).toEqual([]);
    expect(JSON.stringify(events)).not.toContain(password);
  });

  it("adopts a same-name Secret only when it opts in (conflictPolicy adopt)", async () => {
    const ns = await namespaces.create("sem-adopt");
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: secretName, annotations: { [ADOPT_ANNOTATION]: "true" } },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": b64(dockerConfigJson("old")) },
      },
    });
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels", value: { "e2e-suite": `${label}-adopt` } }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    const adopted = await waitForCopy(core, ns, secretName, password);
    expect(adopted.metadata?.labels?.[MANAGED_BY_LABEL]).toBe("imagepullsecret-patcher");
    expect(adopted.metadata?.annotations?.[ADOPT_ANNOTATION]).toBeUndefined();
  });

  it("overwrites a same-name Secret only under conflictPolicy overwrite", async () => {
    const ns = await namespaces.create("sem-overwrite");
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: secretName }, type: "Opaque", data: { token: b64("x") } },
    });
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels", value: { "e2e-suite": `${label}-overwrite` } }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    const copy = await waitForCopy(core, ns, secretName, password);
    expect(copy.type).toBe("kubernetes.io/dockerconfigjson");
  });

  it("appends to imagePullSecrets without dropping or reordering other entries, and records only its own", async () => {
    const ns = await namespaces.create("sem-sa");
    await waitForDefaultServiceAccount(core, ns);
    await core.patchNamespacedServiceAccount(
      {
        name: "default",
        namespace: ns,
        body: [{ op: "add", path: "/imagePullSecrets", value: [{ name: "zz-user" }, { name: "aa-user" }] }],
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    await core.patchNamespace(
      { name: ns, body: [{ op: "add", path: "/metadata/labels", value: { "e2e-suite": label } }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    await waitForPullSecrets(core, ns, "default", ["zz-user", "aa-user", secretName]);
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
    expect(sa.metadata?.annotations?.[ADDED_ANNOTATION]).toBe(`${secretName}@default/sem`);

    // Removing the label removes exactly our entry and our copy.
    await core.patchNamespace(
      { name: ns, body: [{ op: "remove", path: "/metadata/labels/e2e-suite" }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    await waitForPullSecrets(core, ns, "default", ["zz-user", "aa-user"]);
    await eventually("copy removed", async () => ((await readSecret(core, ns, secretName)) ? undefined : true));
    const after = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
    expect(after.metadata?.annotations?.[ADDED_ANNOTATION]).toBeUndefined();
  });

  it("keeps its hands off a user's own entry with the same name when cleaning up", async () => {
    const ns = await selected("sem-userentry");
    await waitForPullSecrets(core, ns, "default", [secretName]);
    await core.createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: "ci" }, imagePullSecrets: [{ name: secretName }] },
    });
    await core.patchNamespace(
      { name: ns, body: [{ op: "remove", path: "/metadata/labels/e2e-suite" }] },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    await waitForPullSecrets(core, ns, "default", []);
    expect((await core.readNamespacedServiceAccount({ name: "ci", namespace: ns })).imagePullSecrets).toEqual([
      { name: secretName },
    ]);
  });
});
