// The patcher processes of a soak run. Each member runs the built binary under its own
// ServiceAccount token, so the API server's audit log tells their requests apart.
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { freePort } from "../cluster/local/processes.ts";
import { PatcherProcess } from "../support/patcher-process.ts";
import { tokenKubeConfig } from "../support/kube.ts";

export interface MemberSpec {
  /** Also the leader-election identity (POD_NAME) and the ServiceAccount suffix. */
  id: string;
  instance: string;
  configPath: string;
}

export interface Member extends MemberSpec {
  /** Audit-log username: system:serviceaccount:<ns>:<sa>. */
  user: string;
  kubeconfigPath: string;
  proc: PatcherProcess | undefined;
  port: number;
  /** Every process this member ran, oldest first (killed ones included, for logs). */
  history: PatcherProcess[];
  starts: number;
}

/** Writes a file so a watcher never sees it half-written. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export class Fleet {
  readonly members = new Map<string, Member>();
  readonly #admin: k8s.KubeConfig;
  readonly #dir: string;
  readonly #identityNamespace: string;
  readonly #bindingName: string;

  constructor(admin: k8s.KubeConfig, dir: string, identityNamespace: string, bindingName: string) {
    this.#admin = admin;
    this.#dir = dir;
    this.#identityNamespace = identityNamespace;
    this.#bindingName = bindingName;
  }

  /** Creates a ServiceAccount per member, binds them to cluster-admin and writes token kubeconfigs. */
  async provision(specs: readonly MemberSpec[]): Promise<void> {
    const core = this.#admin.makeApiClient(k8s.CoreV1Api);
    const rbac = this.#admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    const ns = this.#identityNamespace;
    for (const spec of specs) {
      const sa = `patcher-${spec.id}`;
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
      const request = await core.createNamespacedServiceAccountToken({
        name: sa,
        namespace: ns,
        body: { spec: { audiences: [], expirationSeconds: 4 * 3600 } },
      });
      const token = request.status?.token ?? "";
      const kubeconfigPath = join(this.#dir, `${spec.id}.kubeconfig`);
      writeFileSync(kubeconfigPath, tokenKubeConfig(this.#admin, token, sa).exportConfig(), { mode: 0o600 });
      this.members.set(spec.id, {
        ...spec,
        user: `system:serviceaccount:${ns}:${sa}`,
        kubeconfigPath,
        proc: undefined,
        port: 0,
        history: [],
        starts: 0,
      });
    }
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: this.#bindingName },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: specs.map((s) => ({ kind: "ServiceAccount", name: `patcher-${s.id}`, namespace: ns })),
      },
    });
  }

  member(id: string): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no fleet member ${id}`);
    return m;
  }

  running(): Member[] {
    return [...this.members.values()].filter(
      (m) => m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null,
    );
  }

  async start(id: string): Promise<PatcherProcess> {
    const m = this.member(id);
    if (m.proc && m.proc.child.exitCode === null && m.proc.child.signalCode === null) return m.proc;
    m.port = await freePort();
    const proc = new PatcherProcess(
      ["run", "--config", m.configPath, "--kubeconfig", m.kubeconfigPath, "--server-address", `127.0.0.1:${m.port}`],
      { POD_NAME: m.id },
    );
    m.proc = proc;
    m.history.push(proc);
    m.starts++;
    return proc;
  }

  /** SIGKILL (a crash, no lease release) and wait for the exit. */
  async kill(id: string): Promise<void> {
    const proc = this.member(id).proc;
    if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill("SIGKILL");
    await proc.exited;
  }

  /** SIGTERM (graceful: the leader releases its lease) and wait. */
  async stop(id: string): Promise<number | null> {
    const proc = this.member(id).proc;
    if (!proc) return null;
    return proc.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.members.keys()].map((id) => this.stop(id)));
  }

  async metrics(id: string): Promise<string | undefined> {
    const m = this.member(id);
    if (!m.proc || m.proc.child.exitCode !== null) return undefined;
    try {
      const res = await fetch(`http://127.0.0.1:${m.port}/metrics`, { signal: AbortSignal.timeout(5000) });
      return await res.text();
    } catch {
      return undefined;
    }
  }

  /** Everything every process of every member printed, for leak checks. */
  allOutput(): string {
    return [...this.members.values()].flatMap((m) => m.history.map((p) => p.stdout + p.stderr)).join("\n");
  }

  async deprovision(): Promise<void> {
    const rbac = this.#admin.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: this.#bindingName }).catch(() => undefined);
  }
}

/** Sum of a metric's samples whose labels include every `labels` pair; undefined when absent. */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  let found = false;
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== "{" && line[name.length] !== " ")) continue;
    const labelText = line[name.length] === "{" ? line.slice(name.length + 1, line.indexOf("}")) : "";
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    found = true;
    sum += Number(line.split(" ").at(-1));
  }
  return found ? sum : undefined;
}

/** Samples of a metric as { labels, value }. */
export function metricSamples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== "{" && line[name.length] !== " ")) continue;
    const labels: Record<string, string> = {};
    if (line[name.length] === "{") {
      const body = line.slice(name.length + 1, line.indexOf("}"));
      for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] ?? ""] = m[2] ?? "";
    }
    out.push({ labels, value: Number(line.split(" ").at(-1)) });
  }
  return out;
}
