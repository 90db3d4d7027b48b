// The registry login probe against a real registry: Debian's docker-registry (CNCF distribution
// v2), installed with apt-get when missing, with htpasswd (Basic) auth and with token auth (the
// Docker Bearer flow, tokens from a local token server), over TLS from a throw-away CA.
//
// Imports the probe from core's build output: core's index does not export it (yet).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseDockerConfigJson,
  probeRegistryLogin,
  type DockerConfigJson,
  type ProbeResult,
  type RegistryProbeOptions,
} from "@imagepullsecret-patcher/core";
import { generatePki } from "../src/cluster/local/pki.ts";
import { ensureDockerRegistry, RegistryServer } from "../src/registry/registry-server.ts";
import { TokenServer } from "../src/registry/token-server.ts";

const USER = "robot";
const PASSWORD = "e2e-Registry:Passw0rd-probe";
const WRONG = "e2e-Wrong-Passw0rd-probe";
const basicOf = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString("base64");

function credential(entries: Record<string, { user?: string; password: string }>): DockerConfigJson {
  const auths = Object.fromEntries(
    Object.entries(entries).map(([host, e]) => [host, { auth: basicOf(e.user ?? USER, e.password) }]),
  );
  return parseDockerConfigJson(JSON.stringify({ auths }), "e2e");
}

/** Every secret any test used or any token server issued; none may appear in a result or log. */
const secrets: string[] = [PASSWORD, WRONG, basicOf(USER, PASSWORD), basicOf(USER, WRONG), basicOf("nobody", PASSWORD)];
const results: ProbeResult[] = [];
async function probe(cred: DockerConfigJson, options: RegistryProbeOptions): Promise<ProbeResult> {
  const result = await probeRegistryLogin(cred, { timeoutMs: 10_000, ...options });
  results.push(result);
  return result;
}

let binary: string;
let basic: RegistryServer;
let tokenAuth: RegistryServer;
let tokens: TokenServer;
let ca: string;

beforeAll(async () => {
  const started = Date.now();
  binary = await ensureDockerRegistry((line) => process.stderr.write(`[registry] ${line}\n`));
  // One throw-away CA for both registries and the token server; its "admin" pair signs tokens.
  const pki = await generatePki();
  ca = pki.ca.certPem;
  const tls = { caPem: ca, serving: pki.apiserver };
  basic = await RegistryServer.start({ binary, tls, auth: { kind: "htpasswd", users: { [USER]: PASSWORD } } });
  const service = "e2e-registry";
  const issuer = "e2e-token-issuer";
  tokens = await TokenServer.start({
    users: { [USER]: PASSWORD },
    service,
    issuer,
    serving: pki.apiserver,
    signer: pki.admin,
  });
  tokenAuth = await RegistryServer.start({
    binary,
    tls,
    auth: { kind: "token", realm: tokens.realm, service, issuer, rootCertPem: ca },
  });
  process.stderr.write(
    `[registry] htpasswd ${basic.address} and token ${tokenAuth.address} ready in ${Date.now() - started} ms\n`,
  );
}, 10 * 60_000); // a first run installs the packages here

afterAll(async () => {
  const logs = [basic?.log() ?? "", tokenAuth?.log() ?? ""].join("\n");
  await basic?.dispose();
  await tokenAuth?.dispose();
  await tokens?.close();
  const text = JSON.stringify(results);
  for (const secret of [...secrets, ...(tokens?.issued ?? [])]) {
    expect(text).not.toContain(secret);
    expect(logs).not.toContain(secret);
  }
});

describe("registry login probe against docker-registry with htpasswd", () => {
  it("accepts a good credential", async () => {
    const result = await probe(credential({ [basic.host]: { password: PASSWORD } }), { ca });
    expect(result).toEqual({ ok: true, results: [{ registry: basic.host, ok: true, status: 200 }] });
  });

  it("rejects a wrong password without repeating it", async () => {
    const result = await probe(credential({ [basic.host]: { password: WRONG } }), { ca });
    expect(result).toEqual({
      ok: false,
      results: [{ registry: basic.host, ok: false, status: 401, problem: "credentials rejected" }],
    });
    expect(JSON.stringify(result)).not.toContain(WRONG);
    expect(JSON.stringify(result)).not.toContain(basicOf(USER, WRONG));
  });

  it("rejects an unknown user", async () => {
    const result = await probe(credential({ [basic.host]: { user: "nobody", password: PASSWORD } }), { ca });
    expect(result.results[0]).toMatchObject({ ok: false, status: 401, problem: "credentials rejected" });
  });

  it("names the TLS error when the registry's CA is not trusted", async () => {
    const result = await probe(credential({ [basic.host]: { password: PASSWORD } }), {});
    expect(result.results).toEqual([
      { registry: basic.host, ok: false, problem: "request failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE" },
    ]);
  });

  it("reports a stopped registry as a network problem, and recovers when it is back", async () => {
    const cred = credential({ [basic.host]: { password: PASSWORD } });
    await basic.stop();
    expect(basic.running).toBe(false);
    const down = await probe(cred, { ca });
    expect(down).toEqual({
      ok: false,
      results: [{ registry: basic.host, ok: false, problem: "request failed: ECONNREFUSED" }],
    });
    await basic.restart();
    expect((await probe(cred, { ca })).ok).toBe(true);
  });

  it("also works over plain http with insecureHttp (htpasswd does not need TLS)", async () => {
    const plain = await RegistryServer.start({
      binary,
      tls: false,
      auth: { kind: "htpasswd", users: { [USER]: PASSWORD } },
    });
    try {
      expect(plain.address).toBe(`http://${plain.host}`);
      expect((await probe(credential({ [plain.host]: { password: PASSWORD } }), { insecureHttp: true })).ok).toBe(true);
      expect(
        (await probe(credential({ [plain.host]: { password: WRONG } }), { insecureHttp: true })).results[0]?.problem,
      ).toBe("credentials rejected");
      // Without insecureHttp the probe speaks TLS to it and fails the handshake.
      expect((await probe(credential({ [plain.host]: { password: PASSWORD } }), {})).results[0]?.problem).toMatch(
        /^request failed: [A-Z_]+$/,
      );
    } finally {
      await plain.dispose();
    }
  });
});

describe("registry login probe against docker-registry with token auth", () => {
  it("gets a token with the credential and logs in with it", async () => {
    const issued = tokens.issued.length;
    const result = await probe(credential({ [tokenAuth.host]: { password: PASSWORD } }), { ca });
    expect(result).toEqual({ ok: true, results: [{ registry: tokenAuth.host, ok: true, status: 200 }] });
    expect(tokens.issued.length).toBe(issued + 1);
  });

  it("reports the token server's refusal of a wrong password as rejected", async () => {
    const refused = tokens.refused;
    const result = await probe(credential({ [tokenAuth.host]: { password: WRONG } }), { ca });
    expect(result).toEqual({
      ok: false,
      results: [{ registry: tokenAuth.host, ok: false, status: 401, problem: "credentials rejected" }],
    });
    expect(tokens.refused).toBe(refused + 1);
  });

  it("probes both registries of one credential and fails when one rejects it", async () => {
    const both = await probe(
      credential({ [basic.host]: { password: PASSWORD }, [tokenAuth.host]: { password: PASSWORD } }),
      { ca },
    );
    expect(both.ok).toBe(true);
    expect(both.results.map((r) => r.ok)).toEqual([true, true]);
    const mixed = await probe(
      credential({ [basic.host]: { password: PASSWORD }, [tokenAuth.host]: { password: WRONG } }),
      { ca },
    );
    expect(mixed.ok).toBe(false);
    expect(mixed.results).toEqual([
      { registry: basic.host, ok: true, status: 200 },
      { registry: tokenAuth.host, ok: false, status: 401, problem: "credentials rejected" },
    ]);
  });
});

describe("engine with verifyCredentials: a new credential fans out only after it logs in", () => {
  it("copies a verified credential and holds back a rotated one the registry rejects", async () => {
    const { adminKubeConfig, NamespaceScope, eventually } = await import("../src/support/kube.ts");
    const { startEngine } = await import("../src/support/engine.ts");
    const { readSecret, decodeCopy, sleep } = await import("../src/support/fixtures.ts");
    const k8s = await import("@kubernetes/client-node");
    const kc = adminKubeConfig();
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const namespaces = new NamespaceScope(core);
    const src = await namespaces.create("probe-src");
    const target = await namespaces.create("probe-tgt", { probe: src });
    const dockerconfig = (password: string): string =>
      JSON.stringify({ auths: { [basic.host]: { auth: basicOf(USER, password) } } });
    const put = async (password: string): Promise<void> => {
      const body = {
        metadata: { name: "regcred", namespace: src },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from(dockerconfig(password)).toString("base64") },
      };
      const existing = await readSecret(core, src, "regcred");
      if (existing)
        await core.replaceNamespacedSecret({
          name: "regcred",
          namespace: src,
          body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
        });
      else await core.createNamespacedSecret({ namespace: src, body });
    };
    await put(PASSWORD);
    const patcher = await startEngine(
      kc,
      [
        {
          name: "probed",
          source: { secret: { name: "regcred", namespace: src } },
          targets: { selector: `probe=${src}` },
          secretName: "probed-pull",
        },
      ],
      {
        verifyCredential: async (value) => {
          const result = await probe(value.credential, { ca });
          return {
            ok: result.ok,
            problem: result.results
              .filter((r) => !r.ok)
              .map((r) => `${r.registry}: ${r.problem}`)
              .join("; "),
          };
        },
      },
    );
    try {
      await eventually("verified copy", async () => {
        const s = await readSecret(core, target, "probed-pull");
        return s && decodeCopy(s) === dockerconfig(PASSWORD) ? true : undefined;
      });
      await put(WRONG);
      const status = await eventually(
        "verification error surfaced",
        () => patcher.engine.status()[0]?.verificationError,
      );
      expect(status).toContain("credentials rejected");
      await sleep(1000);
      const kept = await readSecret(core, target, "probed-pull");
      expect(decodeCopy(kept ?? {})).toBe(dockerconfig(PASSWORD));
      expect(patcher.logger.text()).not.toContain(WRONG);
    } finally {
      await patcher.stop();
      await namespaces.cleanup();
    }
  });
});
