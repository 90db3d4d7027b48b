import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { shareConnections } from "@imagepullsecret-patcher/core";

export interface ConnectionOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

/** TLS/TCP connections opened to the API server by every KubeConfig connect() made, for the metric. */
let connectionsOpened = 0;
export function kubeConnectionsOpened(): number {
  return connectionsOpened;
}

/**
 * `--kubeconfig`/`--context` when given; the in-cluster ServiceAccount when running in a Pod;
 * otherwise KUBECONFIG or ~/.kube/config, as kubectl does. Every client made from it shares one
 * keep-alive connection pool (client-node alone opens a connection per request).
 */
export function connect(options: ConnectionOptions): KubeConfig {
  const kc = new KubeConfig();
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) throw new Error(`--kubeconfig ${options.kubeconfig}: file not found`);
    kc.loadFromFile(options.kubeconfig);
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  if (options.context) {
    if (!kc.getContexts().some((c) => c.name === options.context)) {
      throw new Error(
        `--context ${options.context}: no such context (have: ${
          kc
            .getContexts()
            .map((c) => c.name)
            .join(", ") || "none"
        })`,
      );
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster())
    throw new Error("no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a Pod");
  shareConnections(kc, { onConnectionOpened: () => connectionsOpened++ });
  return kc;
}
