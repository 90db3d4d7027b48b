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

type Meta = { metadata?: k8s.V1ObjectMeta };
interface Ref {
  name: string;
  namespace: string;
}

const key = (o: Meta): string => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
const ref = (o: Meta): Ref => ({ name: o.metadata?.name ?? "", namespace: o.metadata?.namespace ?? "" });
const saState = (sa: k8s.V1ServiceAccount): SaState => ({
  imagePullSecrets: sa.imagePullSecrets ?? [],
  added: sa.metadata?.annotations?.[ADDED_ANNOTATION],
});

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
    for (const sa of (await core.listServiceAccountForAllNamespaces()).items) serviceAccounts.set(key(sa), saState(sa));
    return new ClusterSnapshot(kc, namespaces, namespaced, clusterScoped, serviceAccounts);
  }

  /** Deletes what was created since the snapshot and restores changed ServiceAccounts. */
  async restore(): Promise<string[]> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const rbac = this.kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const done = await this.deleteNewNamespaces(core);
    const del = (kind: string, items: Meta[], remove: (r: Ref) => Promise<unknown>): Promise<void> =>
      this.deleteFresh(kind, items, remove, done);
    await del("secrets", (await core.listSecretForAllNamespaces()).items, (r) => core.deleteNamespacedSecret(r));
    await del("configmaps", (await core.listConfigMapForAllNamespaces()).items, (r) =>
      core.deleteNamespacedConfigMap(r),
    );
    await del("roles", (await rbac.listRoleForAllNamespaces()).items, (r) => rbac.deleteNamespacedRole(r));
    await del("rolebindings", (await rbac.listRoleBindingForAllNamespaces()).items, (r) =>
      rbac.deleteNamespacedRoleBinding(r),
    );
    await del("clusterroles", (await rbac.listClusterRole()).items, (r) => rbac.deleteClusterRole(r));
    await del("clusterrolebindings", (await rbac.listClusterRoleBinding()).items, (r) =>
      rbac.deleteClusterRoleBinding(r),
    );
    for (const sa of (await core.listServiceAccountForAllNamespaces()).items) {
      const outcome = await this.restoreServiceAccount(core, sa);
      if (outcome) done.push(outcome);
    }
    return done;
  }

  /** Deletes namespaces the doc created, and waits until they are gone. */
  private async deleteNewNamespaces(core: k8s.CoreV1Api): Promise<string[]> {
    const created = (await core.listNamespace()).items
      .map((n) => n.metadata?.name ?? "")
      .filter((name) => !this.namespaces.has(name));
    for (const name of created) await ignore404(core.deleteNamespace({ name }));
    // A doc that installs again (`doctest: reset`) must not meet a Terminating namespace.
    const deadline = Date.now() + 90_000;
    while (created.length && Date.now() < deadline) {
      const names = new Set((await core.listNamespace()).items.map((n) => n.metadata?.name ?? ""));
      if (!created.some((n) => names.has(n))) break;
      await sleep(250);
    }
    return created.map((name) => `namespace ${name}`);
  }

  /** Deletes objects of `kind` made since the snapshot; namespaced ones only in namespaces that stay. */
  private async deleteFresh(
    kind: string,
    items: Meta[],
    remove: (ref: Ref) => Promise<unknown>,
    done: string[],
  ): Promise<void> {
    const clusterScoped = this.clusterScoped.get(kind);
    for (const o of items) {
      const r = ref(o);
      const known = clusterScoped ? clusterScoped.has(r.name) : this.namespaced.get(kind)?.has(key(o));
      if (known || (!clusterScoped && !this.namespaces.has(r.namespace))) continue;
      await ignore404(remove(r));
      done.push(`${kind.replace(/s$/, "")} ${clusterScoped ? r.name : key(o)}`);
    }
  }

  /** Deletes a ServiceAccount the doc created, or puts back its pull secrets and record. */
  private async restoreServiceAccount(core: k8s.CoreV1Api, sa: k8s.V1ServiceAccount): Promise<string | undefined> {
    if (!this.namespaces.has(sa.metadata?.namespace ?? "")) return undefined;
    const before = this.serviceAccounts.get(key(sa));
    if (!before) {
      await ignore404(core.deleteNamespacedServiceAccount(ref(sa)));
      return `serviceaccount ${key(sa)}`;
    }
    if (JSON.stringify(saState(sa)) === JSON.stringify(before)) return undefined;
    const annotations = { ...(sa.metadata?.annotations ?? {}) };
    if (before.added === undefined) delete annotations[ADDED_ANNOTATION];
    else annotations[ADDED_ANNOTATION] = before.added;
    const body = { ...sa, metadata: { ...sa.metadata, annotations }, imagePullSecrets: before.imagePullSecrets };
    await ignore404(core.replaceNamespacedServiceAccount({ ...ref(sa), body }));
    return `serviceaccount ${key(sa)} restored`;
  }
}
