/** A Kubernetes cluster the e2e suites (and the demo) run against. */
export interface Cluster {
  /** Provider that made it: `local`, `kind`, `existing` or `k3s`. */
  readonly provider: ClusterProviderName;
  /** Path of an admin kubeconfig for this cluster; never the user's own kubeconfig file unless `existing`. */
  readonly kubeconfigPath: string;
  /** Kubernetes audit log (JSON lines), when the provider was asked for one and supports it. */
  readonly auditLogPath?: string | undefined;
  /** Stops whatever the provider started. Safe to call twice. */
  stop(): Promise<void>;
}

export type ClusterProviderName = "local" | "kind" | "existing" | "k3s";

export interface StartOptions {
  /** Ask for an API audit log (local provider only). */
  auditLog?: boolean;
  /** Working directory for state, logs and kubeconfig. */
  workDir?: string;
  /** Progress messages for people waiting on a slow start. */
  onProgress?: (message: string) => void;
}

export interface ClusterProvider {
  readonly name: ClusterProviderName;
  start(options: StartOptions): Promise<Cluster>;
}
