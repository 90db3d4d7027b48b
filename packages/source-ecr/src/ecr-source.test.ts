import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "@imagepullsecret-patcher/core";
import { ManualClock, describeSourceProviderContract, type SourceHarness } from "@imagepullsecret-patcher/core/testing";
import plugin, { EcrSource, ecrDockerConfigJson, ecrSourceFactory, validateEcrSourceConfig } from "./index.js";
import {
  FAKE_CREDENTIALS,
  FAKE_HOST,
  FAKE_REGION,
  FakeEcr,
  authorizationData,
  type RecordedCall,
} from "./test-support/fake-ecr.js";

const PASSWORD = "eyJwYXlsb2FkIjoiZmFrZS1lY3ItcGFzc3dvcmQtMDEyMyJ9";
const TOKEN = Buffer.from(`AWS:${PASSWORD}`).toString("base64");
const HOUR = 3_600_000;

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}
function captureLogger(lines: LogLine[]): Logger {
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (fields, message) => lines.push({ level: "debug", fields: { ...base, ...fields }, message }),
    info: (fields, message) => lines.push({ level: "info", fields: { ...base, ...fields }, message }),
    warn: (fields, message) => lines.push({ level: "warn", fields: { ...base, ...fields }, message }),
    error: (fields, message) => lines.push({ level: "error", fields: { ...base, ...fields }, message }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make({});
}

/** The region a call was signed for, from its SigV4 credential scope. */
function signedRegion(call: RecordedCall): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/ecr\/aws4_request/.exec(call.authorization ?? "")?.[1];
}

let fake: FakeEcr;
const lines: LogLine[] = [];
const running: AbortController[] = [];

function source(config: Record<string, unknown> = {}, clock = new ManualClock()): EcrSource {
  const validated = validateEcrSourceConfig({ registries: [{ region: FAKE_REGION }], ...config });
  return new EcrSource(validated, {
    logger: captureLogger(lines),
    clock,
    random: () => 0,
    clientConfig: { endpoint: fake.endpoint, credentials: FAKE_CREDENTIALS, maxAttempts: 1 },
  });
}

async function started(s: EcrSource): Promise<EcrSource> {
  const controller = new AbortController();
  running.push(controller);
  await s.start(controller.signal);
  return s;
}

beforeAll(async () => {
  fake = await FakeEcr.start();
});
afterEach(() => {
  for (const c of running.splice(0)) c.abort();
});
afterAll(async () => {
  await fake.close();
  // Nothing logged may hold a password, a token or the AWS secret key.
  const logged = JSON.stringify(lines);
  for (const secret of [PASSWORD, TOKEN, FAKE_CREDENTIALS.secretAccessKey]) expect(logged).not.toContain(secret);
});

describe("EcrSource against a local ECR API", () => {
  it("turns the token into a .dockerconfigjson for the proxyEndpoint's host, with its expiry", async () => {
    const clock = new ManualClock();
    const expiresAt = new Date(clock.now() + 12 * HOUR);
    fake.serveToken(PASSWORD, { expiresAt });
    const before = fake.calls.length;
    const s = await started(source({}, clock));
    const calls = fake.calls.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.target).toBe("AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken");
    expect(JSON.parse(calls[0]?.body ?? "")).toEqual({}); // no deprecated registryIds
    expect(signedRegion(calls[0] as RecordedCall)).toBe(FAKE_REGION);
    expect(JSON.parse(s.current()?.credential.bytes.toString() ?? "")).toEqual({
      auths: { [FAKE_HOST]: { username: "AWS", password: PASSWORD, auth: TOKEN } },
    });
    expect(s.current()?.expiresAt).toEqual(expiresAt);
    expect(s.status()).toMatchObject({ state: "ready", expiresAt });
    expect(s.description).toBe("ecr own account/eu-west-1");
    // A 12 h token is refreshed after refreshInterval (6 h), well before it expires.
    expect(clock.pendingDelays()).toEqual([6 * HOUR]);
  });

  it("takes up to 10 % off refreshInterval at random, so sources started together spread out", async () => {
    const delays: number[] = [];
    for (const r of [0.5, 0.99]) {
      const clock = new ManualClock();
      fake.serveToken(PASSWORD, { expiresAt: new Date(clock.now() + 12 * HOUR) });
      const validated = validateEcrSourceConfig({ registries: [{ region: FAKE_REGION }] });
      const s = new EcrSource(validated, {
        clock,
        random: () => r,
        clientConfig: { endpoint: fake.endpoint, credentials: FAKE_CREDENTIALS, maxAttempts: 1 },
      });
      await started(s);
      delays.push(...clock.pendingDelays());
    }
    expect(delays).toEqual([Math.round(6 * HOUR * 0.95), Math.round(6 * HOUR * 0.901)]);
  });

  it("makes one call per region and an entry per registry; expiresAt is the earliest", async () => {
    const clock = new ManualClock();
    fake.answer((call) => {
      const region = signedRegion(call) ?? "none";
      const hours = region === "us-east-1" ? 11 : 12;
      const token = Buffer.from(`AWS:${PASSWORD}-${region}`).toString("base64");
      const host = `123456789012.dkr.ecr.${region}.amazonaws.com`;
      return { status: 200, body: authorizationData(token, host, new Date(clock.now() + hours * HOUR)) };
    });
    const before = fake.calls.length;
    const s = await started(
      source(
        {
          registries: [
            { region: "eu-west-1" },
            { region: "eu-west-1", registryId: "210987654321" },
            { region: "eu-west-1", registryId: "123456789012" }, // the own one again, by ID
            { region: "us-east-1", registryId: "210987654321" },
          ],
        },
        clock,
      ),
    );
    expect(fake.calls.slice(before).map(signedRegion).sort()).toEqual(["eu-west-1", "us-east-1"]);
    const auths = (JSON.parse(s.current()?.credential.bytes.toString() ?? "") as { auths: Record<string, unknown> })
      .auths;
    expect(Object.keys(auths)).toEqual([
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
      "210987654321.dkr.ecr.us-east-1.amazonaws.com",
    ]);
    expect(auths["210987654321.dkr.ecr.us-east-1.amazonaws.com"]).toMatchObject({ password: `${PASSWORD}-us-east-1` });
    expect(s.current()?.expiresAt?.getTime()).toBe(clock.now() + 11 * HOUR);
  });

  it("serves a token whose expiry is already past, without it, refreshing every refreshInterval", async () => {
    const clock = new ManualClock();
    fake.serveToken(PASSWORD, { expiresAt: new Date(Date.UTC(2015, 0, 1)) }); // what moto answers
    const s = await started(source({ refreshInterval: "10m" }, clock));
    expect(s.status()).toMatchObject({ state: "ready", expiresAt: undefined });
    expect(s.current()?.expiresAt).toBeUndefined();
    expect(clock.pendingDelays()).toEqual([600_000]);
    await clock.advanceToNext();
    expect(s.attempts).toBe(2);
    const warnings = lines.filter((l) => l.message.startsWith("ECR reported an expiry in the past"));
    expect(warnings.map((l) => l.level)).toEqual(["warn", "debug"]);
    expect(warnings[0]?.fields).toMatchObject({
      source: "ecr own account/eu-west-1",
      expiresAt: "2015-01-01T00:00:00.000Z",
    });
  });

  it("never refreshes sooner than minRefreshInterval, even for a token about to expire", async () => {
    const clock = new ManualClock();
    fake.serveToken(PASSWORD, { expiresAt: new Date(clock.now() + 5_000) });
    await started(source({ minRefreshInterval: "2m" }, clock));
    expect(clock.pendingDelays()).toEqual([120_000]);
  });

  it("keeps the last good value when ECR fails, says why without secrets, and recovers", async () => {
    const clock = new ManualClock();
    fake.serveToken(PASSWORD);
    const s = await started(source({}, clock));
    const good = s.current()?.credential.hash;
    fake.answer({
      status: 400,
      body: {
        __type: "AccessDeniedException",
        message:
          "User: arn:aws:sts::123456789012:assumed-role/patcher/x is not authorized to perform: ecr:GetAuthorizationToken",
      },
    });
    await s.refreshNow();
    expect(s.current()?.credential.hash).toBe(good);
    expect(s.status().state).toBe("degraded");
    expect(s.status().error).toBe(
      "ecr own account/eu-west-1: GetAuthorizationToken in eu-west-1: AccessDeniedException (HTTP 400): User: arn:aws:sts::123456789012:assumed-role/patcher/x is not authorized to perform: ecr:GetAuthorizationToken",
    );
    fake.answer({ status: 500, body: { __type: "ServerException", message: `oops ${TOKEN}` } });
    await s.refreshNow();
    expect(s.status().error).toMatch(/ServerException \(HTTP 500\): oops \[redacted\]$/);
    fake.serveToken(PASSWORD);
    await s.refreshNow();
    expect(s.status()).toMatchObject({ state: "ready", error: undefined });
  });

  it("refuses a token that is not AWS:<password> without quoting it", async () => {
    fake.answer({ status: 200, body: authorizationData(Buffer.from(PASSWORD).toString("base64"), FAKE_HOST) });
    const s = await started(source());
    expect(s.status()).toMatchObject({
      state: "pending",
      error:
        "ecr own account/eu-west-1: GetAuthorizationToken in eu-west-1: the authorizationToken does not decode to user:password",
    });
  });

  it("gives up on a call that hangs after attemptTimeoutMs", async () => {
    fake.answer("hang");
    const validated = validateEcrSourceConfig({ registries: [{ region: FAKE_REGION }] });
    const s = new EcrSource(validated, {
      attemptTimeoutMs: 300,
      clientConfig: { endpoint: fake.endpoint, credentials: FAKE_CREDENTIALS, maxAttempts: 1 },
    });
    await started(s);
    expect(s.status()).toMatchObject({ state: "pending", error: "ecr own account/eu-west-1: no answer within 0 s" });
  });

  it("is the default export's only source, created by the factory", () => {
    expect(plugin.sources).toEqual([ecrSourceFactory]);
    const created = ecrSourceFactory.create(ecrSourceFactory.validate({ registries: [{ region: "eu-west-1" }] }), {
      logger: captureLogger(lines),
      mappingName: "m",
    });
    expect(created).toBeInstanceOf(EcrSource);
    expect(created.description).toBe("ecr own account/eu-west-1");
  });
});

/** The contract kit, with the local ECR API as the backend: `serve(secret)` makes ECR issue `AWS:<secret>`. */
function harness(): SourceHarness {
  const clock = new ManualClock();
  const s = source({}, clock);
  const before = fake.calls.length;
  fake.answer({ status: 500, body: { __type: "ServerException", message: "nothing served yet" } });
  return {
    source: s,
    serve: (secret, options) => fake.serveToken(secret, { expiresAt: options?.expiresAt }),
    fail: () => fake.answer({ status: 503, body: { __type: "ServerException", message: "unavailable" } }),
    serveInvalid: () =>
      fake.answer({ status: 200, body: { authorizationData: [{ proxyEndpoint: `https://${FAKE_HOST}` }] } }),
    refresh: () => s.refreshNow(),
    elapse: async () => void (await clock.advance(24 * HOUR)),
    credentialFor: (secret) => ecrDockerConfigJson([{ host: FAKE_HOST, username: "AWS", password: secret }]),
    now: () => clock.now(),
    pendingTimers: () => clock.pendingDelays().length,
    backendReads: () => fake.calls.length - before,
  };
}

describeSourceProviderContract("EcrSource (local ECR API)", harness, { expiry: true, expiryToleranceMs: 0 });
