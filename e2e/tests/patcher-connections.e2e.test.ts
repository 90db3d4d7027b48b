// The patcher reuses its API server connections: converging many namespaces opens about as many
// connections as it has workers and watches, not one per request (client-node's default).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess } from "../src/support/patcher-process.ts";
import { TEST_PASSWORD_PREFIX, putSourceSecret, waitForCopy } from "../src/support/fixtures.ts";

const NAMESPACES = 50;
const WORKERS = 4;
/** Namespaces, ServiceAccounts, copies and the source Secret. */
const WATCHES = 4;
/** The leader Lease, the source read, a request racing a socket's return to the pool, ... */
const SLACK = 8;

describe("patcher connections", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("conn")}`;
  const suite = uniqueName("conn");
  let src: string;
  let targets: string[] = [];

  beforeAll(async () => {
    src = await namespaces.create("conn-src");
    await putSourceSecret(core, src, "regcred", password);
    targets = [];
    for (let i = 0; i < NAMESPACES; i += 10) {
      const batch = Array.from({ length: Math.min(10, NAMESPACES - i) }, () => namespaces.create("conn", { suite }));
      targets.push(...(await Promise.all(batch)));
    }
  });
  afterAll(async () => {
    await namespaces.cleanup();
  });

  it(`converges ${NAMESPACES} namespaces over at most workers + watches + ${SLACK} connections`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "patcher-connections-"));
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      `secretName: conn-pull
mappings:
  - name: conn
    source: { secret: { name: regcred, namespace: ${src} } }
    targets: { selector: { matchLabels: { suite: ${suite} } } }
controller: { workers: ${WORKERS}, resyncInterval: 0 }
`,
    );
    const port = await freePort();
    const patcher = new PatcherProcess([
      "run",
      "--config",
      config,
      "--kubeconfig",
      kubeconfig,
      "--server-address",
      `127.0.0.1:${port}`,
    ]);
    try {
      // The API server has every copy: the writes happened.
      for (const ns of targets) await waitForCopy(core, ns, "conn-pull", password);
      const metrics = await eventually("metrics with all writes", async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return counter(text, 'imagepullsecret_patcher_writes_total{kind="secret-create"}') >= NAMESPACES
          ? text
          : undefined;
      });
      const opened = counter(metrics, "imagepullsecret_patcher_kube_connections_opened_total");
      expect(opened).toBeGreaterThan(0);
      expect(opened).toBeLessThanOrEqual(WORKERS + WATCHES + SLACK);
    } finally {
      expect(await patcher.stop()).toBe(0);
      expect(patcher.stdout + patcher.stderr).not.toContain(password);
    }
  });
});

function counter(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}
