import { describe, expect, it } from "vitest";
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import {
  ACR_REFRESH_TOKEN_USERNAME,
  acrDockerConfigJson,
  earliestExpiry,
  exchangeForm,
  exchangeRefreshToken,
  exchangeUrl,
  jwtExpiry,
  jwtTenant,
  parseExchangeResponse,
  DEFAULT_REFRESH_TOKEN_LIFETIME_MS,
} from "./index.js";
import { fakeJwt } from "./test-support/https-stand-in.js";

const URL_ = "https://myregistry.azurecr.io/oauth2/exchange";
const ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJ0aWQiOiJ0In0.access-Token-Signature-123";
const jwt = (claims: Record<string, unknown>): string => fakeJwt(claims, "sig-", "0123456789abcdef");

describe("the exchange request", () => {
  it("posts the documented form to https://<registry>/oauth2/exchange", () => {
    expect(exchangeUrl("myregistry.azurecr.io")).toBe(URL_);
    const form = exchangeForm({ registry: "myregistry.azurecr.io", tenant: "tenant-1", accessToken: ACCESS });
    expect([...form.entries()]).toEqual([
      ["grant_type", "access_token"],
      ["service", "myregistry.azurecr.io"],
      ["tenant", "tenant-1"],
      ["access_token", ACCESS],
    ]);
    expect(exchangeForm({ registry: "r.azurecr.io", accessToken: ACCESS }).has("tenant")).toBe(false);
  });

  it("sends it with fetch, form-encoded, and returns the refresh token", async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const token = jwt({ exp: 2_000_000_000 });
    const fake = ((url: string, init: RequestInit) => {
      seen.push({ url, init });
      return Promise.resolve(new Response(JSON.stringify({ refresh_token: token }), { status: 200 }));
    }) as typeof fetch;
    const signal = new AbortController().signal;
    const result = await exchangeRefreshToken(
      { registry: "myregistry.azurecr.io", tenant: "t", accessToken: ACCESS, signal },
      fake,
    );
    expect(result).toBe(token);
    expect(seen[0]?.url).toBe(URL_);
    expect(seen[0]?.init).toMatchObject({
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      signal,
      redirect: "error",
    });
    expect((seen[0]?.init.body as URLSearchParams).toString()).toBe(
      `grant_type=access_token&service=myregistry.azurecr.io&tenant=t&access_token=${ACCESS}`,
    );
  });
});

describe("a failed exchange request", () => {
  const request = { registry: "myregistry.azurecr.io", accessToken: ACCESS, signal: new AbortController().signal };
  const failing =
    (err: Error): typeof fetch =>
    () =>
      Promise.reject(err);
  const refused = Object.assign(new TypeError("fetch failed"), {
    cause: Object.assign(new Error(`connect ECONNREFUSED 10.0.0.1:443 ${ACCESS}`), { code: "ECONNREFUSED" }),
  });

  it("names the registry's exchange URL and the system error code, nothing of the messages", async () => {
    const err = await exchangeRefreshToken(request, failing(refused)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceFetchError);
    expect((err as Error).message).toBe(`POST ${URL_}: request failed (ECONNREFUSED)`);
  });

  it("says so when the registry redirects (the token is not sent on)", async () => {
    const redirected = Object.assign(new TypeError("fetch failed"), { cause: new Error("unexpected redirect") });
    const err = await exchangeRefreshToken(request, failing(redirected)).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`POST ${URL_}: the registry answered with a redirect`);
  });

  it("lets an abort through as it is", async () => {
    const controller = new AbortController();
    const abort = new DOMException("stopped", "AbortError");
    controller.abort(abort);
    const err = await exchangeRefreshToken({ ...request, signal: controller.signal }, failing(abort)).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(abort);
  });
});

describe("parseExchangeResponse", () => {
  const parse = (status: number, body: string): string => parseExchangeResponse(status, body, URL_, [ACCESS]);
  const failure = (status: number, body: string): SourceFetchError => {
    try {
      parse(status, body);
    } catch (err) {
      expect(err).toBeInstanceOf(SourceFetchError);
      return err as SourceFetchError;
    }
    throw new Error("accepted");
  };

  it("returns refresh_token from a 200 answer", () => {
    expect(parse(200, '{"refresh_token":"eyJ.x.y"}')).toBe("eyJ.x.y");
  });

  it("names the status and the registry's error code, never the token it sent", () => {
    const denied = failure(
      401,
      JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: `bad token ${ACCESS} for eyJabcd.eyJefgh.ijkl` }] }),
    );
    expect(denied.message).toBe(`POST ${URL_}: HTTP 401 (UNAUTHORIZED: bad token [redacted] for [redacted])`);
    expect(denied.transient).toBe(false);
    const outage = failure(503, "<html>upstream</html>");
    expect(outage.message).toBe(`POST ${URL_}: HTTP 503`);
    expect(outage.transient).toBe(true);
    expect(failure(429, "").transient).toBe(true);
  });

  it("refuses answers without a usable token", () => {
    expect(failure(200, "not json").message).toBe(`POST ${URL_}: the answer is not JSON`);
    expect(failure(200, '{"access_token":"x"}').message).toBe(`POST ${URL_}: the answer has no refresh_token`);
    expect(failure(200, '{"refresh_token":""}').message).toContain("has no refresh_token");
    expect(failure(200, "null").message).toContain("has no refresh_token");
    expect(failure(200, '{"refresh_token":"a b"}').message).toContain("refresh_token holds whitespace");
  });
});

describe("JWT claims", () => {
  it("reads exp as a date and tid as the tenant, without verifying", () => {
    expect(jwtExpiry(jwt({ exp: 1_800_000_000 }))?.toISOString()).toBe("2027-01-15T08:00:00.000Z");
    expect(jwtTenant(jwt({ tid: "5f1c2a9e-0b7d-4c3e-9a8f-2d6b1e4c7a90" }))).toBe(
      "5f1c2a9e-0b7d-4c3e-9a8f-2d6b1e4c7a90",
    );
  });

  it("gives undefined for anything that is not a JWT with a sane claim", () => {
    for (const token of [
      "opaque-token",
      "a.b",
      "a.b.c.d",
      "x.!!!.y",
      `x.${Buffer.from("[1]").toString("base64url")}.y`,
    ]) {
      expect(jwtExpiry(token)).toBeUndefined();
    }
    expect(jwtExpiry(jwt({ exp: "soon" }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: -5 }))).toBeUndefined();
    expect(jwtExpiry(jwt({ exp: 1e300 }))).toBeUndefined();
    expect(jwtTenant(jwt({ tid: "a/b" }))).toBeUndefined();
    expect(jwtTenant(jwt({}))).toBeUndefined();
  });

  it("takes the earliest exp of several registries, and the default lifetime for a token without one", () => {
    const now = Date.UTC(2027, 0, 1);
    const soon = jwt({ exp: now / 1000 + 600 });
    const later = jwt({ exp: now / 1000 + 7200 });
    expect(earliestExpiry([{ refreshToken: later }, { refreshToken: soon }], now).getTime()).toBe(now + 600_000);
    expect(earliestExpiry([{ refreshToken: "opaque" }], now).getTime()).toBe(now + DEFAULT_REFRESH_TOKEN_LIFETIME_MS);
    // The default stands in for a missing exp only; it never shortens a token that has one.
    const longer = jwt({ exp: now / 1000 + 4 * 3600 });
    expect(earliestExpiry([{ refreshToken: longer }], now).getTime()).toBe(now + 4 * 3600_000);
    expect(DEFAULT_REFRESH_TOKEN_LIFETIME_MS).toBe(3 * 3600_000);
  });
});

describe("acrDockerConfigJson", () => {
  it("logs in as the null GUID with the refresh token as password, per registry", () => {
    const bytes = acrDockerConfigJson([
      { registry: "a.azurecr.io", refreshToken: "token-a" },
      { registry: "b.azurecr.io", refreshToken: "token-b" },
    ]);
    const auth = (t: string): string => Buffer.from(`${ACR_REFRESH_TOKEN_USERNAME}:${t}`).toString("base64");
    expect(JSON.parse(bytes)).toEqual({
      auths: {
        "a.azurecr.io": {
          username: "00000000-0000-0000-0000-000000000000",
          password: "token-a",
          auth: auth("token-a"),
        },
        "b.azurecr.io": {
          username: "00000000-0000-0000-0000-000000000000",
          password: "token-b",
          auth: auth("token-b"),
        },
      },
    });
  });
});
