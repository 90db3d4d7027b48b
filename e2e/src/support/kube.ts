import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";

/** Admin KubeConfig for the cluster the global setup started. */
export function adminKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(inject("kubeconfigPath"));
  return kc;
}

/** A KubeConfig for the same cluster that authenticates with a bearer token instead. */
export function tokenKubeConfig(admin: k8s.KubeConfig, token: string, user = "token-user"): k8s.KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("admin kubeconfig has no current cluster");
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}

/** A unique namespace name for one test file or case. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString("hex")}`;
}

export function statusCode(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  return undefined;
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? `: ${lastError.message}` : ""}`);
}

/** Creates namespaces for a test file and deletes them afterwards. */
export class NamespaceScope {
  readonly created: string[] = [];
  private readonly core: k8s.CoreV1Api;
  constructor(core: k8s.CoreV1Api) {
    this.core = core;
  }

  async create(prefix: string, labels?: Record<string, string>): Promise<string> {
    const name = uniqueName(prefix);
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    this.created.push(name);
    return name;
  }

  async cleanup(): Promise<void> {
    await Promise.all(
      this.created.map((name) =>
        this.core.deleteNamespace({ name }).catch((err: unknown) => {
          if (statusCode(err) !== 404) throw err;
        }),
      ),
    );
  }
}
