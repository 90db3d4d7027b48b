// The `acr` source in the real patcher process, signed in the way AKS workload identity does it: a
// federated ServiceAccount token (TokenRequest, audience api://AzureADTokenExchange) in
// AZURE_FEDERATED_TOKEN_FILE, with AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_AUTHORITY_HOST, against
// hand-written stand-ins of Entra ID and of the registry's /oauth2/exchange (@imagepullsecret-patcher/source-acr/testing). Both
// serve https with a test CA the patcher trusts through NODE_EXTRA_CA_CERTS.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { AcrExchangeStandIn, EntraStandIn, createTestTls } from "@imagepullsecret-patcher/source-acr/testing";
import { freePort } from "../src/cluster/local/processes.ts";
import { TEST_PASSWORD_PREFIX, decodeCopy, readSecret } from "../src/support/fixtures.ts";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";

const TENANT_ID = "3c9a5e2d-7b1f-4a6c-8e0d-9f2b4c6a8e1d";
const CLIENT_ID = "8d4b2f6a-1c3e-4b5d-9a7f-0e2c4a6b8d0f";
const CLIENT_SECRET = `${TEST_PASSWORD_PREFIX}client-secret-${uniqueName("acr")}`;
const NULL_GUID = "00000000-0000-0000-0000-000000000000";
const SECRET_NAME = "acr-pull";
// Short enough that the patcher refreshes every few seconds (at the latest 30 s before expiry).
const REFRESH_TOKEN_LIFETIME_SECONDS = 36;

interface Login {
  username: string;
  password: string;
  auth: string;
}

describe("acr source in the patcher app", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const dir = mkdtempSync(join(tmpdir(), "source-acr-e2e-"));
  const suite = uniqueName("acr");
  const outputs: string[] = [];
  let entra: EntraStandIn;
  let acr: AcrExchangeStandIn;
  let targets: string[] = [];
  let federatedToken = "";
  let configFile = "";
  let workloadEnv: Record<string, string> = {};
  let patcher: PatcherProcess | undefined;
  let port = 0;

  const metrics = async (): Promise<string> => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    outputs.push(text);
    return text;
  };
  const sourceState = async (state: string): Promise<true | undefined> =>
    (await metrics()).includes(`imagepullsecret_patcher_source_state{mapping="azure",state="${state}"} 1`)
      ? true
      : undefined;
  const loginIn = async (namespace: string): Promise<Login | undefined> => {
    const secret = await readSecret(core, namespace, SECRET_NAME);
    if (!secret) return undefined;
    const parsed = JSON.parse(decodeCopy(secret)) as { auths: Record<string, Login> };
    return parsed.auths[acr.registry];
  };
  /** Waits until every target's copy holds the refresh token `accept` approves, and returns one of them. */
  const waitForLogins = (what: string, accept: (token: string) => boolean, timeoutMs = 30_000): Promise<Login> =>
    eventually(
      what,
      async () => {
        const logins = await Promise.all(targets.map((ns) => loginIn(ns)));
        const [first] = logins;
        return first && logins.every((l) => l && accept(l.password) && l.password === first.password)
          ? first
          : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    const tls = await createTestTls(dir);
    const tokenFile = join(dir, "azure-identity-token");
    entra = await EntraStandIn.start({
      tls: tls.serving,
      tenantId: TENANT_ID,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      federatedToken: () => readFileSync(tokenFile, "utf8"),
      marker: TEST_PASSWORD_PREFIX,
      tokenLifetimeSeconds: 3600,
    });
    acr = await AcrExchangeStandIn.start({
      tls: tls.serving,
      accessTokenTenant: (token) => entra.valid(token),
      marker: TEST_PASSWORD_PREFIX,
      refreshTokenLifetimeSeconds: REFRESH_TOKEN_LIFETIME_SECONDS,
    });

    // What the AKS webhook projects into the Pod: a ServiceAccount token for Entra's audience.
    const home = await namespaces.create("acr-patcher");
    await core.createNamespacedServiceAccount({ namespace: home, body: { metadata: { name: "patcher" } } });
    const request = await core.createNamespacedServiceAccountToken({
      name: "patcher",
      namespace: home,
      body: { spec: { audiences: ["api://AzureADTokenExchange"], expirationSeconds: 3600 } },
    });
    federatedToken = request.status?.token ?? "";
    expect(federatedToken).not.toBe("");
    writeFileSync(tokenFile, federatedToken);

    targets = [await namespaces.create("acr-a", { suite }), await namespaces.create("acr-b", { suite })];
    configFile = join(dir, "config.yaml");
    // No authorityHost here: it comes from AZURE_AUTHORITY_HOST, as on AKS. A host MSAL does not know
    // needs disableInstanceDiscovery, as a private cloud would.
    writeFileSync(
      configFile,
      `secretName: ${SECRET_NAME}
mappings:
  - name: azure
    source:
      acr:
        registries: ["${acr.registry}"]
        disableInstanceDiscovery: true
        allowOtherRegistryHosts: true
    targets: { selector: { matchLabels: { suite: ${suite} } } }
controller: { resyncInterval: 0 }
`,
    );
    workloadEnv = {
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_TENANT_ID: TENANT_ID,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_AUTHORITY_HOST: entra.authorityHost,
      NODE_EXTRA_CA_CERTS: tls.caFile,
    };
  });

  afterAll(async () => {
    if (patcher) {
      const code = await patcher.stop();
      outputs.push(patcher.stdout, patcher.stderr);
      expect(code).toBe(0);
    }
    await acr?.close();
    await entra?.close();
    await namespaces.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("plan signs in with a client secret and shows the copies it would create", async () => {
    const env = { ...workloadEnv, AZURE_CLIENT_SECRET: CLIENT_SECRET };
    const plan = await runPatcher(["plan", "--config", configFile, "--kubeconfig", kubeconfig], env);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code, plan.stderr).toBe(0);
    for (const ns of targets)
      expect(plan.stdout).toMatch(new RegExp(`azure\\s+${ns}\\s+create\\s+Secret ${SECRET_NAME}`));
    expect(acr.issued.length).toBeGreaterThanOrEqual(1);
    for (const ns of targets) expect(await readSecret(core, ns, SECRET_NAME)).toBeUndefined();
  });

  it("copies the exchanged refresh token into every target namespace as the null-GUID login", async () => {
    port = await freePort();
    const args = ["run", "--config", configFile, "--kubeconfig", kubeconfig, "--server-address", `127.0.0.1:${port}`];
    patcher = new PatcherProcess(args, workloadEnv);
    const login = await waitForLogins("the copies", (token) => acr.issued.includes(token));
    expect(login.username).toBe(NULL_GUID);
    expect(login.auth).toBe(Buffer.from(`${NULL_GUID}:${login.password}`).toString("base64"));
    const secret = await readSecret(core, targets[0] ?? "", SECRET_NAME);
    expect(secret?.type).toBe("kubernetes.io/dockerconfigjson");
    // Signed in with the federated token, and the exchange named the registry and the tenant.
    const form = acr.forms.at(-1);
    expect(form?.get("service")).toBe(acr.registry);
    expect(form?.get("tenant")).toBe(TENANT_ID);
    await eventually("ready", () => sourceState("ready"));
  });

  it("rotates the copies in place as the refresh token nears its expiry", async () => {
    const before = await waitForLogins("the current copies", () => true);
    const uid = (await readSecret(core, targets[0] ?? "", SECRET_NAME))?.metadata?.uid;
    const issuedBefore = acr.issued.length;
    const after = await waitForLogins(
      "rotated copies",
      (token) => token !== before.password && acr.issued.indexOf(token) >= issuedBefore,
      REFRESH_TOKEN_LIFETIME_SECONDS * 1000,
    );
    expect(after.username).toBe(NULL_GUID);
    expect((await readSecret(core, targets[0] ?? "", SECRET_NAME))?.metadata?.uid).toBe(uid);
  });

  it("keeps the last good copies while the exchange fails or the registry is down, reports degraded, then recovers", async () => {
    const kept = await waitForLogins("the current copies", () => true);
    acr.failWith = 500;
    await eventually("degraded (HTTP 500)", () => sourceState("degraded"), 20_000);
    await patcher?.waitForLog((l) => l.msg === "source failed; keeping the last good credential", 5_000);
    await acr.server.stop();
    acr.failWith = undefined;
    await patcher?.waitForLog((l) => typeof l.error === "string" && l.error.includes("ECONNREFUSED"), 20_000);
    expect(await sourceState("degraded")).toBe(true);
    for (const ns of targets) expect((await loginIn(ns))?.password).toBe(kept.password);
    await acr.server.start();
    await eventually("ready again", () => sourceState("ready"), 30_000);
    await waitForLogins("fresh copies after the outage", (token) => token !== kept.password);
    expect(patcher?.logs().some((l) => l.msg === "source recovered" || l.msg === "credential changed")).toBe(true);
  });

  it("never shows a token: not in output, Events, metrics or plan", async () => {
    const events = await core.listEventForAllNamespaces();
    const eventsV1 = await kc.makeApiClient(k8s.EventsV1Api).listEventForAllNamespaces();
    const seen = [
      ...outputs,
      patcher?.stdout ?? "",
      patcher?.stderr ?? "",
      JSON.stringify(events.items),
      JSON.stringify(eventsV1.items),
      await metrics(),
    ].join("\n");
    const tokens = [...entra.issued.keys(), ...acr.issued, federatedToken, CLIENT_SECRET];
    expect(tokens.length).toBeGreaterThan(4);
    for (const token of tokens) {
      expect(seen).not.toContain(token);
      // The signature part alone (a JWT cut short or re-encoded keeps it).
      expect(seen).not.toContain(token.split(".").at(-1) ?? token);
    }
    expect(seen).not.toContain(TEST_PASSWORD_PREFIX);
    // The logs do say what happened, by source name and hash.
    expect(patcher?.stdout).toContain(`acr ${acr.registry} via workload identity`);
  });
});
