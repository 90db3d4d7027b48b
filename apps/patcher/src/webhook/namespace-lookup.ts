import { CoreV1Api, type KubeConfig, type V1Namespace } from "@kubernetes/client-node";
import { classifyApiError, type NamespaceView } from "@imagepullsecret-patcher/core";

const EMPTY: Readonly<Record<string, string>> = Object.freeze({});

function view(ns: V1Namespace): NamespaceView {
  return {
    name: ns.metadata?.name ?? "",
    labels: ns.metadata?.labels ?? EMPTY,
    annotations: ns.metadata?.annotations ?? EMPTY,
    phase: ns.status?.phase ?? "Active",
  };
}

/**
 * The namespace of a Pod under admission. Every replica serves the webhook, followers included, so
 * this does not depend on the leader's caches: it asks the API server, first from its watch cache
 * (resourceVersion "0", no etcd read per Pod), then with a quorum read when the watch cache has not
 * seen a namespace created a moment ago (the very race the webhook closes).
 */
export class NamespaceLookup {
  readonly #api: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
  }

  async get(name: string): Promise<NamespaceView | undefined> {
    const cached = await this.#api.listNamespace({ fieldSelector: `metadata.name=${name}`, resourceVersion: "0" });
    const found = cached.items[0];
    if (found) return view(found);
    try {
      return view(await this.#api.readNamespace({ name }));
    } catch (err) {
      if (classifyApiError(err).kind === "not-found") return undefined;
      throw err;
    }
  }
}
