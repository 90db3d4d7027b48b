// Measures the RSS of one patcher build with one set of Node flags against a cluster (KUBECONFIG):
// a cold start over N labelled namespaces (peak = VmHWM when every copy is written), then idle.
// Prints one JSON line. Used to choose node-flags.json (figures in docs/performance.md):
//
//   node scripts/measure-memory.mjs --namespaces 1000 --main dist/bundle/main.mjs -- --max-semi-space-size=1
import { spawn } from "node:child_process";
import { readFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { shareConnections } from "@imagepullsecret-patcher/core";

const { values, positionals } = parseArgs({
  options: {
    namespaces: { type: "string", default: "100" },
    main: { type: "string", default: "dist/bundle/main.mjs" },
    idle: { type: "string", default: "15" },
  },
  allowPositionals: true,
});
const n = Number(values.namespaces);
const kc = new KubeConfig();
kc.loadFromDefault();
shareConnections(kc);
const core = kc.makeApiClient(CoreV1Api);
const SRC = "mem-src";
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function ensureNamespace(name, labels) {
  await core.createNamespace({ body: { metadata: { name, labels } } }).catch((e) => {
    if (e.code !== 409) throw e;
  });
}

async function setUp() {
  await ensureNamespace(SRC);
  const auths = { "registry.example.test": { auth: Buffer.from("u:memory-test").toString("base64") } };
  const body = {
    metadata: { name: "regcred" },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": Buffer.from(JSON.stringify({ auths })).toString("base64") },
  };
  await core.createNamespacedSecret({ namespace: SRC, body }).catch((e) => {
    if (e.code !== 409) throw e;
  });
  for (let i = 0; i < n; i += 20) {
    const batch = Array.from({ length: Math.min(20, n - i) }, (_, j) => ensureNamespace(`mem-${i + j}`, { mem: "1" }));
    await Promise.all(batch);
  }
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** VmRSS, VmHWM and RssAnon (the process's own memory; the rest is file-backed code) in MB, CPU seconds. */
function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)[1]);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return {
    rss: kb("VmRSS") / 1024,
    hwm: kb("VmHWM") / 1024,
    anon: kb("RssAnon") / 1024,
    cpu: (Number(stat[11]) + Number(stat[12])) / 100,
  };
}

/** Secrets created plus ServiceAccounts patched: 2 per namespace at a cold start. */
async function writes(port) {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`)
    .then((r) => r.text())
    .catch(() => "");
  const kinds = ['{kind="secret-create"}', '{kind="serviceaccount-patch"}'];
  const lines = text
    .split("\n")
    .filter((l) => kinds.some((k) => l.startsWith(`imagepullsecret_patcher_writes_total${k}`)));
  return lines.reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

await setUp();
const dir = mkdtempSync(join(tmpdir(), "measure-memory-"));
const config = join(dir, "config.yaml");
const secretName = `mem-${Date.now()}`;
writeFileSync(
  config,
  `secretName: ${secretName}\nmappings:\n  - name: mem\n    source: { secret: { name: regcred, namespace: ${SRC} } }\n` +
    `    targets: { selector: "mem=1" }\ncontroller: { resyncInterval: 0 }\n`,
);
const port = await freePort();
const args = [...positionals, values.main, "run", "--config", config, "--server-address", `127.0.0.1:${port}`];
const started = Date.now();
const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] });
while ((await writes(port)) < 2 * n) {
  if (child.exitCode !== null) throw new Error(`patcher exited with ${child.exitCode}`);
  await sleep(100);
}
const convergeS = (Date.now() - started) / 1000;
const cold = sample(child.pid);
await sleep(Number(values.idle) * 1000);
const idle = sample(child.pid);
child.kill("SIGTERM");
await new Promise((resolve) => child.on("exit", resolve));
const mb = (x) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify({
    main: values.main,
    flags: positionals,
    namespaces: n,
    convergeS,
    peakMB: mb(idle.hwm),
    idleMB: mb(idle.rss),
    idleAnonMB: mb(idle.anon),
    coldCpuS: cold.cpu,
    idleCpuS: mb(idle.cpu - cold.cpu),
  }),
);
