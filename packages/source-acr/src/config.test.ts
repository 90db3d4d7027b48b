import { describe, expect, it } from "vitest";
import { describePluginFactoryContract } from "@imagepullsecret-patcher/core/testing";
import { PluginConfigError } from "@imagepullsecret-patcher/core";
import { acrSourceFactory, validateAcrConfig } from "./index.js";

describe("validateAcrConfig", () => {
  it("fills in the defaults and lower-cases the registries", () => {
    expect(validateAcrConfig({ registries: ["MyRegistry.azurecr.io"] })).toEqual({
      registries: ["myregistry.azurecr.io"],
      credential: "auto",
      disableInstanceDiscovery: false,
      scope: "https://containerregistry.azure.net/.default",
      allowOtherRegistryHosts: false,
    });
  });

  it("refuses a login server outside Azure's registry domains unless allowOtherRegistryHosts is set", () => {
    for (const host of ["registry.example.com", "azurecr.io.evil.example", "myazurecr.io", "127.0.0.1:8443"]) {
      let refused: PluginConfigError | undefined;
      try {
        validateAcrConfig({ registries: ["a.azurecr.io", host] });
      } catch (err) {
        refused = err as PluginConfigError;
      }
      expect(refused?.path).toBe("registries[1]");
      expect(refused?.problem).toContain("set allowOtherRegistryHosts: true");
    }
    for (const host of ["a.azurecr.io", "b.azurecr.us", "c.azurecr.cn", "d.azurecr.io:443"]) {
      expect(validateAcrConfig({ registries: [host] }).registries).toEqual([host]);
    }
    expect(validateAcrConfig({ registries: ["registry.local"], allowOtherRegistryHosts: true }).registries).toEqual([
      "registry.local",
    ]);
    expect(() => validateAcrConfig({ registries: ["a.azurecr.io"], allowOtherRegistryHosts: "yes" })).toThrow(
      "allowOtherRegistryHosts: must be true or false",
    );
  });

  it("keeps every optional field", () => {
    const config = {
      registries: ["a.azurecr.io", "b.azurecr.us", "127.0.0.1:8443"],
      credential: "workloadIdentity",
      tenantId: "contoso.onmicrosoft.com",
      clientId: "0e8b7c6d-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
      authorityHost: "https://login.microsoftonline.us",
      disableInstanceDiscovery: true,
      scope: "https://management.usgovcloudapi.net/.default",
      allowOtherRegistryHosts: true,
    };
    expect(validateAcrConfig(config)).toEqual(config);
  });

  it("names the field of every problem", () => {
    const problem = (config: unknown): string => {
      try {
        validateAcrConfig(config);
      } catch (err) {
        expect(err).toBeInstanceOf(PluginConfigError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    expect(problem({})).toBe("registries: is required (e.g. [myregistry.azurecr.io])");
    expect(problem({ registries: "a.azurecr.io" })).toBe("registries: must be a list, got a string");
    expect(problem({ registries: [] })).toBe("registries: must name at least one registry");
    expect(problem({ registries: ["https://a.azurecr.io/v2"] })).toContain(
      "registries[0]: must be a registry login server such as myregistry.azurecr.io (the login server only",
    );
    expect(problem({ registries: ["a.azurecr.io", "A.azurecr.io"] })).toBe('registries[1]: repeats "A.azurecr.io"');
    expect(problem({ registries: ["a.azurecr.io"], credential: "azureCli" })).toBe(
      'credential: must be one of auto, workloadIdentity, managedIdentity, clientSecret, got "azureCli"',
    );
    expect(problem({ registries: ["a.azurecr.io"], authorityHost: "http://login.example" })).toBe(
      "authorityHost: must be an https URL",
    );
    expect(problem({ registries: ["a.azurecr.io"], tenantId: "a/b" })).toContain("tenantId: must be a tenant ID");
    expect(problem({ registries: ["a.azurecr.io"], disableInstanceDiscovery: "yes" })).toContain(
      "disableInstanceDiscovery: must be true or false",
    );
    expect(problem({ registries: ["a.azurecr.io"], clientSecret: "x" })).toContain("clientSecret: unknown key");
    expect(
      problem({ registries: ["a.azurecr.io"], credential: "managedIdentity", authorityHost: "https://login.example" }),
    ).toContain("authorityHost: does not apply to credential managedIdentity");
  });
});

describePluginFactoryContract("acr", {
  factory: acrSourceFactory,
  valid: [
    { registries: ["myregistry.azurecr.io"] },
    { registries: ["a.azurecr.io", "b.azurecr.io"], credential: "managedIdentity", clientId: "abc-123" },
    {
      registries: ["a.azurecr.cn"],
      credential: "clientSecret",
      tenantId: "0e8b7c6d-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
      authorityHost: "https://login.chinacloudapi.cn",
      disableInstanceDiscovery: false,
    },
  ],
  invalid: [
    { config: ["myregistry.azurecr.io"], path: "" },
    { config: {}, path: "registries", problem: "is required" },
    { config: { registries: [42] }, path: "registries[0]", problem: "must be a string" },
    { config: { registries: ["a b"] }, path: "registries[0]" },
    { config: { registries: ["a.azurecr.io"], credential: 1 }, path: "credential" },
    { config: { registries: ["a.azurecr.io"], clientId: "not a guid!" }, path: "clientId" },
    { config: { registries: ["a.azurecr.io"], authorityHost: "not a url" }, path: "authorityHost" },
    { config: { registries: ["a.azurecr.io"], authorityHost: "https://u:p@login.example" }, path: "authorityHost" },
    { config: { registries: ["a.azurecr.io"], scope: "https://containerregistry.azure.net" }, path: "scope" },
    { config: { registries: ["a.azurecr.io"], password: "x" }, path: "password", problem: "unknown key" },
  ],
  idempotent: true,
});
