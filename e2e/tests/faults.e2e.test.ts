// Fault injection on a private local control plane: API server crash mid-sync, etcd compaction
// (410 Gone), the patcher SIGKILLed mid-sync, a concurrent ServiceAccount writer, and a stalled
// watch. Each test ends by checking full convergence and that nothing foreign was modified.
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { localProvider, type LocalCluster } from "../src/cluster/local/local-provider.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import { FreezableProxy } from "../src/support/tcp-proxy.ts";
import { pool } from "../src/support/pool.ts";
import { eventually, statusCode } from "../src/support/kube.ts";
import { Engine, buildMappings, builtinRegistries } from "@imagepullsecret-patcher/core";
import { TEST_PASSWORD_PREFIX, dockerConfigJson, putSourceSecret, sleep } from "../src/support/fixtures.ts";

const JSON_PATCH = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);
const SECRET = "fault-pull";
const MANAGED = "app.kubernetes.io/managed-by=imagepullsecret-patcher";
const WORK = fileURLToPath(new URL(`../../.e2e/runs/${process.pid}-faults`, import.meta.url));

let cluster: LocalCluster;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;
const password = `${TEST_PASSWORD_PREFIX}faults`;
const dir = mkdtempSync(join(tmpdir(), "patcher-faults-"));
const patchers: PatcherProcess[] = [];

function startPatcher(
  name: string,
  extraConfig = "",
  kubeconfig = cluster.kubeconfigPath,
): { proc: PatcherProcess; port: number; ready: Promise<void> } {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(
    config,
    `mappings:
  - name: faults
    source: { secret: { name: regcred, namespace: fault-src } }
    targets: { selector: "fault=yes" }
    secretName: ${SECRET}
controller: { resyncInterval: 0, clientQps: 300, clientBurst: 300, workers: 8${extraConfig} }
`,
  );
  const portPromise = freePort();
  const holder: { proc?: PatcherProcess; port: number } = { port: 0 };
  const ready = portPromise.then(async (port) => {
    holder.port = port;
    holder.proc = new PatcherProcess([
      "run",
      "--config",
      config,
      "--kubeconfig",
      kubeconfig,
      "--server-address",
      `127.0.0.1:${port}`,
    ]);
    patchers.push(holder.proc);
    await holder.proc.waitForLog((l) => l.msg === "engine started");
  });
  return {
    get proc() {
      return holder.proc as PatcherProcess;
    },
    get port() {
      return holder.port;
    },
    ready,
  };
}

/** Every selected namespace has exactly one copy entry and the copy; none elsewhere. */
async function assertConverged(selected: readonly string[]): Promise<void> {
  const want = new Set(selected);
  await eventually(
    `all ${selected.length} namespaces converged`,
    async () => {
      const secrets = await core.listSecretForAllNamespaces({ labelSelector: MANAGED });
      const withCopy = new Set(
        secrets.items.filter((s) => s.metadata?.name === SECRET).map((s) => s.metadata?.namespace ?? ""),
      );
      const sas = await core.listServiceAccountForAllNamespaces({ fieldSelector: "metadata.name=default" });
      const patched = new Set(
        sas.items
          .filter((sa) => (sa.imagePullSecrets ?? []).some((r) => r.name === SECRET))
          .map((sa) => sa.metadata?.namespace ?? ""),
      );
      const ok = [...want].every((n) => withCopy.has(n) && patched.has(n)) && [...withCopy].every((n) => want.has(n));
      return ok ? true : undefined;
    },
    240_000,
  );
  const sas = await core.listServiceAccountForAllNamespaces({ fieldSelector: "metadata.name=default" });
  for (const sa of sas.items) {
    const names = (sa.imagePullSecrets ?? []).map((r) => r.name);
    expect(
      names.filter((n) => n === SECRET).length,
      `${sa.metadata?.namespace}/default has our entry once`,
    ).toBeLessThanOrEqual(1);
  }
  const secrets = await core.listSecretForAllNamespaces({ labelSelector: MANAGED });
  for (const s of secrets.items)
    expect(want.has(s.metadata?.namespace ?? ""), `no orphan copy in ${s.metadata?.namespace}`).toBe(true);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

/** A foreign Secret and a foreign ServiceAccount entry that must survive every fault. */
const foreign = { namespace: "fault-foreign", secretRv: "", saEntries: [] as string[] };

beforeAll(async () => {
  cluster = await localProvider.start({ workDir: WORK, onProgress: (l) => process.stderr.write(`[faults] ${l}\n`) });
  kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: "fault-src" } } });
  await putSourceSecret(core, "fault-src", "regcred", password);
  await core.createNamespace({ body: { metadata: { name: foreign.namespace, labels: { fault: "yes" } } } });
  const s = await core.createNamespacedSecret({
    namespace: foreign.namespace,
    body: { metadata: { name: "theirs" }, type: "Opaque", data: { k: "dg==" } },
  });
  foreign.secretRv = s.metadata?.resourceVersion ?? "";
  await eventually("default SA", () =>
    core.readNamespacedServiceAccount({ name: "default", namespace: foreign.namespace }).catch(() => undefined),
  );
  await core.patchNamespacedServiceAccount(
    {
      name: "default",
      namespace: foreign.namespace,
      body: [{ op: "add", path: "/imagePullSecrets", value: [{ name: "their-pull" }] }],
    },
    JSON_PATCH,
  );
}, 180_000);

afterAll(async () => {
  for (const p of patchers) await p.stop();
  for (const p of patchers) expect(p.stdout + p.stderr).not.toContain(password);
  // Nothing foreign was modified.
  const theirs = await core.readNamespacedSecret({ name: "theirs", namespace: foreign.namespace });
  expect(theirs.metadata?.resourceVersion).toBe(foreign.secretRv);
  const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: foreign.namespace });
  expect((sa.imagePullSecrets ?? []).map((r) => r.name)).toContain("their-pull");
  await cluster.stop();
});

describe("faults", () => {
  const selected: string[] = [foreign.namespace];

  it("converges 1,000 namespaces although kube-apiserver is killed and restarted mid-sync", async () => {
    const names = Array.from({ length: 1000 }, (_, i) => `fault-ns-${i}`);
    await pool(names, 20, async (name) => {
      await core.createNamespace({ body: { metadata: { name, labels: { fault: "yes" } } } });
    });
    selected.push(...names);
    const patcher = startPatcher("crash");
    await patcher.ready;
    // Kill the API server once the sync is under way.
    await eventually(
      "sync under way",
      async () => ((await metric(patcher.port, "imagepullsecret_patcher_writes_total")) >= 100 ? true : undefined),
      120_000,
    );
    await cluster.killApiserver();
    await sleep(3000);
    await cluster.startApiserver();
    await assertConverged(selected);
    // The restarted server has a new watch cache: the patcher's watches resumed or relisted.
    expect(await metric(patcher.port, "imagepullsecret_patcher_watch_restarts_total")).toBeGreaterThan(0);
    await patcher.proc.stop();
  });

  it("relists after etcd compaction makes its resourceVersion too old (410 Gone)", async () => {
    const patcher = startPatcher("compaction");
    await patcher.ready;
    await assertConverged(selected);
    await patcher.proc.stop();
    const relistsBefore = 0;
    // While it is down: changes, then compaction of everything before them.
    await core.createNamespace({ body: { metadata: { name: "fault-after-compaction", labels: { fault: "yes" } } } });
    selected.push("fault-after-compaction");
    const range = (await (
      await fetch(`${cluster.etcdUrl}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
      })
    ).json()) as { header: { revision: string } };
    const compacted = await fetch(`${cluster.etcdUrl}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision: range.header.revision, physical: true }),
    });
    expect(compacted.status).toBe(200);
    // A watch from any resourceVersion before the compaction now gets 410.
    const gone = await fetch(
      `${cluster.server}/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=1`,
      {},
    ).catch(() => undefined);
    void gone;
    const again = startPatcher("compaction-2");
    await again.ready;
    await assertConverged(selected);
    expect(await metric(again.port, "imagepullsecret_patcher_relists_total")).toBeGreaterThan(relistsBefore);
    await again.proc.stop();
  });

  it("leaves no orphans and no duplicate entries after being SIGKILLed mid-sync and restarted", async () => {
    const extra = Array.from({ length: 300 }, (_, i) => `fault-kill-${i}`);
    const first = startPatcher("kill-1");
    await first.ready;
    await pool(extra, 20, async (name) => {
      await core.createNamespace({ body: { metadata: { name, labels: { fault: "yes" } } } });
    });
    // Unselect a hundred already-converged namespaces at the same time: cleanup is in flight too.
    const unselect = selected.filter((n) => n.startsWith("fault-ns-")).slice(0, 100);
    await pool(unselect, 20, async (name) => {
      await core.patchNamespace({ name, body: [{ op: "remove", path: "/metadata/labels/fault" }] }, JSON_PATCH);
    });
    await eventually(
      "some work done",
      async () => ((await metric(first.port, "imagepullsecret_patcher_writes_total")) >= 50 ? true : undefined),
      120_000,
    );
    first.proc.child.kill("SIGKILL");
    await first.proc.exited;
    selected.push(...extra);
    const stillSelected = selected.filter((n) => !unselect.includes(n));
    const second = startPatcher("kill-2");
    await second.ready;
    await assertConverged(stillSelected);
    for (const name of unselect.slice(0, 10)) {
      const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      expect(sa.imagePullSecrets ?? []).toEqual([]);
      expect(sa.metadata?.annotations?.["imagepullsecret-patcher.io/added"]).toBeUndefined();
    }
    await second.proc.stop();
    selected.splice(0, selected.length, ...stillSelected);
  });

  it("keeps every entry of a concurrent ServiceAccount writer and its own", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `fault-race-${i}`);
    for (const name of names) await core.createNamespace({ body: { metadata: { name, labels: { fault: "yes" } } } });
    for (const name of names)
      await eventually("default SA", () =>
        core.readNamespacedServiceAccount({ name: "default", namespace: name }).catch(() => undefined),
      );
    const patcher = startPatcher("race");
    await patcher.ready;
    // The other writer: read-modify-write with the resourceVersion, retried on conflict, like any
    // well-behaved controller. It adds other-<n> and removes the one before, many times.
    let conflicts = 0;
    const writer = async (ns: string): Promise<void> => {
      for (let round = 0; round < 15; round++) {
        for (;;) {
          const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
          const list = (sa.imagePullSecrets ?? []).filter((r) => r.name !== `other-${round - 1}`);
          list.push({ name: `other-${round}` });
          try {
            await core.replaceNamespacedServiceAccount({
              name: "default",
              namespace: ns,
              body: { ...sa, imagePullSecrets: list },
            });
            break;
          } catch (err) {
            if (statusCode(err) !== 409) throw err;
            conflicts++;
          }
        }
        // Meanwhile the patcher adds and removes its entry as the namespace is relabelled.
        if (round % 3 === 0) {
          await core.patchNamespace(
            {
              name: ns,
              body: [{ op: "replace", path: "/metadata/labels/fault", value: round % 6 === 0 ? "no" : "yes" }],
            },
            JSON_PATCH,
          );
        }
      }
      await core.patchNamespace(
        { name: ns, body: [{ op: "replace", path: "/metadata/labels/fault", value: "yes" }] },
        JSON_PATCH,
      );
    };
    await Promise.all(names.map(writer));
    selected.push(...names);
    await assertConverged(selected);
    for (const ns of names) {
      const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
      const list = (sa.imagePullSecrets ?? []).map((r) => r.name);
      expect(list).toContain("other-14");
      expect(list).toContain(SECRET);
      expect(list.filter((n) => n?.startsWith("other-"))).toEqual(["other-14"]);
    }
    process.stderr.write(
      `[faults] concurrent writer saw ${conflicts} conflicts; the patcher's patches retried on its own\n`,
    );
    await patcher.proc.stop();
  });

  it("notices a stalled watch (connection open, no bytes) with its watchdog and relists", async () => {
    const apiPort = Number(new URL(cluster.server).port);
    const proxy = await FreezableProxy.start(apiPort);
    const viaProxy = join(dir, "proxy.kubeconfig");
    writeFileSync(
      viaProxy,
      readFileSync(cluster.kubeconfigPath, "utf8").replace(`127.0.0.1:${apiPort}`, `127.0.0.1:${proxy.port}`),
    );
    // The config refuses windows under 60s (they relist idle watches constantly), so a short
    // watchdog is set on an engine run in-process, with the same code path behind it.
    const proxied = new k8s.KubeConfig();
    proxied.loadFromFile(viaProxy);
    const restarts: string[] = [];
    let relists = 0;
    const engine = new Engine({
      kubeConfig: proxied,
      mappings: buildMappings(
        [
          {
            name: "faults",
            source: { secret: { name: "regcred", namespace: "fault-src" } },
            targets: { selector: "fault=yes" },
            secretName: SECRET,
          },
        ],
        { registries: builtinRegistries(), kubeConfig: proxied },
      ),
      resyncIntervalMs: 0,
      watchInactivityTimeoutMs: 4000,
      observer: { onWatchRestart: (watch, reason) => restarts.push(`${watch}:${reason}`), onRelist: () => relists++ },
    });
    const stop = new AbortController();
    const running = engine.run(stop.signal);
    await engine.waitForSync(stop.signal);
    await assertConverged(selected);
    const relistsBefore = relists;
    const frozen = proxy.freeze();
    expect(frozen).toBeGreaterThan(0);
    // A namespace created while every watch is stalled: only a relist can reveal it.
    await core.createNamespace({ body: { metadata: { name: "fault-during-stall", labels: { fault: "yes" } } } });
    selected.push("fault-during-stall");
    await assertConverged(selected);
    expect(restarts).toContain("namespaces:watchdog");
    expect(relists).toBeGreaterThan(relistsBefore);
    stop.abort();
    await running;
    await proxy.close();
  });
});

void dockerConfigJson;
