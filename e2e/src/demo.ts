// The README's main command. Starts a throw-away local control plane, creates two teams'
// registry credentials and namespaces, runs the patcher binary with a two-mapping config, and
// prints what happened. Never touches your own kube context; cleans up on exit.
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as k8s from "@kubernetes/client-node";
import { localProvider } from "./cluster/index.ts";
import { freePort } from "./cluster/local/processes.ts";
import { PatcherProcess, runPatcher } from "./support/patcher-process.ts";

const say = (line = ""): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const dir = fileURLToPath(new URL("../../.e2e/demo", import.meta.url));
mkdirSync(dir, { recursive: true });

const CONFIG = `# Two teams, two registry accounts. Each copy is named after its source Secret,
# and each mapping after its source: regcred-team-a and regcred-team-b.
mappings:
  - source:
      name: regcred-team-a
      namespace: kube-system
    targets: { selector: { matchLabels: { team: a } } }
  - source:
      name: regcred-team-b
      namespace: kube-system
    targets:
      - namespace: team-b-data
      - namespace: team-b-ml
    serviceAccounts: all
`;
const COPY_NAMES = ["regcred-team-a", "regcred-team-b"];

function dockerconfig(registry: string, user: string): string {
  return Buffer.from(
    JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:demo-password`).toString("base64") } } }),
  ).toString("base64");
}

say("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager)…");
const cluster = await localProvider.start({ workDir: join(dir, "cluster"), onProgress: (line) => say(`  ${line}`) });
let patcher: PatcherProcess | undefined;
const stop = async (): Promise<void> => {
  await patcher?.stop();
  await cluster.stop();
};
process.once("SIGINT", () => void stop().finally(() => process.exit(130)));
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  say(
    `kube-apiserver ${(await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion} at ${kc.getCurrentCluster()?.server}`,
  );

  say("\n1. The platform team stores each team's registry credential in kube-system.");
  for (const [team, registry] of [
    ["a", "registry-a.example.com"],
    ["b", "registry-b.example.com"],
  ] as const) {
    await core.createNamespacedSecret({
      namespace: "kube-system",
      body: {
        metadata: { name: `regcred-team-${team}` },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": dockerconfig(registry, `team-${team}-robot`) },
      },
    });
  }
  say("   Namespaces exist for both teams; one of team A's already has its own Secret called regcred-team-a.");
  for (const [name, labels] of [
    ["team-a-web", { team: "a" }],
    ["team-a-legacy", { team: "a" }],
    ["team-b-data", {}],
    ["sandbox", {}],
  ] as const) {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  }
  await core.createNamespacedSecret({
    namespace: "team-a-legacy",
    body: { metadata: { name: "regcred-team-a" }, stringData: { note: "made by hand" } },
  });
  await core.createNamespacedServiceAccount({ namespace: "team-b-data", body: { metadata: { name: "etl" } } });

  const configPath = join(dir, "config.yaml");
  writeFileSync(configPath, CONFIG);
  say(`\n2. The patcher starts with ${configPath}:`);
  for (const line of CONFIG.trim().split("\n")) say(`     ${line}`);
  const plan = await runPatcher(["plan", "--config", configPath, "--kubeconfig", cluster.kubeconfigPath]);
  say("\n   `plan` first shows what it would do:");
  for (const line of plan.stdout.trim().split("\n")) say(`     ${line}`);

  const port = await freePort();
  patcher = new PatcherProcess([
    "run",
    "--config",
    configPath,
    "--kubeconfig",
    cluster.kubeconfigPath,
    "--server-address",
    `127.0.0.1:${port}`,
  ]);
  await patcher.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("initial sync complete"));

  say("\n3. A developer creates namespace team-b-ml and, at once, a Pod without imagePullSecrets.");
  const t0 = Date.now();
  await core.createNamespace({ body: { metadata: { name: "team-b-ml" } } });
  let pod: k8s.V1Pod | undefined;
  while (!pod && Date.now() - t0 < 30_000) {
    const sa = await core
      .readNamespacedServiceAccount({ name: "default", namespace: "team-b-ml" })
      .catch(() => undefined);
    if (sa?.imagePullSecrets?.length) {
      say(`   its default ServiceAccount referenced the copy ${Date.now() - t0} ms after the namespace was created`);
      pod = await core.createNamespacedPod({
        namespace: "team-b-ml",
        body: {
          metadata: { name: "trainer" },
          spec: { containers: [{ name: "trainer", image: "registry-b.example.com/ml/trainer:1" }] },
        },
      });
    } else await sleep(25);
  }
  say(`   Pod team-b-ml/trainer was admitted with imagePullSecrets ${JSON.stringify(pod?.spec?.imagePullSecrets)}`);

  say("\n4. What the cluster looks like now:");
  const rows = [["NAMESPACE", "COPIES", "SERVICEACCOUNT imagePullSecrets"]];
  for (const ns of (await core.listNamespace()).items) {
    const name = ns.metadata?.name ?? "";
    const copies: string[] = [];
    for (const copyName of COPY_NAMES) {
      const secret = await core.readNamespacedSecret({ name: copyName, namespace: name }).catch(() => undefined);
      if (!secret) continue;
      const mapping = secret.metadata?.labels?.["imagepullsecret-patcher.io/mapping"];
      const registry = secret.data?.[".dockerconfigjson"]
        ? Object.keys(
            (JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()) as { auths: object }).auths,
          )[0]
        : "";
      if (mapping) copies.push(`${copyName}: copy from mapping ${mapping} (${registry})`);
      else if (name === "kube-system") copies.push(`${copyName}: the source`);
      else copies.push(`${copyName}: someone else's, left alone`);
    }
    const sas = (await core.listNamespacedServiceAccount({ namespace: name })).items.map(
      (sa) => `${sa.metadata?.name}=${JSON.stringify((sa.imagePullSecrets ?? []).map((r) => r.name))}`,
    );
    rows.push([name, copies.join("; ") || "-", sas.join(" ")]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) say(`   ${r.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`);

  say("\n5. `status` per mapping:");
  const status = await runPatcher(["status", "--config", configPath, "--kubeconfig", cluster.kubeconfigPath]);
  for (const line of status.stdout.trim().split("\n")) say(`     ${line}`);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  say("\n6. A few of its metrics (http://127.0.0.1:" + port + "/metrics):");
  for (const line of metrics
    .split("\n")
    .filter((l) => /^imagepullsecret_patcher_(writes_total|conflicts_total|namespaces\{.*in_scope)/.test(l)))
    say(`     ${line}`);
  say("\n7. What the patcher logged (JSON lines, abridged):");
  for (const l of patcher.logs().filter((l) => l.msg !== "caches synced")) {
    const { level, msg, mapping, namespace, actions, reason } = l as Record<string, string | undefined>;
    say(
      `     ${level} ${msg}${mapping ? ` mapping=${mapping}` : ""}${namespace ? ` namespace=${namespace}` : ""}${actions ? ` actions="${actions}"` : ""}${reason ? ` reason="${reason}"` : ""}`,
    );
  }
} finally {
  await stop();
  say("\nPatcher and control plane stopped.");
}
