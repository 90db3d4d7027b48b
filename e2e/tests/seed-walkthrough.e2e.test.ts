// The seed's own walk-through, verbatim: its config file, then the checks it tells the user to
// run with kubectl. On a control plane of its own, because the seed form selects every namespace.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { localProvider, type LocalCluster } from "../src/cluster/local/local-provider.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { ensureKubectl } from "../src/docs/tools.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import { eventually } from "../src/support/kube.ts";
import { TEST_PASSWORD_PREFIX, b64, dockerConfigJson } from "../src/support/fixtures.ts";

const WORK = fileURLToPath(new URL(`../../.e2e/runs/${process.pid}-seed`, import.meta.url));
const SEED_CONFIG = `source:
  secret:
    name: regcred
    namespace: kube-system
`;

describe("the seed walk-through, verbatim", () => {
  const dir = mkdtempSync(join(tmpdir(), "patcher-seed-"));
  const password = `${TEST_PASSWORD_PREFIX}seed`;
  let cluster: LocalCluster;
  let core: k8s.CoreV1Api;
  let kubectlBin: string;
  let patcher: PatcherProcess | undefined;
  const config = join(dir, "config.yaml");

  const kubectl = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(kubectlBin, ["--kubeconfig", cluster.kubeconfigPath, ...args], (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr}`)) : resolve(stdout),
      );
    });

  beforeAll(async () => {
    kubectlBin = await ensureKubectl();
    cluster = await localProvider.start({ workDir: WORK, onProgress: (l) => process.stderr.write(`[seed] ${l}\n`) });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    writeFileSync(config, SEED_CONFIG);
    await core.createNamespacedSecret({
      namespace: "kube-system",
      body: {
        metadata: { name: "regcred" },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": b64(dockerConfigJson(password)) },
      },
    });
    const port = await freePort();
    patcher = new PatcherProcess([
      "run",
      "--config",
      config,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--server-address",
      `127.0.0.1:${port}`,
    ]);
    await patcher.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("initial sync complete"));
  }, 1_800_000);
  afterAll(async () => {
    await patcher?.stop();
    await cluster?.stop();
  });

  it("gives a new namespace a Secret named regcred and its default ServiceAccount imagePullSecrets naming regcred", async () => {
    await kubectl("create", "namespace", "my-app");
    const secrets = await eventually("kubectl get secrets -n my-app lists regcred", async () => {
      const out = await kubectl("get", "secrets", "-n", "my-app");
      return /^regcred\s+kubernetes\.io\/dockerconfigjson\s+1\s/m.test(out) ? out : undefined;
    });
    expect(secrets).toMatch(/^NAME\s+TYPE\s+DATA\s+AGE/m);
    const sa = await eventually("the default ServiceAccount names regcred", async () => {
      const out = await kubectl("get", "serviceaccount", "default", "-n", "my-app", "-o", "yaml");
      return /imagePullSecrets:\n- name: regcred\n/.test(out) ? out : undefined;
    });
    expect(sa).toContain("kind: ServiceAccount");
  });

  it("never writes over the source: kube-system/regcred keeps its bytes and carries none of the patcher's labels", async () => {
    const source = await core.readNamespacedSecret({ name: "regcred", namespace: "kube-system" });
    expect(Buffer.from(source.data?.[".dockerconfigjson"] ?? "", "base64").toString()).toBe(dockerConfigJson(password));
    expect(source.metadata?.labels ?? {}).toEqual({});
    expect(source.metadata?.annotations ?? {}).toEqual({});
  });

  it("says why kube-system is skipped, in plan and in status", async () => {
    const plan = await runPatcher(["plan", "--config", config, "--kubeconfig", cluster.kubeconfigPath]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(
      /default\s+kube-system\s+skip\s+kube-system\/regcred is a configured source; no copy is written over it/,
    );
    const status = await runPatcher(["status", "--config", config, "--kubeconfig", cluster.kubeconfigPath]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/SKIPPED/);
    expect(status.stdout).toContain(
      "1 (kube-system: kube-system/regcred is a configured source; no copy is written over it)",
    );
  });
});
