// The local control plane has no nodes, so a Deployment a doc installs never gets a Pod. This runs
// the Deployment's patcher container as a local process instead, as close to the Pod as a process
// can be: the container's args and env (fieldRef namespace/name), its ConfigMap and Secret volumes
// written to a directory (and refreshed when they change) and the mount paths in args and env pointed there, and the API
// credentials of the Pod's ServiceAccount (a TokenRequest token), so the installed RBAC is what
// allows or refuses its requests.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { tokenKubeConfig } from "../support/kube.ts";
import { PATCHER_MAIN } from "../support/patcher-process.ts";

/** How often ConfigMap and Secret volumes are refreshed (the kubelet takes up to a minute or so). */
const VOLUME_SYNC_MS = 2_000;

export interface StandIn {
  child: ChildProcess;
  logFile: string;
  /** host:port of /healthz, /readyz and /metrics. */
  serverAddress: string;
  describe: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Writes the files of a volume; a file whose content changed is replaced atomically, as the kubelet does. */
function writeFiles(dir: string, data: Record<string, Buffer>, items?: k8s.V1KeyToPath[]): void {
  mkdirSync(dir, { recursive: true });
  const entries = items?.length ? items.map((i) => [i.path, data[i.key]] as const) : Object.entries(data);
  for (const [path, content] of entries) {
    if (content === undefined) continue;
    const target = join(dir, path);
    if (existsSync(target) && readFileSync(target).equals(content)) continue;
    mkdirSync(join(target, ".."), { recursive: true });
    writeFileSync(`${target}.new`, content);
    renameSync(`${target}.new`, target);
  }
}

type PodSpec = k8s.V1PodSpec;
type Container = k8s.V1Container;

/** Writes the container's ConfigMap and Secret volumes under `dir`; other volumes become empty directories. */
async function syncVolumes(core: k8s.CoreV1Api, pod: PodSpec, container: Container, namespace: string, dir: string) {
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const local = join(dir, "volumes", mount.name);
    if (volume?.configMap?.name) {
      const cm = await core.readNamespacedConfigMap({ name: volume.configMap.name, namespace });
      const data = Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v)]));
      writeFiles(local, data, volume.configMap.items);
    } else if (volume?.secret?.secretName) {
      const secret = await core.readNamespacedSecret({ name: volume.secret.secretName, namespace });
      const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")]));
      writeFiles(local, data, volume.secret.items);
    } else {
      mkdirSync(local, { recursive: true });
    }
  }
}

/** Rewrites a path under one of the container's mount paths to where that volume lives locally. */
function relocator(container: Container, dir: string): (value: string) => string {
  const mounts = (container.volumeMounts ?? []).map((mount) => {
    const local = join(dir, "volumes", mount.name);
    return { from: mount.mountPath, to: mount.subPath ? join(local, mount.subPath) : local };
  });
  mounts.sort((a, b) => b.from.length - a.from.length);
  return (value) => {
    for (const m of mounts) {
      const at = value.indexOf(m.from);
      const end = at + m.from.length;
      if (at >= 0 && (value.length === end || value[end] === "/")) return value.slice(0, at) + m.to + value.slice(end);
    }
    return value;
  };
}

/** The container's environment as the kubelet would set it, with mount paths relocated. */
function containerEnv(
  container: Container,
  relocate: (value: string) => string,
  pod: { namespace: string; name: string },
) {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = relocate(e.value);
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === "metadata.namespace") env[e.name] = pod.namespace;
    if (field === "metadata.name") env[e.name] = pod.name;
  }
  return env;
}

export async function startDeploymentStandIn(
  admin: k8s.KubeConfig,
  namespace: string,
  name: string,
  dir: string,
): Promise<StandIn> {
  const apps = admin.makeApiClient(k8s.AppsV1Api);
  const core = admin.makeApiClient(k8s.CoreV1Api);
  const deployment = await apps.readNamespacedDeployment({ name, namespace });
  const pod = deployment.spec?.template.spec;
  const container = pod?.containers[0];
  if (!pod || !container) throw new Error(`Deployment ${namespace}/${name} has no container`);
  // The image's entrypoint is the patcher, so the container's args are the patcher's.
  if (container.command?.length) {
    throw new Error(
      `Deployment ${namespace}/${name} overrides the image's command (${container.command.join(" ")}); only args are supported`,
    );
  }
  const podName = `${name}-local`;
  mkdirSync(dir, { recursive: true });

  // Volumes are kept up to date like the kubelet does.
  const sync = (): Promise<void> => syncVolumes(core, pod, container, namespace, dir);
  await sync();
  const relocate = relocator(container, dir);
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: dir,
    ...containerEnv(container, relocate, { namespace, name: podName }),
  };

  // The Pod's identity: a token of its ServiceAccount, against the same API server.
  const serviceAccount = pod.serviceAccountName ?? "default";
  const token = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = join(dir, "kubeconfig");
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  writeFileSync(kubeconfig, tokenKubeConfig(admin, token.status?.token ?? "", user).exportConfig(), { mode: 0o600 });

  const serverAddress = `127.0.0.1:${await freePort()}`;
  const args = (container.args ?? []).map(relocate);
  args.push(`--kubeconfig=${kubeconfig}`, `--server-address=${serverAddress}`);
  const logFile = join(dir, "patcher.log");
  const out = openSync(logFile, "a");
  const child = spawn(process.execPath, [PATCHER_MAIN, ...args], {
    env,
    cwd: dir,
    stdio: ["ignore", out, out],
    detached: true,
  });
  const timer = setInterval(() => void sync().catch(() => {}), VOLUME_SYNC_MS);
  timer.unref();
  child.once("exit", () => clearInterval(timer));
  const describe = `Deployment ${namespace}/${name} as ${serviceAccount}: imagepullsecret-patcher ${args.join(" ")}`;
  return { child, logFile, serverAddress, describe };
}
