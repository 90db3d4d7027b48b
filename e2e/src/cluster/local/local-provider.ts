import { mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { join, resolve } from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import type { Cluster, StartOptions } from "../provider.ts";
import { generatePki } from "./pki.ts";
import { ensureBinaries } from "./binaries.ts";
import {
  assertPortFree,
  freePort,
  isOurProcess,
  startProcess,
  stopProcessGroup,
  tail,
  type StartedProcess,
} from "./processes.ts";

/** What `cluster:stop` and the next start need to find the processes of a running local cluster. */
export interface LocalClusterState {
  workDir: string;
  kubeconfigPath: string;
  auditLogPath?: string | undefined;
  processes: { name: string; pid: number; binary: string }[];
}

export const DEFAULT_WORK_DIR = resolve(fileURLToPath(new URL("../../../../.e2e/local-cluster", import.meta.url)));
const START_TIMEOUT_MS = Number(process.env.CONTROL_PLANE_START_TIMEOUT_MS ?? 120_000);
const REAPER = fileURLToPath(new URL("./reaper.ts", import.meta.url));

function stateFile(workDir: string): string {
  return join(workDir, "state.json");
}

export function readState(workDir = DEFAULT_WORK_DIR): LocalClusterState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(workDir), "utf8")) as LocalClusterState;
  } catch {
    return undefined;
  }
}

/** Stops every process a state file records, by PID, after checking the PID still runs that binary. */
export async function stopFromState(workDir = DEFAULT_WORK_DIR): Promise<number> {
  const state = readState(workDir);
  if (!state) return 0;
  let stopped = 0;
  for (const p of [...state.processes].reverse()) {
    if (isOurProcess(p.pid, p.binary)) {
      await stopProcessGroup(p.pid);
      stopped++;
    }
  }
  rmSync(stateFile(workDir), { force: true });
  return stopped;
}

async function httpGet(url: string, ca?: string, cert?: { certPem: string; keyPem: string }): Promise<number> {
  return new Promise((resolveStatus) => {
    const u = new URL(url);
    const options = { method: "GET", timeout: 2000, ca, cert: cert?.certPem, key: cert?.keyPem };
    const req = (u.protocol === "https:" ? request : httpRequest)(u, options, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on("error", () => resolveStatus(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function waitFor(
  what: string,
  proc: StartedProcess,
  check: () => Promise<boolean>,
  timeoutMs = START_TIMEOUT_MS,
): Promise<number> {
  const started = Date.now();
  let exitReason: string | undefined;
  void proc.exited.then((reason) => (exitReason = reason));
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    if (exitReason !== undefined) {
      throw new Error(
        `${proc.name} exited (${exitReason}) before ${what}. Last log lines (${proc.logPath}):\n${tail(proc.logPath)}`,
      );
    }
    await sleep(250);
  }
  throw new Error(
    `${proc.name}: timed out after ${timeoutMs} ms waiting for ${what}. Last log lines (${proc.logPath}):\n${tail(proc.logPath)}`,
  );
}

function kubeconfigYaml(server: string, caPem: string, user: { certPem: string; keyPem: string }): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caPem)}`,
    "users:",
    "- name: admin",
    "  user:",
    `    client-certificate-data: ${b64(user.certPem)}`,
    `    client-key-data: ${b64(user.keyPem)}`,
    "contexts:",
    "- name: local",
    "  context: {cluster: local, user: admin}",
    "current-context: local",
    "",
  ].join("\n");
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
`;

/** A local cluster, with the handles fault-injection tests need. */
export interface LocalCluster extends Cluster {
  readonly server: string;
  readonly etcdUrl: string;
  /** SIGKILLs kube-apiserver (no graceful shutdown), as a crash would. */
  killApiserver(): Promise<void>;
  /** Starts kube-apiserver again with the same flags and port; resolves when /readyz is 200. */
  startApiserver(): Promise<void>;
}

export interface LocalStartOptions extends StartOptions {
  /** Keep the cluster running after this process exits (manual use); otherwise a reaper stops it. */
  detached?: boolean;
}

/**
 * Runs etcd, kube-apiserver (RBAC, default admission plugins with ServiceAccount on) and a
 * kube-controller-manager limited to the serviceaccount, serviceaccount-token, namespace and
 * garbage-collector controllers, as local processes with generated PKI.
 */
export const localProvider: { readonly name: "local"; start(options: LocalStartOptions): Promise<LocalCluster> } = {
  name: "local",
  async start(options: LocalStartOptions): Promise<LocalCluster> {
    const progress = options.onProgress ?? (() => {});
    const workDir = resolve(options.workDir ?? DEFAULT_WORK_DIR);
    const stale = await stopFromState(workDir);
    if (stale > 0) progress(`stopped ${stale} process(es) left over from an earlier run`);
    rmSync(workDir, { recursive: true, force: true });
    const pkiDir = join(workDir, "pki");
    const logDir = join(workDir, "logs");
    mkdirSync(pkiDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });

    const bins = await ensureBinaries(progress);
    const t0 = Date.now();
    const pki = await generatePki();
    const files = {
      ca: join(pkiDir, "ca.crt"),
      apiserverCert: join(pkiDir, "apiserver.crt"),
      apiserverKey: join(pkiDir, "apiserver.key"),
      saKey: join(pkiDir, "sa.key"),
      saPub: join(pkiDir, "sa.pub"),
    };
    writeFileSync(files.ca, pki.ca.certPem);
    writeFileSync(files.apiserverCert, pki.apiserver.certPem);
    writeFileSync(files.apiserverKey, pki.apiserver.keyPem, { mode: 0o600 });
    writeFileSync(files.saKey, pki.serviceAccount.keyPem, { mode: 0o600 });
    writeFileSync(files.saPub, pki.serviceAccount.publicPem);

    const envPort = (name: string): number | undefined => (process.env[name] ? Number(process.env[name]) : undefined);
    const apiPort = envPort("CONTROL_PLANE_API_PORT") ?? (await freePort());
    const etcdPort = envPort("CONTROL_PLANE_ETCD_PORT") ?? (await freePort());
    const etcdPeerPort = await freePort();
    await assertPortFree(apiPort, "kube-apiserver");
    await assertPortFree(etcdPort, "etcd");

    const processes: StartedProcess[] = [];
    const state: LocalClusterState = { workDir, kubeconfigPath: join(workDir, "kubeconfig"), processes: [] };
    const record = (p: StartedProcess, binary: string): StartedProcess => {
      processes.push(p);
      state.processes.push({ name: p.name, pid: p.pid, binary });
      writeFileSync(stateFile(workDir), JSON.stringify(state, null, 2));
      return p;
    };
    const stopAll = async (): Promise<void> => {
      for (const p of [...processes].reverse()) await stopProcessGroup(p.pid);
      rmSync(stateFile(workDir), { force: true });
    };

    try {
      const etcdUrl = `http://127.0.0.1:${etcdPort}`;
      const etcd = record(
        startProcess(
          "etcd",
          bins.etcd,
          [
            `--data-dir=${join(workDir, "etcd-data")}`,
            `--listen-client-urls=${etcdUrl}`,
            `--advertise-client-urls=${etcdUrl}`,
            `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
            `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
            `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
            "--unsafe-no-fsync=true",
            "--log-level=warn",
          ],
          join(logDir, "etcd.log"),
        ),
        bins.etcd,
      );
      const etcdMs = await waitFor("etcd /health", etcd, async () => (await httpGet(`${etcdUrl}/health`)) === 200);
      progress(`etcd ready in ${etcdMs} ms`);

      const server = `https://127.0.0.1:${apiPort}`;
      const apiArgs = [
        `--etcd-servers=${etcdUrl}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${files.apiserverCert}`,
        `--tls-private-key-file=${files.apiserverKey}`,
        `--client-ca-file=${files.ca}`,
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--endpoint-reconciler-type=none",
        "--allow-privileged=true",
        `--cert-dir=${join(workDir, "apiserver-certs")}`,
      ];
      let auditLogPath: string | undefined;
      if (options.auditLog) {
        auditLogPath = join(logDir, "audit.log");
        writeFileSync(join(pkiDir, "audit-policy.yaml"), AUDIT_POLICY);
        apiArgs.push(
          `--audit-policy-file=${join(pkiDir, "audit-policy.yaml")}`,
          `--audit-log-path=${auditLogPath}`,
          "--audit-log-format=json",
          "--audit-log-mode=blocking",
        );
        state.auditLogPath = auditLogPath;
      }
      let apiserver = record(
        startProcess("kube-apiserver", bins.kubeApiserver, apiArgs, join(logDir, "kube-apiserver.log")),
        bins.kubeApiserver,
      );
      const apiReady = (proc: StartedProcess): Promise<number> =>
        waitFor(
          "kube-apiserver /readyz",
          proc,
          async () => (await httpGet(`${server}/readyz`, pki.ca.certPem, pki.admin)) === 200,
        );
      const apiMs = await apiReady(apiserver);
      progress(`kube-apiserver ready in ${apiMs} ms`);

      writeFileSync(state.kubeconfigPath, kubeconfigYaml(server, pki.ca.certPem, pki.admin), { mode: 0o600 });
      const kcm = record(
        startProcess(
          "kube-controller-manager",
          bins.kubeControllerManager,
          [
            `--kubeconfig=${state.kubeconfigPath}`,
            "--controllers=serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller",
            `--service-account-private-key-file=${files.saKey}`,
            `--root-ca-file=${files.ca}`,
            "--use-service-account-credentials=false",
            "--leader-elect=false",
            "--secure-port=0",
            // The defaults (20 requests/s, 10 namespaces at a time) take minutes to delete the
            // thousand namespaces of the Pod admission race; the test cluster has no other tenant.
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--concurrent-namespace-syncs=20",
          ],
          join(logDir, "kube-controller-manager.log"),
        ),
        bins.kubeControllerManager,
      );
      const kcmMs = await waitFor(
        "the default ServiceAccount in namespace default",
        kcm,
        async () =>
          (await httpGet(`${server}/api/v1/namespaces/default/serviceaccounts/default`, pki.ca.certPem, pki.admin)) ===
          200,
      );
      progress(
        `kube-controller-manager created default ServiceAccount in ${kcmMs} ms; control plane up in ${Date.now() - t0} ms`,
      );

      if (!options.detached) {
        const reaper = spawn(
          process.execPath,
          [REAPER, String(process.pid), stateFile(workDir), ...processes.map((p) => String(p.pid))],
          {
            detached: true,
            stdio: "ignore",
          },
        );
        reaper.unref();
      }

      let stopped = false;
      const reap = (pids: number[]): void => {
        if (options.detached) return;
        spawn(process.execPath, [REAPER, String(process.pid), stateFile(workDir), ...pids.map(String)], {
          detached: true,
          stdio: "ignore",
        }).unref();
      };
      return {
        provider: "local",
        kubeconfigPath: state.kubeconfigPath,
        auditLogPath,
        server,
        etcdUrl,
        async killApiserver() {
          try {
            process.kill(-apiserver.pid, "SIGKILL");
          } catch {
            /* already gone */
          }
          await apiserver.exited;
        },
        async startApiserver() {
          const index = processes.indexOf(apiserver);
          apiserver = startProcess("kube-apiserver", bins.kubeApiserver, apiArgs, join(logDir, "kube-apiserver.log"));
          processes[index] = apiserver;
          const entry = state.processes.find((p) => p.name === "kube-apiserver");
          if (entry) entry.pid = apiserver.pid;
          writeFileSync(stateFile(workDir), JSON.stringify(state, null, 2));
          reap([apiserver.pid]);
          await apiReady(apiserver);
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          await stopAll();
        },
      };
    } catch (err) {
      await stopAll();
      throw err;
    }
  },
};

export function localClusterRunning(workDir = DEFAULT_WORK_DIR): boolean {
  const state = readState(workDir);
  return !!state && existsSync(state.kubeconfigPath) && state.processes.every((p) => isOurProcess(p.pid, p.binary));
}
