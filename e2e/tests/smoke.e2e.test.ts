// Proves the cluster is real: controllers run, ServiceAccount admission is on, RBAC is enforced,
// and namespace deletion completes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, statusCode, tokenKubeConfig } from "../src/support/kube.ts";

describe("local control plane", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const namespaces = new NamespaceScope(core);

  beforeAll(async () => {
    await core.listNamespace({ limit: 1 });
  });
  afterAll(() => namespaces.cleanup());

  it("gives a new namespace its default ServiceAccount (kube-controller-manager runs)", async () => {
    const ns = await namespaces.create("smoke-sa");
    const sa = await eventually("default ServiceAccount", async () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: ns }).catch((err: unknown) => {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }),
    );
    expect(sa.metadata?.namespace).toBe(ns);
    expect(sa.imagePullSecrets ?? []).toEqual([]);
  });

  it("fills a Pod's imagePullSecrets from its ServiceAccount (ServiceAccount admission is on)", async () => {
    const ns = await namespaces.create("smoke-admission");
    await eventually("default ServiceAccount", () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: ns }).catch(() => undefined),
    );
    await core.patchNamespacedServiceAccount(
      {
        name: "default",
        namespace: ns,
        body: [{ op: "add", path: "/imagePullSecrets", value: [{ name: "regcred" }] }],
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch),
    );
    const pod = await core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "app" },
        spec: { containers: [{ name: "app", image: "registry.example/private/app:1" }] },
      },
    });
    expect(pod.spec?.serviceAccountName).toBe("default");
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "regcred" }]);
  });

  it("refuses an identity that RBAC does not allow", async () => {
    const ns = await namespaces.create("smoke-rbac");
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "reader" } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: "configmap-reader" },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: "reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns }],
      },
    });
    const tokenRequest = await core.createNamespacedServiceAccountToken({
      name: "reader",
      namespace: ns,
      body: { spec: { audiences: [], expirationSeconds: 600 } },
    });
    const token = tokenRequest.status?.token;
    expect(token).toBeTruthy();
    const limited = tokenKubeConfig(kc, token ?? "").makeApiClient(k8s.CoreV1Api);

    const allowed = await eventually("RBAC to allow configmaps", () =>
      limited.listNamespacedConfigMap({ namespace: ns }).catch(() => undefined),
    );
    expect(Array.isArray(allowed.items)).toBe(true);
    const refused = await limited.listNamespacedSecret({ namespace: ns }).then(
      () => 200,
      (err: unknown) => statusCode(err),
    );
    expect(refused).toBe(403);
  });

  it("completes namespace deletion (namespace controller runs)", async () => {
    const ns = await namespaces.create("smoke-delete");
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "c" }, data: { a: "b" } } });
    await core.deleteNamespace({ name: ns });
    const gone = await eventually("namespace to be deleted", () =>
      core.readNamespace({ name: ns }).then(
        () => undefined,
        (err: unknown) => (statusCode(err) === 404 ? true : undefined),
      ),
    );
    expect(gone).toBe(true);
  });
});
