import { describe, expect, it } from "vitest";
import { PluginConfigError } from "../../plugins/contracts.js";
import { silentLogger } from "../../logging/logger.js";
import { validateVaultSourceConfig } from "./config.js";
import { vaultSourceFactory } from "./vault-source.js";

const base = {
  address: "https://vault.example:8200",
  path: "registry/dockerconfig",
  auth: { token: { tokenFile: "/vault/token" } },
};

function refusal(config: unknown): { path: string; problem: string } {
  try {
    validateVaultSourceConfig(config);
  } catch (err) {
    expect(err).toBeInstanceOf(PluginConfigError);
    const e = err as PluginConfigError;
    return { path: e.path, problem: e.problem };
  }
  throw new Error("expected the config to be refused");
}

describe("validateVaultSourceConfig", () => {
  it("fills in defaults", () => {
    expect(validateVaultSourceConfig(base)).toEqual({
      address: "https://vault.example:8200",
      mount: "secret",
      path: "registry/dockerconfig",
      version: 2,
      refreshIntervalSeconds: 300,
      auth: { token: { tokenFile: "/vault/token" } },
    });
  });

  it("normalises slashes and keeps the optional fields", () => {
    const config = validateVaultSourceConfig({
      address: "http://127.0.0.1:8200/",
      mount: "/kv/",
      path: "/team-a/registry/",
      version: 1,
      key: ".dockerconfigjson",
      namespace: "/admin/team-a/",
      refreshIntervalSeconds: 60,
      auth: { appRole: { roleId: "r", secretIdFile: "/s" } },
    });
    expect(config).toEqual({
      address: "http://127.0.0.1:8200",
      mount: "kv",
      path: "team-a/registry",
      version: 1,
      key: ".dockerconfigjson",
      namespace: "admin/team-a",
      refreshIntervalSeconds: 60,
      auth: { appRole: { roleId: "r", secretIdFile: "/s", mount: "approle" } },
    });
  });

  it("defaults the kubernetes auth mount and token file", () => {
    expect(validateVaultSourceConfig({ ...base, auth: { kubernetes: { role: "patcher" } } }).auth).toEqual({
      kubernetes: {
        role: "patcher",
        mount: "kubernetes",
        jwtFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      },
    });
  });

  it.each([
    ["not an object", "nope", "", /must be an object/],
    ["an unknown top-level key", { ...base, token: "x" }, "token", /unknown key/],
    ["a missing address", { path: "p", auth: base.auth }, "address", /required/],
    ["a non-URL address", { ...base, address: "vault:8200" }, "address", /http\(s\) URL/],
    ["a non-http scheme", { ...base, address: "ftp://vault" }, "address", /scheme "ftp"/],
    ["credentials in the address", { ...base, address: "https://u:p@vault" }, "address", /credentials/],
    ["a query in the address", { ...base, address: "https://vault/?x=1" }, "address", /query/],
    ["a missing path", { address: base.address, auth: base.auth }, "path", /required/],
    ["a .. segment", { ...base, path: "a/../b" }, "path", /segment/],
    ["an empty mount", { ...base, mount: "" }, "mount", /empty/],
    ["KV version 3", { ...base, version: 3 }, "version", /1 or 2/],
    ["a string version", { ...base, version: "2" }, "version", /1 or 2/],
    ["a non-string key", { ...base, key: 7 }, "key", /string/],
    ["a zero refresh interval", { ...base, refreshIntervalSeconds: 0 }, "refreshIntervalSeconds", /between/],
    ["a string refresh interval", { ...base, refreshIntervalSeconds: "60" }, "refreshIntervalSeconds", /number/],
    ["caFile with http", { ...base, address: "http://vault", caFile: "/ca.pem" }, "caFile", /https/],
    ["no auth", { address: base.address, path: "p" }, "auth", /required/],
    ["auth with no method", { ...base, auth: {} }, "auth", /exactly one method/],
    [
      "auth with two methods",
      { ...base, auth: { token: { token: "t" }, appRole: { roleId: "r" } } },
      "auth",
      /token and appRole/,
    ],
    ["an unknown auth method", { ...base, auth: { ldap: {} } }, "auth.ldap", /unknown auth method/],
    ["token with neither field", { ...base, auth: { token: {} } }, "auth.token", /exactly one of token or tokenFile/],
    [
      "token with both fields",
      { ...base, auth: { token: { token: "t", tokenFile: "/f" } } },
      "auth.token",
      /exactly one/,
    ],
    ["an unknown token key", { ...base, auth: { token: { token: "t", ttl: 1 } } }, "auth.token.ttl", /unknown key/],
    ["kubernetes without role", { ...base, auth: { kubernetes: {} } }, "auth.kubernetes.role", /required/],
    [
      "an unknown kubernetes key",
      { ...base, auth: { kubernetes: { role: "r", jwt: "x" } } },
      "auth.kubernetes.jwt",
      /unknown key/,
    ],
    ["appRole without roleId", { ...base, auth: { appRole: { secretId: "s" } } }, "auth.appRole.roleId", /required/],
    [
      "appRole with both secrets",
      { ...base, auth: { appRole: { roleId: "r", secretId: "s", secretIdFile: "/f" } } },
      "auth.appRole",
      /not both/,
    ],
    [
      "an appRole method that is not an object",
      { ...base, auth: { appRole: "r" } },
      "auth.appRole",
      /must be an object/,
    ],
  ])("refuses %s", (_what, config, path, problem) => {
    const refused = refusal(config);
    expect(refused.path).toBe(path);
    expect(refused.problem).toMatch(problem);
  });

  it("does not echo a token or address credentials in its errors", () => {
    const err = (() => {
      try {
        validateVaultSourceConfig({
          ...base,
          address: "https://user:hunter2@vault",
          auth: { token: { token: "hvs.secret" } },
        });
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).not.toContain("hunter2");
    expect(err?.message).not.toContain("hvs.secret");
  });
});

describe("vaultSourceFactory", () => {
  it("is the vault type, validates and creates a source", () => {
    expect(vaultSourceFactory.type).toBe("vault");
    expect(vaultSourceFactory.summary).toMatch(/Vault/);
    expect(() => vaultSourceFactory.validate({})).toThrow(PluginConfigError);
    const config = vaultSourceFactory.validate({ ...base, namespace: "team-a" });
    const source = vaultSourceFactory.create(config, { logger: silentLogger, mappingName: "default" });
    expect(source.description).toBe("vault team-a/secret/registry/dockerconfig at https://vault.example:8200");
    expect(source.status().state).toBe("pending");
    expect(source.current()).toBeUndefined();
    expect(source.secretsRead).toEqual([]);
  });
});
