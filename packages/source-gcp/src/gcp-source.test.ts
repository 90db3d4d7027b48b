// GcpSource against the metadata server and token endpoint stand-ins: real HTTP, the real
// google-auth-library, a manual clock for scheduling.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildMappings, builtinRegistries, type Logger } from "@imagepullsecret-patcher/core";
import { ManualClock } from "@imagepullsecret-patcher/core/testing";
import { gcpMetadata } from "google-auth-library";
import plugin, { GcpSource, gcpDockerConfigJson, gcpSourceFactory, validateGcpSourceConfig } from "./index.js";
import { MetadataServer } from "./test-support/metadata-server.js";
import { TokenEndpoint, type ServiceAccountKey } from "./test-support/token-endpoint.js";

const REGISTRIES = ["europe-docker.pkg.dev", "gcr.io"];
const SCOPE = "https://www.googleapis.com/auth/cloud-platform";

const logged: unknown[] = [];
const logger: Logger = {
  debug: (fields, message) => logged.push([message, fields]),
  info: (fields, message) => logged.push([message, fields]),
  warn: (fields, message) => logged.push([message, fields]),
  error: (fields, message) => logged.push([message, fields]),
  child: () => logger,
};

const running: AbortController[] = [];
async function started(source: GcpSource): Promise<GcpSource> {
  const controller = new AbortController();
  running.push(controller);
  await source.start(controller.signal);
  return source;
}
const text = (source: GcpSource): string => source.current()?.credential.bytes.toString() ?? "";

afterEach(() => {
  for (const controller of running.splice(0)) controller.abort();
});

describe("GcpSource with the metadata server (Workload Identity, GCE)", () => {
  let metadata: MetadataServer;
  const config = validateGcpSourceConfig({ registries: REGISTRIES });
  const source = (clock = new ManualClock()): GcpSource =>
    new GcpSource(config, { clock, random: () => 0, logger, env: {}, initialBackoffMs: 1_000 });

  beforeAll(async () => {
    metadata = await MetadataServer.start();
    process.env.GCE_METADATA_HOST = metadata.host;
    // Skips the project-id lookup, which would run `gcloud` where it is installed.
    process.env.GOOGLE_CLOUD_PROJECT = "standin-project";
    delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
  });
  beforeEach(() => {
    metadata.failWith = undefined;
    metadata.fixedToken = undefined;
    metadata.expiresIn = 3599;
  });
  afterAll(() => metadata.close());

  it("writes the token as oauth2accesstoken for every registry host, expiring with the token", async () => {
    const clock = new ManualClock();
    const s = await started(source(clock));
    const token = metadata.issued.at(-1) ?? "";
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
    expect(text(s)).toBe(gcpDockerConfigJson(REGISTRIES, token));
    const auth = Buffer.from(`oauth2accesstoken:${token}`).toString("base64");
    expect(JSON.parse(text(s))).toEqual({
      auths: {
        "europe-docker.pkg.dev": { username: "oauth2accesstoken", password: token, auth },
        "gcr.io": { username: "oauth2accesstoken", password: token, auth },
      },
    });
    expect(s.current()?.credential.registries).toEqual(REGISTRIES);
    expect(Math.abs((s.current()?.expiresAt?.getTime() ?? 0) - (clock.now() + 3_599_000))).toBeLessThan(1_000);
    expect(s.description).toBe("gcp europe-docker.pkg.dev,gcr.io via metadata server");
    // Asked with the documented header and the cloud-platform scope.
    const [request] = metadata.tokenRequests().slice(-1);
    expect(request).toMatchObject({ flavor: "Google", query: { scopes: SCOPE } });
    expect(metadata.requests.every((r) => r.flavor === "Google")).toBe(true);
  });

  it("gets a new token at every attempt, not google-auth-library's cached one", async () => {
    const clock = new ManualClock();
    const s = await started(source(clock));
    // 80 % of the hour-long token's remaining lifetime: with the default refreshIntervalSeconds, its expiry decides.
    // (Google's expires_in counts from its answer; the milliseconds until it is read here come off.)
    const [delay] = clock.pendingDelays();
    expect(delay).toBeGreaterThan(2_875_000);
    expect(delay).toBeLessThanOrEqual(2_879_200);
    const before = metadata.issued.length;
    await s.refreshNow();
    await s.refreshNow();
    expect(metadata.issued.length).toBe(before + 2);
    expect(text(s)).toContain(metadata.issued.at(-1));
  });

  it("takes up to 10 % off refreshIntervalSeconds at random, so sources started together spread out", async () => {
    const delays: number[] = [];
    for (const r of [0.5, 0.99]) {
      const clock = new ManualClock();
      const every10m = validateGcpSourceConfig({ registries: REGISTRIES, refreshIntervalSeconds: 600 });
      await started(new GcpSource(every10m, { clock, random: () => r, logger, env: {} }));
      delays.push(...clock.pendingDelays());
    }
    expect(delays).toEqual([570_000, 540_600]);
  });

  it("refreshes a token shorter-lived than the library's 5 minute threshold early, each time with a new one", async () => {
    metadata.expiresIn = 120;
    const clock = new ManualClock();
    const s = await started(source(clock));
    // 80 % of 120 s is 96 s, but at the latest 30 s before expiry (less the milliseconds until the answer is read).
    const [delay = 0] = clock.pendingDelays();
    expect(delay).toBeGreaterThan(89_000);
    expect(delay).toBeLessThanOrEqual(90_000);
    const first = text(s);
    await clock.advance(delay);
    await expect.poll(() => text(s), { timeout: 10_000 }).not.toBe(first);
    expect(text(s)).toContain(metadata.issued.at(-1));
  });

  it("keeps the last good credential while the metadata server fails or is down, then recovers", async () => {
    const clock = new ManualClock();
    const s = await started(source(clock));
    const good = s.current();
    metadata.failWith = 500;
    await s.refreshNow();
    expect(s.current()).toBe(good);
    expect(s.status()).toMatchObject({
      state: "degraded",
      error: `${s.description}: metadata server ${metadata.host} instance/service-accounts/default/token: HTTP 500`,
    });
    await metadata.stop();
    await s.refreshNow();
    expect(s.status().error).toBe(
      `${s.description}: metadata server ${metadata.host} instance/service-accounts/default/token: request failed (ECONNREFUSED)`,
    );
    expect(s.current()).toBe(good);
    await metadata.resume();
    metadata.failWith = undefined;
    await s.refreshNow();
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
    expect(text(s)).toContain(metadata.issued.at(-1));
  });

  it("refuses an unusable token and keeps what it had", async () => {
    const s = await started(source());
    const good = s.current();
    metadata.fixedToken = "not a token";
    await s.refreshNow();
    expect(s.current()).toBe(good);
    expect(s.status().error).toContain("the access token is empty or holds spaces or control characters");
    expect(s.status().error).not.toContain("not a token");
  });

  it("names the missing metadata server, and finds it once it answers", async () => {
    const absent = await MetadataServer.start();
    await absent.stop();
    process.env.GCE_METADATA_HOST = absent.host;
    gcpMetadata.resetIsAvailableCache(); // as in a new process: nothing probed yet
    try {
      const s = await started(source());
      expect(s.status().state).toBe("pending");
      expect(s.status().error).toMatch(/no Google credentials: .*no metadata server answered at 127\.0\.0\.1:\d+$/);
      await absent.resume();
      await s.refreshNow();
      expect(s.status().state).toBe("ready");
      expect(text(s)).toContain(absent.issued.at(-1));
    } finally {
      process.env.GCE_METADATA_HOST = metadata.host;
      await absent.close();
    }
  });

  it("is what the package's default export registers as type gcp", () => {
    expect(plugin.sources).toEqual([gcpSourceFactory]);
    const registries = builtinRegistries();
    for (const factory of plugin.sources ?? []) registries.sources.register(factory);
    const [mapping] = buildMappings(
      [{ name: "gar", source: { gcp: { registries: ["us-docker.pkg.dev"] } }, targets: { all: {} } }],
      { registries, defaultSecretName: "pull" },
    );
    expect(mapping?.source).toBeInstanceOf(GcpSource);
    expect(() =>
      buildMappings([{ name: "gar", source: { gcp: { registries: ["docker.io"] } }, targets: { all: {} } }], {
        registries,
        defaultSecretName: "pull",
      }),
    ).toThrow("mappings[0].source.gcp.registries[0]: must be a Google registry host");
  });
});

describe("GcpSource with a service account key file", () => {
  let endpoint: TokenEndpoint;
  let dir: string;
  let key: ServiceAccountKey;
  let keyFile: string;

  beforeAll(async () => {
    endpoint = await TokenEndpoint.start();
    dir = await mkdtemp(join(tmpdir(), "source-gcp-"));
    key = endpoint.createKey();
    keyFile = join(dir, "key.json");
    await writeFile(keyFile, JSON.stringify(key));
  });
  beforeEach(() => {
    endpoint.failWith = undefined;
    endpoint.expiresIn = 3599;
  });
  afterAll(async () => {
    await endpoint.close();
    await rm(dir, { recursive: true, force: true });
  });

  const source = (file = keyFile, clock = new ManualClock()): GcpSource =>
    new GcpSource(validateGcpSourceConfig({ registries: REGISTRIES, keyFile: file }), { clock, logger, env: {} });

  it("signs an assertion the token endpoint verifies, and writes the token for every host", async () => {
    const clock = new ManualClock();
    const s = await started(source(keyFile, clock));
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
    expect(s.description).toBe(`gcp europe-docker.pkg.dev,gcr.io via key file ${keyFile}`);
    expect(text(s)).toBe(gcpDockerConfigJson(REGISTRIES, endpoint.issued.at(-1) ?? ""));
    expect(endpoint.grants.at(-1)).toMatchObject({
      ok: true,
      claims: { iss: key.client_email, scope: SCOPE, aud: "https://oauth2.googleapis.com/token" },
    });
    expect(Math.abs((s.current()?.expiresAt?.getTime() ?? 0) - (clock.now() + 3_599_000))).toBeLessThan(1_000);
    await s.refreshNow();
    expect(endpoint.grants.filter((g) => g.ok).length).toBeGreaterThanOrEqual(2);
    expect(text(s)).toContain(endpoint.issued.at(-1));
  });

  it("reads the key file again at every attempt: a rotated key is used, a revoked one degrades", async () => {
    const file = join(dir, "rotating.json");
    const old = endpoint.createKey("rotating@standin-project.iam.gserviceaccount.com");
    await writeFile(file, JSON.stringify(old));
    const s = await started(source(file));
    endpoint.revokeKey(old);
    await s.refreshNow();
    expect(s.status()).toMatchObject({ state: "degraded" });
    expect(s.status().error).toBe(`${s.description}: ${endpoint.url}: HTTP 400 (invalid_grant)`);
    await writeFile(file, JSON.stringify(endpoint.createKey("rotating@standin-project.iam.gserviceaccount.com")));
    await s.refreshNow();
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
  });

  it("keeps the last good credential while the token endpoint fails", async () => {
    const s = await started(source());
    const good = s.current();
    endpoint.failWith = 503;
    await s.refreshNow();
    expect(s.current()).toBe(good);
    expect(s.status().error).toBe(`${s.description}: ${endpoint.url}: HTTP 503 (temporarily_unavailable)`);
  });

  it("names what is wrong with a key file without showing its content", async () => {
    const cases: [string, string][] = [
      ["{not json", "is not JSON"],
      [JSON.stringify({ ...key, type: "authorized_user" }), 'is not a service account key (type "authorized_user")'],
      [JSON.stringify({ ...key, private_key: "" }), "has no PEM private_key"],
      [JSON.stringify({ ...key, client_email: undefined }), "has no client_email"],
      [JSON.stringify({ ...key, token_uri: "http://tokens.example/token" }), "token_uri must be an https URL"],
    ];
    for (const [content, problem] of cases) {
      const file = join(dir, "bad.json");
      await writeFile(file, content);
      const s = await started(source(file));
      expect(s.status().error).toContain(`${s.description}: keyFile ${file}`);
      expect(s.status().error).toContain(problem);
      expect(s.status().error).not.toContain("BEGIN");
    }
    const missing = await started(source(join(dir, "missing.json")));
    expect(missing.status().error).toContain(`cannot read keyFile ${join(dir, "missing.json")} (ENOENT)`);
  });
});

describe("GcpSource impersonating a service account", () => {
  const target = "team-a-puller@standin-project.iam.gserviceaccount.com";
  let endpoint: TokenEndpoint;
  let metadata: MetadataServer;
  let dir: string;
  let keyFile: string;

  beforeAll(async () => {
    endpoint = await TokenEndpoint.start();
    metadata = await MetadataServer.start();
    process.env.GCE_METADATA_HOST = metadata.host;
    dir = await mkdtemp(join(tmpdir(), "source-gcp-impersonate-"));
    keyFile = join(dir, "key.json");
    await writeFile(keyFile, JSON.stringify(endpoint.createKey()));
  });
  afterAll(async () => {
    await endpoint.close();
    await metadata.close();
    await rm(dir, { recursive: true, force: true });
  });

  const source = (extra: Record<string, unknown>): GcpSource =>
    new GcpSource(validateGcpSourceConfig({ registries: REGISTRIES, impersonate: target, ...extra }), {
      clock: new ManualClock(),
      logger,
      env: {},
      iamCredentialsEndpoint: endpoint.origin,
    });

  it("writes the impersonated account's token, asked for with the key's own token", async () => {
    endpoint.grantTokenCreator(target);
    const s = await started(source({ keyFile }));
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
    expect(s.description).toBe(`gcp europe-docker.pkg.dev,gcr.io via key file ${keyFile} as ${target}`);
    expect(endpoint.impersonations.at(-1)).toEqual({ target, ok: true });
    // The last token issued is the impersonated one; the one before it was the key's own.
    expect(text(s)).toBe(gcpDockerConfigJson(REGISTRIES, endpoint.issued.at(-1) ?? ""));
    expect(text(s)).not.toContain(endpoint.issued.at(-2));
    expect(
      Math.abs((s.current()?.expiresAt?.getTime() ?? 0) - (s.status().lastSuccessAt?.getTime() ?? 0) - 3_599_000),
    ).toBeLessThan(2_000);
  });

  it("works from the metadata server's token too", async () => {
    endpoint.trustsBearer = (token) => metadata.issued.includes(token);
    try {
      const s = await started(source({}));
      expect(s.status()).toMatchObject({ state: "ready", error: undefined });
      expect(s.description).toBe(`gcp europe-docker.pkg.dev,gcr.io via metadata server as ${target}`);
      expect(text(s)).toContain(endpoint.issued.at(-1));
    } finally {
      endpoint.trustsBearer = (token) => endpoint.issued.includes(token);
    }
  });

  it("reports a missing Token Creator grant by status, without Google's message", async () => {
    const other = "nobody@standin-project.iam.gserviceaccount.com";
    const s = await started(
      new GcpSource(validateGcpSourceConfig({ registries: REGISTRIES, impersonate: other, keyFile }), {
        clock: new ManualClock(),
        env: {},
        iamCredentialsEndpoint: endpoint.origin,
      }),
    );
    expect(s.status().state).toBe("pending");
    expect(s.status().error).toBe(
      `${s.description}: ${endpoint.origin}/v1/projects/-/serviceAccounts/nobody%40standin-project.iam.gserviceaccount.com:generateAccessToken: HTTP 403 (PERMISSION_DENIED)`,
    );
  });
});

afterAll(() => {
  // Nothing logged or reported may hold a token or key material.
  const all = JSON.stringify(logged);
  expect(all).not.toMatch(/ya29\.standin-/);
  expect(all).not.toContain("PRIVATE KEY");
});
