// The gcp source in the patcher binary, against stand-ins for the GKE/GCE metadata server and for
// Google's token endpoint (@imagepullsecret-patcher/source-gcp/testing): copies with oauth2accesstoken for each host, rotation on
// refresh, the last good copy kept while the metadata server is down, and no token anywhere else.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import { TEST_PASSWORD_PREFIX, decodeCopy, readSecret, waitForPullSecrets } from "../src/support/fixtures.ts";
import { MetadataServer, TokenEndpoint, type ServiceAccountKey } from "@imagepullsecret-patcher/source-gcp/testing";

const METADATA_HOSTS = ["europe-docker.pkg.dev", "gcr.io"];
const KEY_HOSTS = ["us-docker.pkg.dev"];
const SECRET = "gcp-pull";

interface Auth {
  username: string;
  password: string;
  auth: string;
}

describe("gcp source in the patcher binary", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const suite = uniqueName("gcp");
  const dir = mkdtempSync(join(tmpdir(), "source-gcp-e2e-"));
  const configPath = join(dir, "config.yaml");
  // One patcher process serves every case.
  let metadata: MetadataServer;
  let endpoint: TokenEndpoint;
  let key: ServiceAccountKey;
  let env: Record<string, string>;
  let patcher: PatcherProcess;
  let port: number;
  let metadataTargets: string[];
  let keyTarget: string;

  const get = async (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
  const auths = async (namespace: string): Promise<Record<string, Auth> | undefined> => {
    const copy = await readSecret(core, namespace, SECRET);
    return copy ? (JSON.parse(decodeCopy(copy)) as { auths: Record<string, Auth> }).auths : undefined;
  };
  /** The token in a namespace's copy, once it holds one of `issued` for exactly `hosts`. */
  const copiedToken = async (namespace: string, hosts: string[], issued: string[]): Promise<string | undefined> => {
    const found = await auths(namespace);
    if (!found || Object.keys(found).sort().join() !== [...hosts].sort().join()) return undefined;
    const tokens = new Set(Object.values(found).map((a) => a.password));
    const [token] = tokens;
    if (tokens.size !== 1 || token === undefined || !issued.includes(token)) return undefined;
    for (const a of Object.values(found)) {
      expect(a.username).toBe("oauth2accesstoken");
      expect(a.auth).toBe(Buffer.from(`oauth2accesstoken:${token}`).toString("base64"));
    }
    return token;
  };

  beforeAll(async () => {
    // Tokens carry the suite-wide marker, so the global teardown also looks for them in Events and logs.
    metadata = await MetadataServer.start({ tokenPrefix: `ya29.${TEST_PASSWORD_PREFIX}gcp-md-` });
    endpoint = await TokenEndpoint.start({ tokenPrefix: `ya29.${TEST_PASSWORD_PREFIX}gcp-sa-` });
    // 33 s tokens: refreshed 30 s before expiry, so every 3 s.
    metadata.expiresIn = 33;
    key = endpoint.createKey();
    const keyFile = join(dir, "key.json");
    writeFileSync(keyFile, JSON.stringify(key));
    metadataTargets = [
      await namespaces.create("gcp-md-a", { suite, mode: "metadata" }),
      await namespaces.create("gcp-md-b", { suite, mode: "metadata" }),
    ];
    keyTarget = await namespaces.create("gcp-key", { suite, mode: "key" });
    writeFileSync(
      configPath,
      `secretName: ${SECRET}
mappings:
  - name: gar
    source: { gcp: { registries: [${METADATA_HOSTS.join(", ")}] } }
    targets: { selector: "suite=${suite},mode=metadata" }
  - name: gar-key
    source: { gcp: { registries: [${KEY_HOSTS.join(", ")}], keyFile: ${keyFile} } }
    targets: { selector: "suite=${suite},mode=key" }
controller: { resyncInterval: 0 }
`,
    );
    // GOOGLE_CLOUD_PROJECT spares google-auth-library's project lookup, which runs `gcloud` where installed.
    env = { GCE_METADATA_HOST: metadata.host, GOOGLE_CLOUD_PROJECT: "standin-project" };
    port = await freePort();
    patcher = new PatcherProcess(
      ["run", "--config", configPath, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`],
      env,
    );
  });

  afterAll(async () => {
    const code = await patcher?.stop();
    await metadata?.close();
    await endpoint?.close();
    await namespaces.cleanup();
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(0);
  });

  it("copies an oauth2accesstoken credential for each configured host, from the metadata server and from a key file", async () => {
    for (const ns of metadataTargets) {
      await eventually(`the metadata token copy in ${ns}`, () => copiedToken(ns, METADATA_HOSTS, metadata.issued));
      await waitForPullSecrets(core, ns, "default", [SECRET]);
    }
    await eventually("the key file token copy", () => copiedToken(keyTarget, KEY_HOSTS, endpoint.issued));
    await waitForPullSecrets(core, keyTarget, "default", [SECRET]);
    // The metadata server was asked the documented way; the token endpoint verified the key's signature.
    expect(metadata.tokenRequests()[0]).toMatchObject({
      flavor: "Google",
      query: { scopes: "https://www.googleapis.com/auth/cloud-platform" },
    });
    expect(endpoint.grants.length).toBeGreaterThan(0);
    expect(endpoint.grants.every((g) => g.ok)).toBe(true);
    expect(endpoint.grants[0]?.claims).toMatchObject({ iss: key.client_email });
  });

  it("rotates the copies in place as short-lived tokens are refreshed", async () => {
    const [ns] = metadataTargets as [string];
    const before = await readSecret(core, ns, SECRET);
    const first = await copiedToken(ns, METADATA_HOSTS, metadata.issued);
    const rotated = await eventually(
      "a newer token in the copy",
      async () => {
        const token = await copiedToken(ns, METADATA_HOSTS, metadata.issued);
        return token !== undefined && token !== first ? token : undefined;
      },
      15_000,
    );
    expect(metadata.issued.indexOf(rotated)).toBeGreaterThan(metadata.issued.indexOf(first ?? ""));
    expect((await readSecret(core, ns, SECRET))?.metadata?.uid).toBe(before?.metadata?.uid);
  });

  it("keeps the last good copy while the metadata server is down, reports the source degraded, and recovers", async () => {
    const [ns] = metadataTargets as [string];
    await metadata.stop();
    const failure = await patcher.waitForLog(
      (l) => l.msg === "source failed; keeping the last good credential" && l.mapping === "gar",
      15_000,
    );
    expect(String(failure.error)).toContain("ECONNREFUSED");
    const kept = await copiedToken(ns, METADATA_HOSTS, metadata.issued);
    expect(kept).toBeDefined();
    const metrics = await (await get("/metrics")).text();
    expect(metrics).toContain('imagepullsecret_patcher_source_state{mapping="gar",state="degraded"} 1');
    expect(metrics).toContain('imagepullsecret_patcher_source_state{mapping="gar-key",state="ready"} 1');
    const ready = await get("/readyz");
    expect(ready.status).toBe(503);
    const { degradedSources } = (await ready.json()) as { degradedSources?: string[] };
    expect(degradedSources?.join("\n")).toMatch(
      /^gar: gcp europe-docker\.pkg\.dev,gcr\.io via metadata server: .*ECONNREFUSED/m,
    );
    await sleep(2_000);
    expect(await copiedToken(ns, METADATA_HOSTS, metadata.issued)).toBe(kept);

    await metadata.resume();
    await eventually(
      "a new token after recovery",
      async () => {
        const token = await copiedToken(ns, METADATA_HOSTS, metadata.issued);
        return token !== undefined && token !== kept ? token : undefined;
      },
      20_000,
    );
    await eventually("the source ready again", async () =>
      (await (await get("/metrics")).text()).includes(
        'imagepullsecret_patcher_source_state{mapping="gar",state="ready"} 1',
      )
        ? true
        : undefined,
    );
  });

  it("shows no token or key in logs, Events, metrics or plan output", async () => {
    const plan = await runPatcher(["plan", "--config", configPath, "--kubeconfig", kubeconfig], env);
    expect(plan.code).toBe(0);
    // The plan's own token differs from the copies' (every process gets a new one): an update each.
    for (const ns of [...metadataTargets, keyTarget]) {
      expect(plan.stdout).toMatch(new RegExp(`gar(-key)?\\s+${ns}\\s+update\\s+Secret ${SECRET}`));
    }
    const planJson = await runPatcher(["plan", "-o", "json", "--config", configPath, "--kubeconfig", kubeconfig], env);
    const metrics = await (await get("/metrics")).text();
    const events = await core.listEventForAllNamespaces();
    const surfaces: Record<string, string> = {
      "patcher stdout": patcher.stdout,
      "patcher stderr": patcher.stderr,
      "plan output": plan.stdout + plan.stderr + planJson.stdout + planJson.stderr,
      metrics,
      "cluster Events": JSON.stringify(events.items),
    };
    const tokens = [...metadata.issued, ...endpoint.issued];
    expect(tokens.length).toBeGreaterThan(3);
    const needles = [
      ...tokens,
      ...tokens.map((t) => Buffer.from(`oauth2accesstoken:${t}`).toString("base64")),
      TEST_PASSWORD_PREFIX,
      ...key.private_key.split("\n").filter((line) => line.length > 40),
    ];
    for (const [where, text] of Object.entries(surfaces)) {
      const leaked = needles.filter((needle) => text.includes(needle));
      expect(leaked, `${where} must not contain token or key material`).toEqual([]);
    }
  });
});
