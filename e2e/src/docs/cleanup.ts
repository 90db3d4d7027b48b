// Docs use fixed names (kube-system/regcred, team-a, the patcher's own namespace) and a patcher that
// targets every namespace, so a doc leaves marks on the whole shared cluster. A snapshot taken before
// the doc says what was there; `restore` deletes what the doc created and puts ServiceAccounts of
// namespaces that existed before back the way they were.
import * as k8s from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { statusCode } from "../support/kube.ts";

const ADDED_ANNOTATION = "imagepullsecret-patcher.io/added";

interface SaState {
  imagePullSecrets: k8s.V1LocalObjectReference[];
  added: string | undefined;
}

const key = (o: { metadata?: k8s.V1ObjectMeta }): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

async function ignore404(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

export class ClusterSnapshot {
  private readonly kc: k8s.KubeConfig;
  private readonly namespaces: Set<string>;
  private readonly namespaced: Map<string, Set<string>>;
  private readonly clusterScoped: Map<string, Set<string>>;
  private readonly serviceAccounts: Map<string, SaState>;

  private constructor(
    kc: k8s.KubeConfig,
    namespaces: Set<string>,
    namespaced: Map<string, Set<string>>,
    clusterScoped: Map<string, Set<string>>,
    serviceAccounts: Map<string, SaState>,
  ) {
    this.kc = kc;
    this.namespaces = namespaces;
    this.namespaced = namespaced;
    this.clusterScoped = clusterScoped;
    this.serviceAccounts = serviceAccounts;
  }

  static async take(kc: k8s.KubeConfig): Promise<ClusterSnapshot> {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const namespaces = new Set((await core.listNamespace()).items.map((n) => n.metadata?.name ?? ""));
    const namespaced = new Map<string, Set<string>>([
      ["secrets", new Set((await core.listSecretForAllNamespaces()).items.map(key))],
      ["configmaps", new Set((await core.listConfigMapForAllNamespaces()).items.map(key))],
      ["serviceaccounts", new Set((await core.listServiceAccountForAllNamespaces()).items.map(key))],
      ["roles", new Set((await rbac.listRoleForAllNamespaces()).items.map(key))],
      ["rolebindings", new Set((await rbac.listRoleBindingForAllNamespaces()).items.map(key))],
    ]);
    const clusterScoped = new Map<string, Set<string>>([
      ["clusterroles", new Set((await rbac.listClusterRole()).items.map((o) => o.metadata?.name ?? ""))],
      ["clusterrolebindings", new Set((await rbac.listClusterRoleBinding()).items.map((o) => o.metadata?.name ?? ""))],
    ]);
    const serviceAccounts = new Map<string, SaState>();
    for (const sa of (await core.listServiceAccountForAllNamespaces()).items) {
      serviceAccounts.set(key(sa), { imagePullSecrets: sa.imagePullSecrets ?? [], added: sa.metadata?.annotations?.[ADDED_ANNOTATION] });
    }
    return new ClusterSnapshot(kc, namespaces, namespaced, clusterScoped, serviceAccounts);
  }

  /** Deletes what was created since the snapshot and restores changed ServiceAccounts. */
  async restore(): Promise<string[]> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const rbac = this.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const done: string[] = [];
    for (const ns of (await core.listNamespace()).items) {
      const name = ns.metadata?.name ?? "";
      if (this.namespaces.has(name)) continue;
      await ignore404(core.deleteNamespace({ name }));
      done.push(`namespace ${name}`);
    }
    // Wait for them: a doc that installs again (`doctest: reset`) must not meet a Terminating one.
    const gone = done.map((d) => d.slice("namespace ".length));
    const deadline = Date.now() + 90_000;
    while (gone.length && Date.now() < deadline) {
      const names = new Set((await core.listNamespace()).items.map((n) => n.metadata?.name ?? ""));
      if (!gone.some((n) => names.has(n))) break;
      await sleep(250);
    }
    const inOldNamespace = (o: { metadata?: k8s.V1ObjectMeta }): boolean => this.namespaces.has(o.metadata?.namespace ?? "");
    const fresh = <T extends { metadata?: k8s.V1ObjectMeta }>(kind: string, items: T[]): T[] =>
      items.filter((o) => inOldNamespace(o) && !this.namespaced.get(kind)?.has(key(o)));
    for (const s of fresh("secrets", (await core.listSecretForAllNamespaces()).items)) {
      await ignore404(core.deleteNamespacedSecret({ name: s.metadata?.name ?? "", namespace: s.metadata?.namespace ?? "" }));
      done.push(`secret ${key(s)}`);
    }
    for (const c of fresh("configmaps", (await core.listConfigMapForAllNamespaces()).items)) {
      await ignore404(core.deleteNamespacedConfigMap({ name: c.metadata?.name ?? "", namespace: c.metadata?.namespace ?? "" }));
      done.push(`configmap ${key(c)}`);
    }
    for (const r of fresh("roles", (await rbac.listRoleForAllNamespaces()).items)) {
      await ignore404(rbac.deleteNamespacedRole({ name: r.metadata?.name ?? "", namespace: r.metadata?.namespace ?? "" }));
      done.push(`role ${key(r)}`);
    }
    for (const r of fresh("rolebindings", (await rbac.listRoleBindingForAllNamespaces()).items)) {
      await ignore404(rbac.deleteNamespacedRoleBinding({ name: r.metadata?.name ?? "", namespace: r.metadata?.namespace ?? "" }));
      done.push(`rolebinding ${key(r)}`);
    }
    for (const r of (await rbac.listClusterRole()).items) {
      if (this.clusterScoped.get("clusterroles")?.has(r.metadata?.name ?? "")) continue;
      await ignore404(rbac.deleteClusterRole({ name: r.metadata?.name ?? "" }));
      done.push(`clusterrole ${r.metadata?.name}`);
    }
    for (const r of (await rbac.listClusterRoleBinding()).items) {
      if (this.clusterScoped.get("clusterrolebindings")?.has(r.metadata?.name ?? "")) continue;
      await ignore404(rbac.deleteClusterRoleBinding({ name: r.metadata?.name ?? "" }));
      done.push(`clusterrolebinding ${r.metadata?.name}`);
    }
    for (const sa of (await core.listServiceAccountForAllNamespaces()).items) {
      if (!inOldNamespace(sa)) continue;
      const before = this.serviceAccounts.get(key(sa));
      if (!before) {
        await ignore404(core.deleteNamespacedServiceAccount({ name: sa.metadata?.name ?? "", namespace: sa.metadata?.namespace ?? "" }));
        done.push(`serviceaccount ${key(sa)}`);
        continue;
      }
      const now: SaState = { imagePullSecrets: sa.imagePullSecrets ?? [], added: sa.metadata?.annotations?.[ADDED_ANNOTATION] };
      if (JSON.stringify(now) === JSON.stringify(before)) continue;
      const annotations = { ...(sa.metadata?.annotations ?? {}) };
      if (before.added === undefined) delete annotations[ADDED_ANNOTATION];
      else annotations[ADDED_ANNOTATION] = before.added;
      await ignore404(
        core.replaceNamespacedServiceAccount({
          name: sa.metadata?.name ?? "",
          namespace: sa.metadata?.namespace ?? "",
          body: { ...sa, metadata: { ...sa.metadata, annotations }, imagePullSecrets: before.imagePullSecrets },
        }),
      );
      done.push(`serviceaccount ${key(sa)} restored`);
    }
    return done;
  }
}
