import { describe, expect, it } from "vitest";
import type { Logger } from "../../logging/logger.js";
import { ManualClock } from "../polling/clock.js";
import type { VaultHttpRequest, VaultHttpResponse, VaultTransport } from "./client.js";
import { validateVaultSourceConfig, type VaultSourceConfig } from "./config.js";
import { VaultSource, extractDockerConfig } from "./vault-source.js";

const PASSWORD = "registry-Pa55word-XYZ";
const dockerconfig = (user = "robot") =>
  JSON.stringify({ auths: { "registry.example": { auth: Buffer.from(`${user}:${PASSWORD}`).toString("base64") } } });
const CLIENT_TOKEN = "hvs.CAESIClientTokenValue0123456789";
const CLIENT_TOKEN_2 = "hvs.CAESISecondTokenValue0123456789";
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXZhbHVl";
const SECRET_ID = "6c3e1e2a-5b4f-4b9b-9a43-1d2e3f4a5b6c";

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}
type Handler = (req: Recorded) => { status: number; body?: unknown; headers?: Record<string, string> };

/** A scripted Vault: handlers by "METHOD /path"; records every request. */
function fakeVault(routes: Record<string, Handler>) {
  const requests: Recorded[] = [];
  const transport: VaultTransport = (req: VaultHttpRequest): Promise<VaultHttpResponse> => {
    const recorded: Recorded = {
      method: req.method,
      path: req.url.pathname,
      headers: { ...req.headers },
      body: req.body === undefined ? undefined : JSON.parse(req.body),
    };
    requests.push(recorded);
    const handler = routes[`${req.method} ${req.url.pathname}`];
    const answer = handler ? handler(recorded) : { status: 404, body: { errors: [] } };
    const headers = new Headers(answer.headers ?? {});
    return Promise.resolve({
      status: answer.status,
      headers,
      text: answer.body === undefined ? "" : JSON.stringify(answer.body),
    });
  };
  return { transport, requests };
}

const kv2 = (data: Record<string, unknown>) => ({ status: 200, body: { data: { data, metadata: { version: 1 } } } });
const login = (token: string, lease = 3600, renewable = true) => ({
  status: 200,
  body: { auth: { client_token: token, accessor: "acc", lease_duration: lease, renewable, policies: ["default"] } },
});

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}
function capture(lines: LogLine[]): Logger {
  const logger: Logger = {
    debug: (fields, message) => lines.push({ level: "debug", message, fields }),
    info: (fields, message) => lines.push({ level: "info", message, fields }),
    warn: (fields, message) => lines.push({ level: "warn", message, fields }),
    error: (fields, message) => lines.push({ level: "error", message, fields }),
    child: () => logger,
  };
  return logger;
}

function setup(config: Record<string, unknown>, routes: Record<string, Handler>, files: Record<string, string> = {}) {
  const vault = fakeVault(routes);
  const clock = new ManualClock();
  const lines: LogLine[] = [];
  const validated: VaultSourceConfig = validateVaultSourceConfig({
    address: "https://vault.example:8200",
    path: "registry/docker",
    ...config,
  });
  const source = new VaultSource(validated, {
    transport: vault.transport,
    clock,
    random: () => 0,
    logger: capture(lines),
    readFile: (path) =>
      path in files
        ? Promise.resolve(files[path] ?? "")
        : Promise.reject(Object.assign(new Error(`ENOENT ${path}`), { code: "ENOENT" })),
  });
  const controller = new AbortController();
  const everything = () => JSON.stringify({ lines, status: source.status(), description: source.description });
  return { ...vault, clock, lines, source, controller, everything, start: () => source.start(controller.signal) };
}

function assertNoSecrets(text: string): void {
  for (const secret of [
    CLIENT_TOKEN,
    CLIENT_TOKEN_2,
    JWT,
    SECRET_ID,
    PASSWORD,
    Buffer.from(`robot:${PASSWORD}`).toString("base64"),
  ]) {
    expect(text).not.toContain(secret);
  }
}

describe("VaultSource request shapes", () => {
  it("logs in with Kubernetes auth and reads KV v2 with the client token and namespace", async () => {
    const t = setup(
      { namespace: "team-a", auth: { kubernetes: { role: "patcher", jwtFile: "/sa/token" } } },
      {
        "POST /v1/auth/kubernetes/login": () => login(CLIENT_TOKEN),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
      { "/sa/token": `${JWT}\n` },
    );
    await t.start();
    expect(t.source.status().state).toBe("ready");
    expect(t.source.current()?.credential.bytes.toString()).toBe(dockerconfig());
    expect(t.requests).toEqual([
      {
        method: "POST",
        path: "/v1/auth/kubernetes/login",
        headers: {
          accept: "application/json",
          "x-vault-request": "true",
          "x-vault-namespace": "team-a",
          "content-type": "application/json",
        },
        body: { role: "patcher", jwt: JWT },
      },
      {
        method: "GET",
        path: "/v1/secret/data/registry/docker",
        headers: {
          accept: "application/json",
          "x-vault-request": "true",
          "x-vault-namespace": "team-a",
          "x-vault-token": CLIENT_TOKEN,
        },
        body: undefined,
      },
    ]);
    assertNoSecrets(t.everything());
    t.controller.abort();
  });

  it("uses the default Kubernetes mount and service-account token path", async () => {
    const t = setup(
      { auth: { kubernetes: { role: "patcher" } } },
      {
        "POST /v1/auth/kubernetes/login": () => login(CLIENT_TOKEN),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
      { "/var/run/secrets/kubernetes.io/serviceaccount/token": JWT },
    );
    await t.start();
    expect(t.requests[0]?.body).toEqual({ role: "patcher", jwt: JWT });
    t.controller.abort();
  });

  it("reports an unreadable JWT file by path and code", async () => {
    const t = setup({ auth: { kubernetes: { role: "patcher", jwtFile: "/missing" } } }, {});
    await t.start();
    expect(t.source.status().error).toBe(
      "vault secret/registry/docker at https://vault.example:8200: cannot read jwtFile /missing (ENOENT)",
    );
    expect(t.requests).toEqual([]);
    t.controller.abort();
  });

  it("logs in with AppRole on a custom mount, reading the secret ID file, and reads KV v1", async () => {
    const t = setup(
      {
        version: 1,
        mount: "kv",
        key: "config",
        auth: { appRole: { roleId: "role-1", secretIdFile: "/approle/secret-id", mount: "ci/approle" } },
      },
      {
        "POST /v1/auth/ci/approle/login": () => login(CLIENT_TOKEN),
        "GET /v1/kv/registry/docker": () => ({
          status: 200,
          body: { data: { config: dockerconfig() }, lease_duration: 2764800 },
        }),
      },
      { "/approle/secret-id": `${SECRET_ID}\n` },
    );
    await t.start();
    expect(t.source.status().state).toBe("ready");
    expect(t.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /v1/auth/ci/approle/login",
      "GET /v1/kv/registry/docker",
    ]);
    expect(t.requests[0]?.body).toEqual({ role_id: "role-1", secret_id: SECRET_ID });
    expect(t.requests[0]?.headers["x-vault-token"]).toBeUndefined();
    assertNoSecrets(t.everything());
    t.controller.abort();
  });

  it("sends no secret_id for an AppRole without one", async () => {
    const t = setup(
      { auth: { appRole: { roleId: "role-1" } } },
      {
        "POST /v1/auth/approle/login": () => login(CLIENT_TOKEN),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
    );
    await t.start();
    expect(t.requests[0]?.body).toEqual({ role_id: "role-1" });
    t.controller.abort();
  });

  it("looks up a static token once, then reads with it", async () => {
    const t = setup(
      { auth: { token: { tokenFile: "/vault/token" } } },
      {
        "GET /v1/auth/token/lookup-self": () => ({ status: 200, body: { data: { ttl: 0, renewable: false } } }),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
      { "/vault/token": `${CLIENT_TOKEN}\n` },
    );
    await t.start();
    await t.source.refreshNow();
    expect(t.requests.map((r) => `${r.method} ${r.path} ${r.headers["x-vault-token"] === CLIENT_TOKEN}`)).toEqual([
      "GET /v1/auth/token/lookup-self true",
      "GET /v1/secret/data/registry/docker true",
      "GET /v1/secret/data/registry/docker true",
    ]);
    expect(t.clock.pendingDelays()).toEqual([300_000]); // no renewal timer for a non-expiring token
    t.controller.abort();
    expect(t.clock.pendingDelays()).toEqual([]);
  });

  it("names an invalid static token without showing it", async () => {
    const t = setup(
      { auth: { token: { token: CLIENT_TOKEN } } },
      { "GET /v1/auth/token/lookup-self": () => ({ status: 403, body: { errors: ["permission denied"] } }) },
    );
    await t.start();
    expect(t.source.status()).toMatchObject({
      state: "pending",
      error:
        "vault secret/registry/docker at https://vault.example:8200: token auth: the token is invalid or expired: HTTP 403 (permission denied)",
    });
    assertNoSecrets(t.everything());
    t.controller.abort();
  });
});

describe("VaultSource token lifecycle", () => {
  it("renews a renewable token at 2/3 of its lease, without logging in again", async () => {
    let leases = 0;
    const t = setup(
      { refreshIntervalSeconds: 3600, auth: { appRole: { roleId: "r", secretId: SECRET_ID } } },
      {
        "POST /v1/auth/approle/login": () => login(CLIENT_TOKEN, 60),
        "POST /v1/auth/token/renew-self": (req) => {
          expect(req.headers["x-vault-token"]).toBe(CLIENT_TOKEN);
          leases++;
          return login(CLIENT_TOKEN, 60);
        },
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
    );
    await t.start();
    expect(t.clock.pendingDelays()).toEqual([40_000, 3_600_000]);
    await t.clock.advance(40_000);
    expect(leases).toBe(1);
    expect(t.source.tokens.renewals).toBe(1);
    await t.clock.advance(40_000);
    expect(leases).toBe(2);
    expect(t.source.tokens.logins).toBe(1);
    expect(t.requests.filter((r) => r.path.endsWith("/login"))).toHaveLength(1);
    expect(t.requests[t.requests.length - 1]?.body).toEqual({});
    assertNoSecrets(t.everything());
    t.controller.abort();
    expect(t.clock.pendingDelays()).toEqual([]);
  });

  it("logs in again when renewal fails", async () => {
    let logins = 0;
    const t = setup(
      { refreshIntervalSeconds: 3600, auth: { appRole: { roleId: "r", secretId: SECRET_ID } } },
      {
        "POST /v1/auth/approle/login": () => login(++logins === 1 ? CLIENT_TOKEN : CLIENT_TOKEN_2, 60),
        "POST /v1/auth/token/renew-self": () => ({ status: 403, body: { errors: ["permission denied"] } }),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
    );
    await t.start();
    await t.clock.advance(40_000);
    expect(logins).toBe(2);
    expect(t.lines.some((l) => l.message === "vault token renewal failed; logging in again")).toBe(true);
    await t.source.refreshNow();
    expect(t.requests.at(-1)?.headers["x-vault-token"]).toBe(CLIENT_TOKEN_2);
    assertNoSecrets(t.everything());
    t.controller.abort();
  });

  it("logs in again instead of renewing once the max TTL shrinks the lease", async () => {
    let logins = 0;
    const t = setup(
      { refreshIntervalSeconds: 3600, auth: { appRole: { roleId: "r", secretId: SECRET_ID } } },
      {
        "POST /v1/auth/approle/login": () => login(++logins === 1 ? CLIENT_TOKEN : CLIENT_TOKEN_2, 90),
        "POST /v1/auth/token/renew-self": () => login(CLIENT_TOKEN, 20),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
    );
    await t.start();
    await t.clock.advance(60_000);
    expect(logins).toBe(2);
    expect(t.source.tokens.renewals).toBe(1);
    t.controller.abort();
  });

  it("renews a renewable static token and keeps it when a renewal fails", async () => {
    let renewals = 0;
    const t = setup(
      { refreshIntervalSeconds: 3600, auth: { token: { token: CLIENT_TOKEN } } },
      {
        "GET /v1/auth/token/lookup-self": () => ({ status: 200, body: { data: { ttl: 30, renewable: true } } }),
        "POST /v1/auth/token/renew-self": () =>
          ++renewals === 1 ? { status: 503, body: { errors: ["Vault is sealed"] } } : login(CLIENT_TOKEN, 30),
        "GET /v1/secret/data/registry/docker": () => kv2({ dockerconfigjson: dockerconfig() }),
      },
    );
    await t.start();
    await t.clock.advance(20_000); // renewal fails; retried halfway to expiry
    expect(renewals).toBe(1);
    await t.clock.advance(5_000);
    expect(renewals).toBe(2);
    expect(t.source.tokens.logins).toBe(1);
    expect(t.source.tokens.renewals).toBe(1);
    t.controller.abort();
  });

  it("gets a fresh token and retries once when the read answers 403", async () => {
    let logins = 0;
    const t = setup(
      { auth: { appRole: { roleId: "r", secretId: SECRET_ID } } },
      {
        "POST /v1/auth/approle/login": () => login(++logins === 1 ? CLIENT_TOKEN : CLIENT_TOKEN_2),
        "GET /v1/secret/data/registry/docker": (req) =>
          req.headers["x-vault-token"] === CLIENT_TOKEN_2
            ? kv2({ dockerconfigjson: dockerconfig() })
            : { status: 403, body: { errors: ["permission denied"] } },
      },
    );
    await t.start();
    expect(t.source.status().state).toBe("ready");
    expect(t.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /v1/auth/approle/login",
      "GET /v1/secret/data/registry/docker",
      "POST /v1/auth/approle/login",
      "GET /v1/secret/data/registry/docker",
    ]);
    t.controller.abort();
  });

  it("reports a persistent 403 as permission denied on the path", async () => {
    const t = setup(
      { auth: { appRole: { roleId: "r", secretId: SECRET_ID } } },
      {
        "POST /v1/auth/approle/login": () => login(CLIENT_TOKEN),
        "GET /v1/secret/data/registry/docker": () => ({
          status: 403,
          body: { errors: ["1 error occurred:\n\t* permission denied\n\n"] },
        }),
      },
    );
    await t.start();
    expect(t.source.status().error).toBe(
      "vault secret/registry/docker at https://vault.example:8200: reading secret/data/registry/docker: HTTP 403 (1 error occurred: * permission denied)",
    );
    t.controller.abort();
  });
});

describe("VaultSource values", () => {
  const token = { auth: { token: { token: CLIENT_TOKEN } } };
  const lookup = () => ({ status: 200, body: { data: { ttl: 0 } } });

  it("keeps the good value when Vault is sealed, and when the secret turns invalid", async () => {
    const answers: Array<ReturnType<Handler>> = [
      kv2({ dockerconfigjson: dockerconfig() }),
      { status: 503, body: { errors: ["Vault is sealed"] } },
      kv2({ dockerconfigjson: `{"auths": ${PASSWORD}` }),
      kv2({ dockerconfigjson: dockerconfig("rotated") }),
    ];
    let i = 0;
    const t = setup(token, {
      "GET /v1/auth/token/lookup-self": lookup,
      "GET /v1/secret/data/registry/docker": () => answers[Math.min(i++, answers.length - 1)] ?? { status: 500 },
    });
    await t.start();
    const good = t.source.current();
    await t.clock.advanceToNext();
    expect(t.source.status()).toMatchObject({ state: "degraded" });
    expect(t.source.status().error).toContain("HTTP 503 (Vault is sealed)");
    expect(t.source.current()).toBe(good);
    await t.clock.advanceToNext();
    expect(t.source.status().error).toContain("invalid .dockerconfigjson: not valid JSON");
    expect(t.source.current()).toBe(good);
    await t.clock.advanceToNext();
    expect(t.source.status().state).toBe("ready");
    expect(t.source.current()?.credential.bytes.toString()).toBe(dockerconfig("rotated"));
    assertNoSecrets(t.everything());
    t.controller.abort();
  });

  it("explains a deleted latest version and a missing path", async () => {
    let deleted = true;
    const t = setup(token, {
      "GET /v1/auth/token/lookup-self": lookup,
      "GET /v1/secret/data/registry/docker": () =>
        deleted
          ? {
              status: 404,
              body: { data: { data: null, metadata: { deletion_time: "2030-01-01T00:00:00Z", destroyed: false } } },
            }
          : { status: 404, body: { errors: [] } },
    });
    await t.start();
    expect(t.source.status().error).toMatch(/reading secret\/data\/registry\/docker: the latest version is deleted$/);
    deleted = false;
    await t.clock.advanceToNext();
    expect(t.source.status().error).toMatch(/HTTP 404 \(no secret at this path\)$/);
    t.controller.abort();
  });

  it("hints at the KV version when the answer has no data object", async () => {
    const t = setup(token, {
      "GET /v1/auth/token/lookup-self": lookup,
      "GET /v1/secret/data/registry/docker": () => ({ status: 200, body: { data: { dockerconfigjson: "x" } } }),
    });
    await t.start();
    expect(t.source.status().error).toMatch(/no data object \(is this a KV v1 mount\? set version: 1\)$/);
    t.controller.abort();
  });

  it("names network failures", async () => {
    const t = setup(token, {});
    const failing = new VaultSource(t.source.config, {
      transport: () =>
        Promise.reject(
          new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) }),
        ),
    });
    const controller = new AbortController();
    await failing.start(controller.signal);
    expect(failing.status().error).toBe(
      "vault secret/registry/docker at https://vault.example:8200: request failed (ECONNREFUSED)",
    );
    controller.abort();
  });
});

describe("extractDockerConfig", () => {
  const value = dockerconfig();
  it("takes the whole data object when it has auths", () => {
    const data = JSON.parse(value) as Record<string, unknown>;
    expect(extractDockerConfig(data, undefined)).toBe(value);
  });
  it("takes the default field, a dotted field, or the configured one, as a string or an object", () => {
    expect(extractDockerConfig({ dockerconfigjson: value }, undefined)).toBe(value);
    expect(extractDockerConfig({ ".dockerconfigjson": value }, undefined)).toBe(value);
    expect(extractDockerConfig({ other: value }, "other")).toBe(value);
    expect(extractDockerConfig({ other: JSON.parse(value) as unknown }, "other")).toBe(value);
  });
  it("lists field names, never values, when the field is missing or of the wrong type", () => {
    expect(() => extractDockerConfig({ username: "robot", password: PASSWORD }, undefined)).toThrow(
      'the secret has neither an "auths" object nor a "dockerconfigjson" field (set "key" to the field to use); its fields are "username", "password"',
    );
    expect(() => extractDockerConfig({ password: PASSWORD }, "config")).toThrow(
      'the secret has no field "config"; its fields are "password"',
    );
    expect(() => extractDockerConfig({ config: 42 }, "config")).toThrow('field "config" holds a number');
  });
});
