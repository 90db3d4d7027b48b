// The vault source against a real Vault server built from the Go module proxy: KV v1/v2, token and
// AppRole auth, token renewal, rotation, outages (stopped, sealed), invalid values and Kubernetes
// auth through the local control plane's TokenReview.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { VaultSource, vaultSourceFactory, type Logger } from "@imagepullsecret-patcher/core";
import { ensureVaultBinary } from "../src/vault/binary.ts";
import { VaultServer } from "../src/vault/vault-server.ts";
import { NamespaceScope, adminKubeConfig, eventually, tokenKubeConfig } from "../src/support/kube.ts";

const PASSWORD = "e2e-Registry-Passw0rd";
function dockerconfig(user: string, registry = "registry.example"): string {
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${PASSWORD}`).toString("base64") } } });
}

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}
type VaultSourceOptions = NonNullable<ConstructorParameters<typeof VaultSource>[1]>;
const lines: LogLine[] = [];
const logger: Logger = {
  debug: (fields, message) => lines.push({ level: "debug", message, fields }),
  info: (fields, message) => lines.push({ level: "info", message, fields }),
  warn: (fields, message) => lines.push({ level: "warn", message, fields }),
  error: (fields, message) => lines.push({ level: "error", message, fields }),
  child: () => logger,
};

/** Fast polling for tests: users may not configure below 1 s, tests go to 300 ms. */
const FAST: VaultSourceOptions = {
  logger,
  refreshIntervalMs: 300,
  initialBackoffMs: 200,
  maxBackoffMs: 1_000,
  requestTimeoutMs: 3_000,
};

const secrets: string[] = [PASSWORD, Buffer.from(`robot:${PASSWORD}`).toString("base64")];
const sources: { controller: AbortController }[] = [];

async function started(
  config: Record<string, unknown>,
  options: VaultSourceOptions = {},
): Promise<{ source: VaultSource; changes: number[] }> {
  const source = new VaultSource(vaultSourceFactory.validate(config), { ...FAST, ...options });
  const controller = new AbortController();
  sources.push({ controller });
  const changes: number[] = [];
  source.onChange(() => changes.push(Date.now()));
  await source.start(controller.signal);
  return { source, changes };
}

const text = (source: VaultSource): string | undefined => source.current()?.credential.bytes.toString();

let vault: VaultServer;
let work: string;

beforeAll(async () => {
  const started = Date.now();
  const binary = await ensureVaultBinary((line) => process.stderr.write(`${line}\n`));
  vault = await VaultServer.start({ binary, rootToken: "e2e-root-token" });
  process.stderr.write(`[vault] server ${vault.address} ready in ${Date.now() - started} ms\n`);
  secrets.push(vault.rootToken);
  work = mkdtempSync(join(tmpdir(), "vault-source-e2e-"));
  await vault.enableKv("kv1", 1);
  await vault.enableAuth("approle");
  await vault.writePolicy(
    "registry-reader",
    'path "secret/data/registry/*" { capabilities = ["read"] }\npath "kv1/registry/*" { capabilities = ["read"] }',
  );
}, 45 * 60_000); // a cold Vault build happens here on a machine without the cache

// Each test's sources stop with it, so no background polling outlives the test that made it.
afterEach(() => {
  for (const { controller } of sources.splice(0)) controller.abort();
});

afterAll(async () => {
  await vault?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
  // Nothing any source logged or reported may contain a token, a secret ID, or registry credentials.
  const logged = JSON.stringify(lines);
  for (const secret of secrets) expect(logged).not.toContain(secret);
});

describe("vault source against a real Vault", () => {
  it("reads KV v2 with token auth (field and whole-object layouts)", async () => {
    await vault.writeKv("secret", 2, "registry/field", { dockerconfigjson: dockerconfig("robot") });
    const { source } = await started({
      address: vault.address,
      path: "registry/field",
      auth: { token: { token: vault.rootToken } },
    });
    expect(source.status()).toMatchObject({ state: "ready", error: undefined });
    expect(text(source)).toBe(dockerconfig("robot"));
    expect(source.current()?.credential.registries).toEqual(["registry.example"]);
    expect(source.description).toBe(`vault secret/registry/field at ${vault.address}`);

    await vault.writeKv("secret", 2, "registry/whole", JSON.parse(dockerconfig("whole")) as Record<string, unknown>);
    const whole = await started({
      address: vault.address,
      path: "registry/whole",
      auth: { token: { token: vault.rootToken } },
    });
    expect(JSON.parse(text(whole.source) ?? "{}")).toEqual(JSON.parse(dockerconfig("whole")));
  });

  it("reads KV v1 with a token from a file, through the factory", async () => {
    await vault.writeKv("kv1", 1, "registry/v1", { config: dockerconfig("v1") });
    const { token } = await vault.createToken({ policies: ["registry-reader"], ttl: "1h" });
    secrets.push(token);
    const tokenFile = join(work, "token");
    writeFileSync(tokenFile, `${token}\n`);
    const config = vaultSourceFactory.validate({
      address: vault.address,
      mount: "kv1",
      version: 1,
      path: "registry/v1",
      key: "config",
      refreshIntervalSeconds: 1,
      auth: { token: { tokenFile } },
    });
    const source = vaultSourceFactory.create(config, { logger, mappingName: "e2e" });
    const controller = new AbortController();
    sources.push({ controller });
    await source.start(controller.signal);
    expect(source.status().state).toBe("ready");
    expect(source.current()?.credential.bytes.toString()).toBe(dockerconfig("v1"));
  });

  it("logs in with AppRole and reads with the policy-limited token", async () => {
    await vault.writeKv("secret", 2, "registry/approle", { dockerconfigjson: dockerconfig("approle") });
    const { roleId, secretId } = await vault.createAppRole("patcher", { policies: ["registry-reader"] });
    secrets.push(secretId);
    const { source } = await started({
      address: vault.address,
      path: "registry/approle",
      auth: { appRole: { roleId, secretId } },
    });
    expect(source.status().state).toBe("ready");
    expect(text(source)).toBe(dockerconfig("approle"));
    expect(source.tokens.logins).toBe(1);
    expect(source.tokens.method).toBe("approle");
  });

  it("refuses a path the AppRole policy does not cover, naming it", async () => {
    await vault.writeKv("secret", 2, "other/x", { dockerconfigjson: dockerconfig("x") });
    const { roleId, secretId } = await vault.createAppRole("patcher-denied", { policies: ["registry-reader"] });
    secrets.push(secretId);
    const { source } = await started({
      address: vault.address,
      path: "other/x",
      auth: { appRole: { roleId, secretId } },
    });
    expect(source.status().state).toBe("pending");
    expect(source.status().error).toMatch(/reading secret\/data\/other\/x: HTTP 403 \(.*permission denied/);
  });

  it("renews short-lived tokens before they expire instead of logging in again", async () => {
    await vault.writeKv("secret", 2, "registry/renew", { dockerconfigjson: dockerconfig("renew") });
    const { roleId, secretId } = await vault.createAppRole("short", {
      policies: ["registry-reader"],
      token_ttl: "3s",
      token_max_ttl: "1h",
    });
    secrets.push(secretId);
    const approle = await started({
      address: vault.address,
      path: "registry/renew",
      auth: { appRole: { roleId, secretId } },
    });
    const { token } = await vault.createToken({ policies: ["registry-reader"], ttl: "3s", renewable: true });
    secrets.push(token);
    const staticToken = await started({ address: vault.address, path: "registry/renew", auth: { token: { token } } });

    await new Promise((resolve) => setTimeout(resolve, 8_000)); // well past the 3 s TTL
    for (const { source } of [approle, staticToken]) {
      expect(source.tokens.renewals).toBeGreaterThanOrEqual(2);
      expect(source.tokens.logins).toBe(1);
      expect(source.status()).toMatchObject({ state: "ready", error: undefined });
    }
    // The static token is still alive in Vault only because it was renewed.
    expect(await vault.tokenTtl(token)).toBeGreaterThan(0);
  }, 30_000);

  it("logs in again when Vault revokes the token (403)", async () => {
    await vault.writeKv("secret", 2, "registry/revoked", { dockerconfigjson: dockerconfig("revoked") });
    const { roleId, secretId } = await vault.createAppRole("revocable", { policies: ["registry-reader"] });
    secrets.push(secretId);
    const { source } = await started({
      address: vault.address,
      path: "registry/revoked",
      auth: { appRole: { roleId, secretId } },
    });
    expect(source.tokens.logins).toBe(1);
    await vault.api("PUT", "sys/leases/revoke-prefix/auth/approle/login", {});
    await eventually("a second login", () => Promise.resolve(source.tokens.logins >= 2 ? true : undefined), 15_000);
    await source.refreshNow();
    expect(source.status()).toMatchObject({ state: "ready", error: undefined });
  });

  it("picks up a rotated secret on the next refresh", async () => {
    await vault.writeKv("secret", 2, "registry/rotate", { dockerconfigjson: dockerconfig("before") });
    const { source, changes } = await started({
      address: vault.address,
      path: "registry/rotate",
      auth: { token: { token: vault.rootToken } },
    });
    const before = source.current()?.credential.hash;
    await vault.writeKv("secret", 2, "registry/rotate", { dockerconfigjson: dockerconfig("after") });
    await eventually(
      "the rotated value",
      () => Promise.resolve(text(source) === dockerconfig("after") ? true : undefined),
      15_000,
    );
    expect(source.current()?.credential.hash).not.toBe(before);
    expect(changes).toHaveLength(2);
    // Unchanged refreshes after that fire nothing.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(changes).toHaveLength(2);
  });

  it("never lets invalid JSON in Vault replace the good value", async () => {
    await vault.writeKv("secret", 2, "registry/invalid", { dockerconfigjson: dockerconfig("good") });
    const { source } = await started({
      address: vault.address,
      path: "registry/invalid",
      auth: { token: { token: vault.rootToken } },
    });
    const good = source.current()?.credential.hash;
    await vault.writeKv("secret", 2, "registry/invalid", { dockerconfigjson: `{"auths": {"r": {"auth": "${PASSWORD}` });
    await eventually(
      "degraded",
      () => Promise.resolve(source.status().state === "degraded" ? true : undefined),
      15_000,
    );
    expect(source.status().error).toMatch(/invalid \.dockerconfigjson: not valid JSON$/);
    expect(source.current()?.credential.hash).toBe(good);
    await vault.writeKv("secret", 2, "registry/invalid", { dockerconfigjson: "{}" });
    await eventually("the second bad value", () =>
      Promise.resolve(source.status().error?.includes('missing the "auths" object') ? true : undefined),
    );
    expect(source.current()?.credential.hash).toBe(good);
    await vault.writeKv("secret", 2, "registry/invalid", { dockerconfigjson: dockerconfig("fixed") });
    await eventually("recovery", () => Promise.resolve(source.status().state === "ready" ? true : undefined), 15_000);
    expect(text(source)).toBe(dockerconfig("fixed"));
  });

  it("keeps the last good value while Vault is sealed and recovers after unseal", async () => {
    await vault.writeKv("secret", 2, "registry/sealed", { dockerconfigjson: dockerconfig("sealed") });
    const { roleId, secretId } = await vault.createAppRole("seal-test", { policies: ["registry-reader"] });
    secrets.push(secretId);
    const { source, changes } = await started({
      address: vault.address,
      path: "registry/sealed",
      auth: { appRole: { roleId, secretId } },
    });
    const good = source.current()?.credential.hash;
    await vault.seal();
    try {
      await eventually(
        "degraded",
        () => Promise.resolve(source.status().state === "degraded" ? true : undefined),
        15_000,
      );
      expect(source.status().error).toMatch(/HTTP 503 \(Vault is sealed\)/);
      expect(source.current()?.credential.hash).toBe(good);
    } finally {
      await vault.unseal();
    }
    await eventually("recovery", () => Promise.resolve(source.status().state === "ready" ? true : undefined), 15_000);
    expect(source.current()?.credential.hash).toBe(good);
    expect(changes).toHaveLength(3); // ready, degraded, ready
  });

  it("keeps the last good value while Vault is down and recovers when it is back", async () => {
    await vault.writeKv("secret", 2, "registry/outage", { dockerconfigjson: dockerconfig("outage") });
    const { roleId, secretId } = await vault.createAppRole("outage-test", { policies: ["registry-reader"] });
    secrets.push(secretId);
    const { source } = await started({
      address: vault.address,
      path: "registry/outage",
      auth: { appRole: { roleId, secretId } },
    });
    const good = source.current()?.credential.hash;
    await vault.stop();
    try {
      await eventually(
        "degraded",
        () => Promise.resolve(source.status().state === "degraded" ? true : undefined),
        15_000,
      );
      expect(source.status().error).toMatch(/request failed \(ECONNREFUSED\)/);
      expect(source.current()?.credential.hash).toBe(good);
      expect(source.status().lastSuccessAt).toBeDefined();
    } finally {
      await vault.restart();
    }
    await eventually("recovery", () => Promise.resolve(source.status().state === "ready" ? true : undefined), 15_000);
    expect(source.current()?.credential.hash).toBe(good);
  }, 60_000);

  it("runs vault server -dev too", async () => {
    const dev = await VaultServer.start({ binary: vault.binary, mode: "dev", rootToken: "dev-root" });
    try {
      await dev.writeKv("secret", 2, "registry/dev", { dockerconfigjson: dockerconfig("dev") });
      const { source } = await started({
        address: dev.address,
        path: "registry/dev",
        auth: { token: { token: "dev-root" } },
      });
      expect(text(source)).toBe(dockerconfig("dev"));
      await dev.seal();
      await dev.unseal();
      expect(await dev.health()).toBe(200);
    } finally {
      await dev.dispose();
    }
  });
});

describe("vault source with Kubernetes auth against the local control plane", () => {
  it("logs in with a ServiceAccount token that Vault checks through the TokenReview API", async () => {
    const kc = adminKubeConfig();
    const cluster = kc.getCurrentCluster();
    if (!cluster?.caData) throw new Error("the e2e kubeconfig has no inline CA");
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const namespaces = new NamespaceScope(core);
    const ns = await namespaces.create("vault-auth");
    const bindingName = `vault-auth-delegator-${ns}`;
    try {
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "patcher" } } });
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "vault-reviewer" } } });
      // Vault checks login JWTs with the TokenReview API as its own reviewer ServiceAccount.
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: bindingName },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:auth-delegator" },
          subjects: [{ kind: "ServiceAccount", name: "vault-reviewer", namespace: ns }],
        },
      });
      const tokenFor = async (name: string, audiences: string[]): Promise<string> => {
        const request = await core.createNamespacedServiceAccountToken({
          name,
          namespace: ns,
          body: { spec: { audiences, expirationSeconds: 600 } },
        });
        const token = request.status?.token ?? "";
        expect(token).not.toBe("");
        secrets.push(token);
        return token;
      };
      // The patcher's token is meant for Vault only; the reviewer's for the apiserver (default audience).
      const jwt = await tokenFor("patcher", ["vault"]);
      const reviewerJwt = await tokenFor("vault-reviewer", []);
      const jwtFile = join(work, "sa-token");
      writeFileSync(jwtFile, jwt);

      await vault.enableAuth("kubernetes", "k8s-e2e");
      await vault.api("POST", "auth/k8s-e2e/config", {
        kubernetes_host: cluster.server,
        kubernetes_ca_cert: Buffer.from(cluster.caData, "base64").toString("utf8"),
        token_reviewer_jwt: reviewerJwt,
        disable_local_ca_jwt: true,
      });
      await vault.api("POST", "auth/k8s-e2e/role/patcher", {
        bound_service_account_names: ["patcher"],
        bound_service_account_namespaces: [ns],
        audience: "vault",
        token_policies: ["registry-reader"],
        token_ttl: "1h",
      });
      await vault.writeKv("secret", 2, "registry/k8s", { dockerconfigjson: dockerconfig("k8s") });

      const { source } = await started({
        address: vault.address,
        path: "registry/k8s",
        auth: { kubernetes: { role: "patcher", mount: "k8s-e2e", jwtFile } },
      });
      // The new ClusterRoleBinding reaches the apiserver's RBAC cache shortly after it is created;
      // until then Vault's TokenReview is refused and the source retries with backoff.
      await eventually(
        "a Kubernetes login",
        () => Promise.resolve(source.status().state === "ready" ? true : undefined),
        30_000,
      ).catch(async (err: unknown) => {
        const auth = tokenKubeConfig(kc, reviewerJwt).makeApiClient(k8s.AuthenticationV1Api);
        const review = await auth.createTokenReview({ body: { spec: { token: jwt, audiences: ["vault"] } } }).then(
          (r) => JSON.stringify(r.status),
          (e: unknown) => `review failed: ${String(e).slice(0, 300)}`,
        );
        throw new Error(`${(err as Error).message}; last error: ${source.status().error}; own review: ${review}`);
      });
      expect(text(source)).toBe(dockerconfig("k8s"));
      expect(source.tokens.method).toBe("kubernetes");

      // A role bound to another namespace is refused by Vault after the TokenReview.
      await vault.api("POST", "auth/k8s-e2e/role/elsewhere", {
        bound_service_account_names: ["patcher"],
        bound_service_account_namespaces: ["some-other-namespace"],
        audience: "vault",
        token_policies: ["registry-reader"],
      });
      const refused = await started({
        address: vault.address,
        path: "registry/k8s",
        auth: { kubernetes: { role: "elsewhere", mount: "k8s-e2e", jwtFile } },
      });
      expect(refused.source.status().state).toBe("pending");
      expect(refused.source.status().error).toMatch(/kubernetes login at auth\/k8s-e2e\/login: HTTP 4\d\d/);
    } finally {
      await rbac.deleteClusterRoleBinding({ name: bindingName }).catch(() => undefined);
      await namespaces.cleanup();
    }
  });
});
