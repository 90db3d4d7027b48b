// Config validation, token → .dockerconfigjson, key file parsing and error descriptions, without a server.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { PluginConfigError, SourceFetchError } from "@imagepullsecret-patcher/core";
import { gaxios } from "google-auth-library";
import {
  ApplicationDefaultTokens,
  DEFAULT_REFRESH_INTERVAL_SECONDS,
  ImpersonatedTokens,
  KeyFileTokens,
  describeAuthError,
  gcpDockerConfigJson,
  parseServiceAccountKey,
  tokenProviderFor,
  tokenValue,
  steadyExpiry,
  validateGcpSourceConfig,
} from "./index.js";

const TOKEN = "ya29.c.Kp8BAAbc-Secret_0123456789XYZ";

function configError(config: unknown): PluginConfigError {
  try {
    validateGcpSourceConfig(config);
  } catch (err) {
    if (err instanceof PluginConfigError) return err;
    throw err;
  }
  throw new Error("expected a PluginConfigError");
}

describe("validateGcpSourceConfig", () => {
  it("fills in defaults and keeps the hosts in order", () => {
    expect(validateGcpSourceConfig({ registries: ["gcr.io", "europe-docker.pkg.dev"] })).toEqual({
      registries: ["gcr.io", "europe-docker.pkg.dev"],
      refreshIntervalSeconds: DEFAULT_REFRESH_INTERVAL_SECONDS,
    });
    expect(validateGcpSourceConfig({ registries: [" eu.gcr.io "], keyFile: "/k.json" })).toEqual({
      registries: ["eu.gcr.io"],
      keyFile: "/k.json",
      refreshIntervalSeconds: 3600,
    });
  });

  it("accepts Artifact Registry and Container Registry hosts only, naming the entry", () => {
    for (const host of ["europe-docker.pkg.dev", "us-central1-docker.pkg.dev", "gcr.io", "us.gcr.io", "asia.gcr.io"]) {
      expect(validateGcpSourceConfig({ registries: [host] }).registries).toEqual([host]);
    }
    for (const host of ["docker.io", "ghcr.io", "pkg.dev", "europe-npm.pkg.dev", "gcr.io.evil.example", "EU.GCR.IO"]) {
      expect(configError({ registries: ["gcr.io", host] })).toMatchObject({ path: "registries[1]" });
    }
    expect(configError({ registries: ["https://europe-docker.pkg.dev/p/r"] }).message).toBe(
      'registries[0]: must be a host without scheme or path (a Google registry host such as europe-docker.pkg.dev, gcr.io or eu.gcr.io), got "https://europe-docker.pkg.dev/p/r"',
    );
  });
});

describe("the credential", () => {
  it("is oauth2accesstoken with the token, for every host, in a stable byte form", () => {
    const auth = Buffer.from(`oauth2accesstoken:${TOKEN}`).toString("base64");
    expect(gcpDockerConfigJson(["gcr.io", "europe-docker.pkg.dev"], TOKEN)).toBe(
      `{"auths":{"gcr.io":{"username":"oauth2accesstoken","password":"${TOKEN}","auth":"${auth}"},` +
        `"europe-docker.pkg.dev":{"username":"oauth2accesstoken","password":"${TOKEN}","auth":"${auth}"}}}`,
    );
  });

  it("expires when the token does, measured on the source's clock", () => {
    const value = tokenValue(["gcr.io"], { token: TOKEN, expiryDate: 1_000_000 + 3_599_000 }, 5_000, 1_000_000);
    expect(value.expiresAt?.getTime()).toBe(5_000 + 3_599_000);
    expect(tokenValue(["gcr.io"], { token: TOKEN, expiryDate: null }, 0).expiresAt).toBeUndefined();
  });

  it("keeps the first expiry of a token answered again, a few milliseconds apart, so an identical refresh changes nothing", () => {
    const first = tokenValue(["gcr.io"], { token: TOKEN, expiryDate: 1_000_000 + 3_599_000 }, 5_000, 1_000_000);
    const last = { token: TOKEN, expiresAt: first.expiresAt };
    // The same answer, measured one millisecond later: the computed expiry moved by one.
    const again = tokenValue(["gcr.io"], { token: TOKEN, expiryDate: 1_000_000 + 3_599_000 }, 5_000, 1_000_001);
    expect(again.expiresAt?.getTime()).toBe(first.expiresAt!.getTime() - 1);
    expect(steadyExpiry(again, TOKEN, last).expiresAt).toEqual(first.expiresAt);
    // A new token, or the same one with an expiry moved for real, is taken as it is.
    expect(steadyExpiry(again, "another-token", last).expiresAt).toEqual(again.expiresAt);
    const later = { ...again, expiresAt: new Date(again.expiresAt!.getTime() + 60_000) };
    expect(steadyExpiry(later, TOKEN, last).expiresAt).toEqual(later.expiresAt);
    expect(steadyExpiry(again, TOKEN, undefined)).toBe(again);
  });

  it("refuses a missing or malformed token without quoting it", () => {
    for (const token of [undefined, null, "", "has space", "tab\tin", "new\nline"]) {
      expect(() => tokenValue(["gcr.io"], { token, expiryDate: 1 }, 0)).toThrow(SourceFetchError);
    }
  });
});

describe("key files", () => {
  const key = {
    type: "service_account",
    client_email: "sa@p.iam.gserviceaccount.com",
    private_key: generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    }),
    private_key_id: "abc",
  };

  it("takes token_uri when it is https or on this machine, Google's otherwise", () => {
    expect(parseServiceAccountKey(JSON.stringify(key), "/k").tokenUri).toBe("https://oauth2.googleapis.com/token");
    const local = { ...key, token_uri: "http://127.0.0.1:8080/token" };
    expect(parseServiceAccountKey(JSON.stringify(local), "/k").tokenUri).toBe("http://127.0.0.1:8080/token");
    expect(() => parseServiceAccountKey(JSON.stringify({ ...key, token_uri: "http://10.0.0.1/token" }), "/k")).toThrow(
      "keyFile /k: token_uri must be an https URL",
    );
  });

  it("never puts the key in an error", () => {
    const type = { ...key, type: "Secret-Value-1234" };
    const err = (() => {
      try {
        parseServiceAccountKey(JSON.stringify(type), "/k");
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toBe("keyFile /k is not a service account key");
    expect(() => parseServiceAccountKey('{"private_key": "-----BEGIN', "/k")).toThrow("keyFile /k is not JSON");
    const broken = {
      ...key,
      private_key: "-----BEGIN PRIVATE KEY-----\nMIIBroken0123456789abcdefABCDEF\n-----END PRIVATE KEY-----\n",
    };
    expect(() => parseServiceAccountKey(JSON.stringify(broken), "/k")).toThrow(
      /^keyFile \/k: private_key does not parse$/,
    );
  });

  it("keyFile wins; without it, Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS or the metadata server)", () => {
    const withKey = tokenProviderFor(validateGcpSourceConfig({ registries: ["gcr.io"], keyFile: "/k.json" }), {
      GOOGLE_APPLICATION_CREDENTIALS: "/other.json",
    });
    expect(withKey).toBeInstanceOf(KeyFileTokens);
    expect(withKey.label).toBe("key file /k.json");
    const env = tokenProviderFor(validateGcpSourceConfig({ registries: ["gcr.io"] }), {
      GOOGLE_APPLICATION_CREDENTIALS: "/adc.json",
    });
    expect(env).toBeInstanceOf(ApplicationDefaultTokens);
    expect(env.label).toBe("GOOGLE_APPLICATION_CREDENTIALS /adc.json");
    expect(tokenProviderFor(validateGcpSourceConfig({ registries: ["gcr.io"] }), {}).label).toBe("metadata server");
    const impersonating = tokenProviderFor(
      validateGcpSourceConfig({ registries: ["gcr.io"], impersonate: "puller@p.iam.gserviceaccount.com" }),
      {},
    );
    expect(impersonating).toBeInstanceOf(ImpersonatedTokens);
    expect(impersonating.label).toBe("metadata server as puller@p.iam.gserviceaccount.com");
  });
});

describe("describeAuthError", () => {
  const url = "https://oauth2.googleapis.com/token?x=1";
  const httpError = (status: number, data: unknown): gaxios.GaxiosError => {
    const config = { url: new URL(url), headers: new Headers() } as unknown as ConstructorParameters<
      typeof gaxios.GaxiosError
    >[1];
    const response = {
      status,
      data,
      config,
      headers: new Headers(),
      bodyUsed: true,
    } as unknown as ConstructorParameters<typeof gaxios.GaxiosError>[2];
    return new gaxios.GaxiosError(`invalid_grant: ${TOKEN} was rejected`, config, response);
  };

  it("keeps the endpoint, status and OAuth error code, never the body or the message built from it", () => {
    const err = describeAuthError(httpError(400, { error: "invalid_grant", error_description: `bad ${TOKEN}` }));
    expect(err.message).toBe("https://oauth2.googleapis.com/token: HTTP 400 (invalid_grant)");
    expect(err.transient).toBe(false);
    expect(describeAuthError(httpError(503, `<html>${TOKEN}</html>`))).toMatchObject({
      message: "https://oauth2.googleapis.com/token: HTTP 503",
      transient: true,
    });
    expect(describeAuthError(httpError(400, { error: "Bad Thing {}" })).message).not.toContain("Bad");
  });

  it("keeps a Google API error's canonical status", () => {
    const err = httpError(403, { error: { code: 403, message: `denied for ${TOKEN}`, status: "PERMISSION_DENIED" } });
    expect(describeAuthError(err).message).toBe("https://oauth2.googleapis.com/token: HTTP 403 (PERMISSION_DENIED)");
  });

  it("names the metadata server by host and path", () => {
    const config = {
      url: "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token?scopes=x",
    };
    const err = Object.assign(new Error("connect ECONNREFUSED"), { config, code: "ECONNREFUSED" });
    expect(describeAuthError(err).message).toBe(
      "metadata server 169.254.169.254 instance/service-accounts/default/token: request failed (ECONNREFUSED)",
    );
  });

  it("masks anything token-like in other messages", () => {
    expect(describeAuthError(new Error(`unexpected ${TOKEN} here`)).message).toBe("Error: unexpected [redacted] here");
    expect(describeAuthError(new RangeError("incorrect Metadata-Flavor header")).message).toMatch(
      /^the metadata server at \S+ answered without Metadata-Flavor: Google$/,
    );
    expect(describeAuthError("text").message).toBe("failed with a non-error value (string)");
  });
});
