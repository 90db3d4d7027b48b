import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildMappings, builtinRegistries } from "@imagepullsecret-patcher/core";
import {
  ManualClock,
  describePluginFactoryContract,
  describeSourceProviderContract,
  type SourceHarness,
} from "@imagepullsecret-patcher/core/testing";
import plugin, {
  TokenEndpointSource,
  tokenDockerConfigJson,
  tokenEndpointSourceFactory,
  validateTokenEndpointConfig,
  type TokenEndpointConfig,
} from "./index.js";
import { FIXTURE_CERT_FILE, startTokenServer, type TokenServer } from "./test-support/token-server.js";

const TOKEN = "tok-Secret-0123456789abcdefXYZ";
const MINUTE = 60_000;

function config(server: TokenServer, extra: Record<string, unknown> = {}): TokenEndpointConfig {
  return validateTokenEndpointConfig({
    url: `${server.origin}/v1/token?audience=registry`,
    registry: "registry.example",
    username: "robot",
    ...extra,
  });
}

describe("TokenEndpointSource against a local token endpoint", () => {
  let server: TokenServer;
  const running: AbortController[] = [];
  beforeAll(async () => {
    server = await startTokenServer();
  });
  afterAll(async () => {
    for (const c of running) c.abort();
    await server.close();
  });

  function start(source: TokenEndpointSource): Promise<void> {
    const controller = new AbortController();
    running.push(controller);
    return source.start(controller.signal);
  }

  it("POSTs to the endpoint and serves a .dockerconfigjson for the registry, with expiresAt from expires_in", async () => {
    server.answer({ status: 200, body: { token: TOKEN, expires_in: 600 } });
    const clock = new ManualClock();
    const before = server.requests.length;
    const source = new TokenEndpointSource(config(server), { clock, random: () => 0 });
    await start(source);
    expect(server.requests.slice(before)).toMatchObject([
      { method: "POST", path: "/v1/token?audience=registry", headers: { accept: "application/json" } },
    ]);
    const value = source.current();
    expect(value?.credential.bytes.toString()).toBe(tokenDockerConfigJson("registry.example", "robot", TOKEN));
    expect(JSON.parse(value?.credential.bytes.toString() ?? "{}")).toEqual({
      auths: {
        "registry.example": {
          username: "robot",
          password: TOKEN,
          auth: Buffer.from(`robot:${TOKEN}`).toString("base64"),
        },
      },
    });
    expect(value?.credential.registries).toEqual(["registry.example"]);
    expect(value?.expiresAt?.getTime()).toBe(clock.now() + 600_000);
    expect(source.status()).toMatchObject({ state: "ready", expiresAt: value?.expiresAt });
    expect(source.description).toBe(`token-endpoint ${server.origin}/v1/token for registry.example`);
  });

  it("refreshes early, before the token expires, with jitter", async () => {
    let n = 0;
    server.answer(() => ({ status: 200, body: { token: `${TOKEN}-${++n}`, expires_in: 600 } }));
    const clock = new ManualClock();
    let random = 0;
    const source = new TokenEndpointSource(config(server, { refreshIntervalSeconds: 3600 }), {
      clock,
      random: () => random,
    });
    await start(source);
    // 80 % of the 600 s lifetime, less up to 10 % at random: between 420 s and 480 s.
    expect(clock.pendingDelays()).toEqual([480_000]);
    random = 0.5;
    await source.refreshNow();
    expect(clock.pendingDelays()).toEqual([450_000]);
    // The timer fires on its own and a new token arrives before the old one expires.
    const first = source.current()?.credential.hash;
    await clock.advance(450_000);
    await vi.waitFor(() => expect(source.current()?.credential.hash).not.toBe(first), { timeout: 20_000 });
    expect(source.current()?.credential.bytes.toString()).toContain(`${TOKEN}-3`);
    expect(clock.now()).toBeLessThan((source.current()?.expiresAt?.getTime() ?? 0) - 30_000);
  });

  it("uses refreshIntervalSeconds when the answer has no lifetime", async () => {
    server.answer({ status: 200, body: { token: TOKEN } });
    const clock = new ManualClock();
    const source = new TokenEndpointSource(config(server, { refreshIntervalSeconds: 120 }), { clock, random: () => 0 });
    await start(source);
    expect(source.current()?.expiresAt).toBeUndefined();
    expect(clock.pendingDelays()).toEqual([120_000]);
  });

  it("keeps the last good credential while the endpoint fails, backs off, and recovers", async () => {
    server.answer({ status: 200, body: { token: TOKEN, expires_in: 3600 } });
    const clock = new ManualClock();
    const source = new TokenEndpointSource(config(server), { clock, random: () => 0 });
    await start(source);
    const good = source.current();
    server.answer({ status: 503, body: { error: "maintenance", token_hint: TOKEN } });
    await source.refreshNow();
    expect(source.current()).toBe(good);
    expect(source.status()).toMatchObject({
      state: "degraded",
      error: `token-endpoint ${server.origin}/v1/token for registry.example: POST ${server.origin}/v1/token: HTTP 503`,
    });
    expect(clock.pendingDelays()).toEqual([1_000]);
    server.answer({ status: 200, body: "<html>proxy error</html>" });
    await source.refreshNow();
    expect(source.status().error).toContain("the answer is not JSON");
    server.answer({ status: 200, body: { access: TOKEN } });
    await source.refreshNow();
    expect(source.status().error).toContain('the answer has no non-empty string field "token"');
    server.answer({ status: 200, body: { token: TOKEN, expires_in: -5 } });
    await source.refreshNow();
    expect(source.status().error).toContain('field "expires_in" must be a positive number of seconds');
    expect(source.current()).toBe(good);
    const status = JSON.stringify(source.status());
    expect(status).not.toContain(TOKEN);
    expect(status).not.toContain("audience");
    server.answer({ status: 200, body: { token: TOKEN, expires_in: 3600 } });
    await source.refreshNow();
    expect(source.status()).toMatchObject({ state: "ready", error: undefined });
    expect(source.current()?.credential.hash).toBe(good?.credential.hash);
  });

  it("supports GET, nested fields and a numeric-string lifetime", async () => {
    server.answer((req) =>
      req.method === "GET" ? { status: 200, body: { data: { access_token: TOKEN, ttl: "90" } } } : { status: 405 },
    );
    const clock = new ManualClock();
    const source = new TokenEndpointSource(
      config(server, { method: "GET", tokenField: "data.access_token", expiresInField: "data.ttl" }),
      { clock },
    );
    await start(source);
    expect(source.status().state).toBe("ready");
    expect(source.current()?.expiresAt?.getTime()).toBe(clock.now() + 90_000);
  });

  it("reports a refused connection by its code", async () => {
    const gone = await startTokenServer();
    await gone.close();
    const source = new TokenEndpointSource(config(gone), { clock: new ManualClock() });
    await start(source);
    expect(source.status()).toMatchObject({ state: "pending" });
    expect(source.status().error).toMatch(/ECONNREFUSED/);
  });
});

describe("TokenEndpointSource over https with caFile", () => {
  let server: TokenServer;
  beforeAll(async () => {
    server = await startTokenServer({ tls: true });
    server.answer({ status: 200, body: { token: TOKEN, expires_in: 600 } });
  });
  afterAll(() => server.close());

  it("trusts the CA bundle from caFile", async () => {
    const controller = new AbortController();
    const source = new TokenEndpointSource(config(server, { caFile: FIXTURE_CERT_FILE }), { clock: new ManualClock() });
    await source.start(controller.signal);
    controller.abort();
    expect(source.status()).toMatchObject({ state: "ready" });
  });

  it("refuses the self-signed certificate without it, and names an unreadable caFile", async () => {
    const controller = new AbortController();
    const untrusted = new TokenEndpointSource(config(server), { clock: new ManualClock() });
    await untrusted.start(controller.signal);
    expect(untrusted.status().error).toMatch(/SELF_SIGNED|certificate/i);
    const missing = new TokenEndpointSource(config(server, { caFile: "/nonexistent/ca.pem" }), {
      clock: new ManualClock(),
    });
    await missing.start(controller.signal);
    expect(missing.status().error).toContain("cannot read caFile /nonexistent/ca.pem (ENOENT)");
    controller.abort();
  });
});

describe("the plugin package", () => {
  it("exports the token-endpoint factory as its default export", () => {
    expect(plugin.sources?.map((f) => f.type)).toEqual(["token-endpoint"]);
  });

  it("plugs into buildMappings like any source, with config errors at the mapping's path", () => {
    const registries = builtinRegistries();
    for (const factory of plugin.sources ?? []) registries.sources.register(factory);
    const [mapping] = buildMappings(
      [
        {
          name: "tokens",
          source: { "token-endpoint": { url: "https://tokens.example/t", registry: "r.example", username: "u" } },
          targets: { all: {} },
        },
      ],
      { registries, defaultSecretName: "pull" },
    );
    expect(mapping?.source).toBeInstanceOf(TokenEndpointSource);
    expect(() =>
      buildMappings(
        [
          {
            name: "tokens",
            source: { "token-endpoint": { url: "https://tokens.example/t", registry: "r.example" } },
            targets: { all: {} },
          },
        ],
        {
          registries,
          defaultSecretName: "pull",
        },
      ),
    ).toThrow("mappings[0].source.token-endpoint.username: is required");
  });
});

describePluginFactoryContract("token-endpoint", {
  factory: tokenEndpointSourceFactory,
  valid: [
    { url: "https://tokens.example/v1/token", registry: "registry.example", username: "robot" },
    {
      url: "http://127.0.0.1:8080/t",
      registry: "registry.example:5000",
      username: "AWS",
      tokenField: "data.token",
      expiresInField: "ttl",
      method: "GET",
      refreshIntervalSeconds: 60,
    },
    { url: "https://tokens.example/t", registry: "r", username: "u", caFile: "/etc/ca.pem" },
  ],
  invalid: [
    { config: "https://tokens.example", path: "" },
    { config: { registry: "r", username: "u" }, path: "url", problem: "is required" },
    { config: { url: "ftp://x", registry: "r", username: "u" }, path: "url", problem: 'got the scheme "ftp"' },
    {
      config: { url: "https://user:pw@x/t", registry: "r", username: "u" },
      path: "url",
      problem: "must not contain credentials",
    },
    { config: { url: "https://x/t", username: "u" }, path: "registry" },
    { config: { url: "https://x/t", registry: "r", username: "a:b" }, path: "username" },
    { config: { url: "https://x/t", registry: "r", username: "u", tokenField: "a..b" }, path: "tokenField" },
    { config: { url: "https://x/t", registry: "r", username: "u", method: "PUT" }, path: "method" },
    {
      config: { url: "https://x/t", registry: "r", username: "u", refreshIntervalSeconds: 0 },
      path: "refreshIntervalSeconds",
    },
    { config: { url: "http://x/t", registry: "r", username: "u", caFile: "/ca.pem" }, path: "caFile" },
    {
      config: { url: "https://x/t", registry: "r", username: "u", password: "x" },
      path: "password",
      problem: "unknown key",
    },
  ],
  idempotent: true,
});

/**
 * The SourceProvider contract against a real endpoint: the harness drives the server, a manual
 * clock drives time, refreshNow() makes an attempt happen now.
 */
describeSourceProviderContract(
  "TokenEndpointSource",
  async (): Promise<SourceHarness> => {
    const server = await startTokenServer();
    const clock = new ManualClock();
    const source = new TokenEndpointSource(config(server), { clock, random: () => 0.5 });
    return {
      source,
      serve: (token, options) => {
        const expiresIn = options?.expiresAt ? (options.expiresAt.getTime() - clock.now()) / 1000 : undefined;
        server.answer({ status: 200, body: { token, ...(expiresIn === undefined ? {} : { expires_in: expiresIn }) } });
      },
      fail: () => server.answer({ status: 500, body: { error: "internal" } }),
      serveInvalid: () => server.answer({ status: 200, body: { token: "" } }),
      credentialFor: (token) => tokenDockerConfigJson("registry.example", "robot", token),
      refresh: () => source.refreshNow(),
      elapse: async () => {
        await clock.advance(24 * 60 * MINUTE);
        await new Promise((resolve) => setTimeout(resolve, 50)); // room for a (forbidden) request to arrive
      },
      now: () => clock.now(),
      pendingTimers: () => clock.pendingDelays().length,
      backendReads: () => server.requests.length,
      close: () => server.close(),
    };
  },
  { expiry: true, expiryToleranceMs: 0 },
);
