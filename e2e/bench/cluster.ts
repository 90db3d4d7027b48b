// The benchmark's one handle on its cluster: the local control plane and its processes, the admin
// API client, the patcher's identity (a ServiceAccount and a token kubeconfig), the source Secret
// and the API server's audit log. Scenarios get everything about the cluster from here.
import { join } from "node:path";
import { localProvider, readState, type LocalCluster } from "../src/cluster/local/local-provider.ts";
import { AuditLog } from "./audit.ts";
import type { Context } from "./audit-summary.ts";
import { Api, connectionFromKubeconfig, writeTokenKubeconfig } from "./kube.ts";
import { BENCH_NAMESPACE, SOURCE } from "./patcher.ts";

const BENCH_SA = "patcher-bench";
const PATCHER_USER = `system:serviceaccount:${BENCH_NAMESPACE}:${BENCH_SA}`;

const PATCHER_RULES = [
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["get", "list", "watch", "patch"] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["create", "get", "list", "watch", "update", "delete"] },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "watch", "create", "update", "patch"],
  },
];

/** A `.dockerconfigjson` value for the source Secret; `tag` makes each version distinct. */
export function dockerConfig(tag: string): string {
  const auth = Buffer.from(`bench:${tag}`).toString("base64");
  return Buffer.from(
    JSON.stringify({ auths: { "registry.bench.example": { username: "bench", password: tag, auth } } }),
  ).toString("base64");
}

export interface BenchClusterOptions {
  workDir: string;
  /** Leave the control plane running when this process exits. */
  detached: boolean;
  log: (line: string) => void;
}

export class BenchCluster {
  readonly workDir: string;
  readonly admin: Api;
  /** Control-plane processes by name, and the benchmark's own: what CPU accounting follows. */
  readonly pids: Readonly<Record<string, number>>;
  /** Directory of the control-plane binaries (for their versions). */
  readonly binDir: string | undefined;
  /** Where the source and the Lease live, to classify the patcher's requests. */
  readonly requestContext: Context = {
    sourceNamespace: SOURCE.namespace,
    sourceName: SOURCE.name,
    leaseNamespace: BENCH_NAMESPACE,
  };
  /** The kubeconfig the patcher runs with: its own ServiceAccount's token. */
  readonly patcherKubeconfig: string;
  /** The current value of the source Secret (base64 of its .dockerconfigjson). */
  sourceValue = "";
  readonly #local: LocalCluster;
  #audit: AuditLog | undefined;

  private constructor(local: LocalCluster, workDir: string) {
    this.#local = local;
    this.workDir = workDir;
    this.patcherKubeconfig = join(workDir, "patcher.kubeconfig");
    const state = readState(workDir);
    this.binDir = state?.processes.find((p) => p.name === "kube-apiserver")?.binary.replace(/\/kube-apiserver$/, "");
    const pids: Record<string, number> = { bench: process.pid };
    for (const p of state?.processes ?? []) pids[p.name] = p.pid;
    this.pids = pids;
    this.admin = new Api(connectionFromKubeconfig(local.kubeconfigPath));
  }

  /** Starts etcd, kube-apiserver (with an audit log) and kube-controller-manager. */
  static async start(options: BenchClusterOptions): Promise<BenchCluster> {
    const local = await localProvider.start({
      auditLog: true,
      workDir: options.workDir,
      detached: options.detached,
      onProgress: (line) => options.log(`control plane: ${line}`),
    });
    return new BenchCluster(local, options.workDir);
  }

  get auditLogPath(): string {
    if (!this.#local.auditLogPath) throw new Error("the local provider gave no audit log");
    return this.#local.auditLogPath;
  }

  /** The patcher's requests (and the creations latency is timed against), once provisioned. */
  get audit(): AuditLog {
    if (!this.#audit) throw new Error("the bench cluster is not provisioned yet");
    return this.#audit;
  }

  /**
   * Creates the patcher's identity and the source Secret, and starts reading the audit log for
   * that identity. Returns the username the API server sees.
   */
  async provision(): Promise<string> {
    const auditLogPath = this.auditLogPath;
    const user = await this.#createPatcherIdentity();
    this.sourceValue = dockerConfig("v1");
    await this.admin.ensure(`/api/v1/namespaces/${SOURCE.namespace}/secrets`, {
      metadata: { name: SOURCE.name, namespace: SOURCE.namespace },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": this.sourceValue },
    });
    this.#audit = new AuditLog(auditLogPath, user);
    return user;
  }

  /** Replaces the source Secret's credential with a new one. */
  async rotateSource(tag: string): Promise<void> {
    const next = dockerConfig(tag);
    await this.admin.call("PATCH", `/api/v1/namespaces/${SOURCE.namespace}/secrets/${SOURCE.name}`, {
      body: { data: { ".dockerconfigjson": next } },
      contentType: "application/merge-patch+json",
    });
    this.sourceValue = next;
  }

  /** Closes the admin client's connections. */
  close(): void {
    this.admin.close();
  }

  async stop(): Promise<void> {
    await this.#local.stop();
  }

  /**
   * A ServiceAccount bound to a ClusterRole with what the patcher needs, and a kubeconfig carrying
   * a TokenRequest token for it (same server and CA as admin), confirmed with a SelfSubjectReview.
   */
  async #createPatcherIdentity(): Promise<string> {
    const admin = this.admin;
    await admin.ensure("/api/v1/namespaces", { metadata: { name: BENCH_NAMESPACE } });
    await admin.ensure(`/api/v1/namespaces/${BENCH_NAMESPACE}/serviceaccounts`, { metadata: { name: BENCH_SA } });
    await admin.ensure("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      metadata: { name: BENCH_SA },
      rules: PATCHER_RULES,
    });
    await admin.ensure("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      metadata: { name: BENCH_SA },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: BENCH_SA },
      subjects: [{ kind: "ServiceAccount", name: BENCH_SA, namespace: BENCH_NAMESPACE }],
    });
    const tr = await admin.post<{ status?: { token?: string } }>(
      `/api/v1/namespaces/${BENCH_NAMESPACE}/serviceaccounts/${BENCH_SA}/token`,
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 48 * 3600 },
      },
    );
    const token = tr.status?.token;
    if (!token) throw new Error("TokenRequest returned no token");
    writeTokenKubeconfig(this.patcherKubeconfig, admin.conn, token, BENCH_SA);
    const asPatcher = new Api({ server: admin.conn.server, caPem: admin.conn.caPem, token });
    try {
      const review = await asPatcher.post<{ status?: { userInfo?: { username?: string } } }>(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "SelfSubjectReview",
        },
      );
      const username = review.status?.userInfo?.username;
      if (username !== PATCHER_USER)
        throw new Error(`the token authenticates as ${username}, expected ${PATCHER_USER}`);
      return username;
    } finally {
      asPatcher.close();
    }
  }
}
