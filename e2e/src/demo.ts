// The README's first command: start a throw-away local control plane, run the patcher engine on the
// seed config (regcred in kube-system → every namespace's default ServiceAccount), and show what
// it did. Never touches your own kube context.
import * as k8s from "@kubernetes/client-node";
import { Engine, buildMappings, builtinRegistries, type Logger } from "@imagepullsecret-patcher/core";
import { localProvider } from "./cluster/index.ts";

const say = (line = ""): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Prints the engine's own log lines, indented, so the demo shows what it decided and why. */
function demoLogger(bindings: Record<string, unknown> = {}): Logger {
  const line = (prefix: string) => (fields: Record<string, unknown>, message: string): void =>
    say(`    [patcher] ${prefix}${message} ${JSON.stringify({ ...bindings, ...fields })}`);
  return { debug: () => {}, info: line(""), warn: line("WARN "), error: line("ERROR "), child: (f) => demoLogger({ ...bindings, ...f }) };
}
const logger = demoLogger();

say("Starting a local control plane (etcd, kube-apiserver, kube-controller-manager)…");
const cluster = await localProvider.start({ onProgress: (line) => say(`  ${line}`) });
const controller = new AbortController();
try {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const version = await kc.makeApiClient(k8s.VersionApi).getCode();
  say(`kube-apiserver ${version.gitVersion} at ${kc.getCurrentCluster()?.server}`);

  say("\n1. An admin stores the registry credential as kube-system/regcred.");
  const dockerconfig = JSON.stringify({ auths: { "registry.example.com": { auth: Buffer.from("robot:demo-password").toString("base64") } } });
  await core.createNamespacedSecret({
    namespace: "kube-system",
    body: { metadata: { name: "regcred" }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") } },
  });
  say("   A team already made its own Secret named image-pull-secret in namespace legacy.");
  await core.createNamespace({ body: { metadata: { name: "legacy" } } });
  await core.createNamespacedSecret({ namespace: "legacy", body: { metadata: { name: "image-pull-secret" }, stringData: { note: "not ours" } } });

  say("\n2. The patcher starts with the seed config:");
  const config = [{ name: "default", source: { secret: { name: "regcred", namespace: "kube-system" } }, targets: { all: { exclude: ["kube-node-lease"] } } }];
  say("   source: { secret: { name: regcred, namespace: kube-system } }   (all namespaces, default ServiceAccount)");
  const mappings = buildMappings(config, { registries: builtinRegistries(), kubeConfig: kc, logger, defaultSecretName: "image-pull-secret" });
  const engine = new Engine({ kubeConfig: kc, mappings, logger });
  const running = engine.run(controller.signal);
  await engine.waitForSync(controller.signal);
  await sleep(1500);

  say("\n3. A developer creates namespace team-a and, right away, a Pod without imagePullSecrets.");
  const t0 = Date.now();
  await core.createNamespace({ body: { metadata: { name: "team-a" } } });
  let pod: k8s.V1Pod | undefined;
  for (let i = 0; i < 100 && !pod; i++) {
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: "team-a" }).catch(() => undefined);
    if (sa?.imagePullSecrets?.length) {
      say(`   default ServiceAccount patched ${Date.now() - t0} ms after the namespace was created`);
      pod = await core.createNamespacedPod({
        namespace: "team-a",
        body: { metadata: { name: "web" }, spec: { containers: [{ name: "web", image: "registry.example.com/team-a/web:1" }] } },
      });
    } else await sleep(50);
  }
  say(`   Pod team-a/web was admitted with imagePullSecrets ${JSON.stringify(pod?.spec?.imagePullSecrets)}`);

  say("\n4. What the cluster looks like now:");
  say(`   ${"namespace".padEnd(18)}${"copy".padEnd(34)}default SA imagePullSecrets`);
  for (const ns of (await core.listNamespace()).items) {
    const name = ns.metadata?.name ?? "";
    const secret = await core.readNamespacedSecret({ name: "image-pull-secret", namespace: name }).catch(() => undefined);
    const owner = secret?.metadata?.labels?.["app.kubernetes.io/managed-by"] === "imagepullsecret-patcher" ? "managed copy" : secret ? "someone else's (left alone)" : "-";
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: name }).catch(() => undefined);
    say(`   ${name.padEnd(18)}${owner.padEnd(34)}${JSON.stringify((sa?.imagePullSecrets ?? []).map((r) => r.name))}`);
  }
  say("\n5. Status per mapping:");
  for (const s of engine.status()) {
    say(`   ${s.name}: source ${s.source} is ${s.sourceState}; ${s.inScope} namespaces in scope, ${s.inSync} in sync, ${s.conflicting} conflicting, ${s.failing} failing`);
  }
  controller.abort();
  await running;
} finally {
  controller.abort();
  await cluster.stop();
  say("\nControl plane stopped.");
}
