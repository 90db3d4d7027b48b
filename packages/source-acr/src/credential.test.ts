import { describe, expect, it } from "vitest";
import { ClientSecretCredential, ManagedIdentityCredential, WorkloadIdentityCredential } from "@azure/identity";
import { buildCredential, chooseCredential, validateAcrConfig } from "./index.js";
import { describeIdentityError } from "./redact.js";

const config = (extra: Record<string, unknown> = {}) => validateAcrConfig({ registries: ["r.azurecr.io"], ...extra });
const WORKLOAD = {
  AZURE_CLIENT_ID: "client-1",
  AZURE_TENANT_ID: "tenant-1",
  AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
  AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
};

describe("chooseCredential", () => {
  it("auto: a client secret first, then workload identity, then managed identity (DefaultAzureCredential's order)", () => {
    expect(chooseCredential(config(), { ...WORKLOAD, AZURE_CLIENT_SECRET: "s3cret-value" }).kind).toBe("clientSecret");
    expect(chooseCredential(config(), WORKLOAD)).toEqual({
      kind: "workloadIdentity",
      tenantId: "tenant-1",
      clientId: "client-1",
      authorityHost: "https://login.microsoftonline.com/",
      disableInstanceDiscovery: false,
      tokenFilePath: WORKLOAD.AZURE_FEDERATED_TOKEN_FILE,
      missing: [],
    });
    expect(chooseCredential(config(), {})).toEqual({
      kind: "managedIdentity",
      clientId: undefined,
      tenantId: undefined,
      disableInstanceDiscovery: false,
      missing: [],
    });
    expect(chooseCredential(config(), { AZURE_CLIENT_ID: "uami-1", AZURE_FEDERATED_TOKEN_FILE: " " }).clientId).toBe(
      "uami-1",
    );
  });

  it("prefers config over the environment, and lists what a named kind still needs", () => {
    const choice = chooseCredential(
      config({
        credential: "workloadIdentity",
        tenantId: "t-config",
        authorityHost: "https://login.microsoftonline.us",
      }),
      WORKLOAD,
    );
    expect(choice).toMatchObject({ tenantId: "t-config", authorityHost: "https://login.microsoftonline.us" });
    expect(chooseCredential(config({ credential: "workloadIdentity" }), {}).missing).toEqual([
      "tenantId (or AZURE_TENANT_ID)",
      "clientId (or AZURE_CLIENT_ID)",
      "AZURE_FEDERATED_TOKEN_FILE",
    ]);
    expect(chooseCredential(config({ credential: "clientSecret" }), WORKLOAD).missing).toEqual(["AZURE_CLIENT_SECRET"]);
  });

  it("builds the matching @azure/identity credential", () => {
    expect(buildCredential(chooseCredential(config(), WORKLOAD))).toBeInstanceOf(WorkloadIdentityCredential);
    const secret = chooseCredential(config(), { ...WORKLOAD, AZURE_CLIENT_SECRET: "s3cret-value" });
    expect(buildCredential(secret)).toBeInstanceOf(ClientSecretCredential);
    expect(buildCredential(chooseCredential(config(), {}))).toBeInstanceOf(ManagedIdentityCredential);
    const uami = chooseCredential(config({ credential: "managedIdentity", clientId: "uami-1" }), {});
    expect(buildCredential(uami)).toBeInstanceOf(ManagedIdentityCredential);
  });
});

describe("describeIdentityError", () => {
  it("keeps the first line of identity errors, without secrets or JWTs", () => {
    const err = Object.assign(
      new Error("invalid_client Status code: 401\nMore details:\nsecret s3cret-value-123 eyJabcd.eyJefgh.sig"),
      { name: "AuthenticationError", statusCode: 401 },
    );
    expect(describeIdentityError(err, ["s3cret-value-123"])).toBe(
      "AuthenticationError (HTTP 401): invalid_client Status code: 401",
    );
    const leaky = Object.assign(new Error("AADSTS7000215: secret s3cret-value-123, assertion eyJabcd.eyJefgh.sig"), {
      name: "ServerError",
    });
    expect(describeIdentityError(leaky, ["s3cret-value-123"])).toBe(
      "ServerError: AADSTS7000215: secret [redacted], assertion [redacted]",
    );
  });

  it("says what an endpoints_resolution_error usually means", () => {
    const err = Object.assign(new Error("endpoints_resolution_error: See https://aka.ms/msal.js.errors"), {
      name: "CredentialUnavailableError",
    });
    expect(describeIdentityError(err, [])).toContain(
      "a host Microsoft does not list also needs disableInstanceDiscovery",
    );
  });

  it("gives only the name of errors it does not know, and words for aborts", () => {
    expect(describeIdentityError(new TypeError('body: {"access_token":"x"}'), [])).toBe("TypeError");
    expect(describeIdentityError(Object.assign(new Error("x"), { name: "AbortError" }), [])).toBe("aborted");
    expect(describeIdentityError("a string", [])).toBe("failed");
  });
});
