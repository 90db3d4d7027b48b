import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildMappings, builtinRegistries, type Logger } from "@imagepullsecret-patcher/core";
import { ManualClock, describeSourceProviderContract, type SourceHarness } from "@imagepullsecret-patcher/core/testing";
import plugin, {
  ACR_REFRESH_TOKEN_USERNAME,
  AcrSource,
  acrDockerConfigJson,
  acrSourceFactory,
  jwtExpiry,
  validateAcrConfig,
  type AcrSourceOptions,
} from "./index.js";
import { fakeJwt } from "./test-support/https-stand-in.js";
import { startImdsStandIn } from "./test-support/imds-stand-in.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  FEDERATED_TOKEN,
  MARKER,
  TENANT_ID,
  startAzure,
  type Azure,
} from "./test-support/azure.js";

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}
const lines: LogLine[] = [];
const logger: Logger = {
  debug: (fields, message) => lines.push({ level: "debug", message, fields }),
  info: (fields, message) => lines.push({ level: "info", message, fields }),
  warn: (fields, message) => lines.push({ level: "warn", message, fields }),
  error: (fields, message) => lines.push({ level: "error", message, fields }),
  child: () => logger,
};

let azure: Azure;
const running: AbortController[] = [];
const sources: AcrSource[] = [];

beforeAll(async () => {
  azure = await startAzure();
});
afterEach(() => {
  for (const c of running.splice(0)) c.abort();
  azure.acr.failWith = undefined;
  azure.entra.failWith = undefined;
  azure.acr.refreshTokenLifetimeSeconds = 3 * 3600;
});
afterAll(async () => {
  await azure.close();
  // Nothing logged or reported may hold a token: the marker starts every issued token's signature.
  const reported = JSON.stringify(lines) + JSON.stringify(sources.map((s) => [s.status(), s.description]));
  for (const secret of [MARKER, CLIENT_SECRET, FEDERATED_TOKEN, "eyJ"]) expect(reported).not.toContain(secret);
});

function source(config: Record<string, unknown> = {}, options: AcrSourceOptions = {}): AcrSource {
  const validated = validateAcrConfig({
    registries: [azure.acr.registry],
    authorityHost: azure.entra.authorityHost,
    disableInstanceDiscovery: true,
    // The stand-in registry listens on 127.0.0.1, outside Azure's registry domains.
    allowOtherRegistryHosts: true,
    ...config,
  });
  const made = new AcrSource(validated, {
    env: azure.workloadEnv,
    logger,
    clock: new ManualClock(Date.now()),
    random: () => 0,
    ...options,
  });
  sources.push(made);
  return made;
}

async function start(made: AcrSource): Promise<AcrSource> {
  const controller = new AbortController();
  running.push(controller);
  await made.start(controller.signal);
  return made;
}

const served = (made: AcrSource): { auths: Record<string, { username: string; password: string; auth: string }> } =>
  JSON.parse(made.current()?.credential.bytes.toString() ?? "{}") as never;

describe("AcrSource against the Entra ID and ACR stand-ins", () => {
  it("signs in with workload identity, exchanges at the registry and serves the null-GUID login", async () => {
    const forms = azure.acr.forms.length;
    const made = await start(source());
    expect(made.status().error).toBeUndefined();
    expect(made.status().state).toBe("ready");
    expect(made.description).toBe(`acr ${azure.acr.registry} via workload identity`);
    const token = azure.acr.latest ?? "";
    expect(served(made).auths).toEqual({
      [azure.acr.registry]: {
        username: ACR_REFRESH_TOKEN_USERNAME,
        password: token,
        auth: Buffer.from(`${ACR_REFRESH_TOKEN_USERNAME}:${token}`).toString("base64"),
      },
    });
    expect(made.current()?.expiresAt?.getTime()).toBe(jwtExpiry(token)?.getTime());
    const form = azure.acr.forms[forms];
    expect(form?.get("grant_type")).toBe("access_token");
    expect(form?.get("service")).toBe(azure.acr.registry);
    expect(form?.get("tenant")).toBe(TENANT_ID);
    expect(azure.entra.valid(form?.get("access_token") ?? "")).toEqual({ tenant: TENANT_ID });
  });

  it("signs in with a client secret from the environment", async () => {
    const env = { AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: TENANT_ID, AZURE_CLIENT_SECRET: CLIENT_SECRET };
    const made = await start(source({}, { env }));
    expect(made.identity.kind).toBe("clientSecret");
    expect(made.status()).toMatchObject({ state: "ready" });
    expect(made.description).toBe(`acr ${azure.acr.registry} via client secret`);
  });

  it("serves one login per registry, each exchanged at its own login server", async () => {
    const other = `localhost:${azure.acr.server.port}`; // the same stand-in under a second name
    const forms = azure.acr.forms.length;
    const made = await start(source({ registries: [azure.acr.registry, other] }));
    expect(Object.keys(served(made).auths)).toEqual([azure.acr.registry, other]);
    expect(azure.acr.forms.slice(forms).map((f) => f.get("service"))).toEqual([azure.acr.registry, other]);
  });

  it("signs in with a user-assigned managed identity through the instance metadata endpoint", async () => {
    const imds = await startImdsStandIn(azure.entra, "https://containerregistry.azure.net");
    // MSAL reads the endpoint from the process environment when it asks for a token.
    vi.stubEnv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.host);
    try {
      const forms = azure.acr.forms.length;
      const made = await start(
        source(
          {
            credential: "managedIdentity",
            clientId: CLIENT_ID,
            authorityHost: undefined,
            disableInstanceDiscovery: undefined,
          },
          { env: {} },
        ),
      );
      expect(made.status().error).toBeUndefined();
      expect(made.description).toBe(`acr ${azure.acr.registry} via managed identity`);
      expect(imds.queries[0]?.get("client_id")).toBe(CLIENT_ID);
      // No tenant configured: the exchange names the one in the token's tid.
      expect(azure.acr.forms[forms]?.get("tenant")).toBe(TENANT_ID);
    } finally {
      vi.unstubAllEnvs();
      await imds.close();
    }
  });

  it("names the tenant from the access token's tid when neither config nor environment does", async () => {
    const credential = {
      getToken: () => {
        const token = fakeJwt({ tid: TENANT_ID }, MARKER, "injected0123456789");
        azure.entra.issued.set(token, { expiresAt: Date.now() + 3600_000, tenant: TENANT_ID });
        return Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3600_000 });
      },
    };
    const forms = azure.acr.forms.length;
    const made = await start(source({}, { env: {}, credential }));
    expect(made.identity).toMatchObject({ kind: "managedIdentity", tenantId: undefined });
    expect(made.status().state).toBe("ready");
    expect(azure.acr.forms[forms]?.get("tenant")).toBe(TENANT_ID);
  });

  it("says which setting is missing before it tries to sign in", async () => {
    const made = await start(source({ credential: "workloadIdentity" }, { env: { AZURE_CLIENT_ID: CLIENT_ID } }));
    expect(made.status()).toMatchObject({
      state: "pending",
      error: `${made.description}: credential workloadIdentity needs tenantId (or AZURE_TENANT_ID), AZURE_FEDERATED_TOKEN_FILE`,
    });
  });

  it("refreshes before the refresh token expires, with jitter, and every refresh brings a new token", async () => {
    azure.acr.refreshTokenLifetimeSeconds = 600;
    const clock = new ManualClock(Date.now());
    const made = await start(source({}, { clock, random: () => 0.5 }));
    const first = made.current()?.credential.hash;
    const remaining = (made.current()?.expiresAt?.getTime() ?? 0) - clock.now();
    // 80 % of the remaining lifetime less half of the 10 % jitter.
    expect(clock.pendingDelays()).toEqual([Math.round(remaining * 0.75)]);
    await made.refreshNow();
    expect(made.current()?.credential.hash).not.toBe(first);
  });

  it("keeps the last good login while the exchange fails or the registry is down, then recovers", async () => {
    const made = await start(source({}, { initialBackoffMs: 1000 }));
    const good = made.current();
    azure.acr.failWith = 500;
    await made.refreshNow();
    expect(made.current()).toBe(good);
    expect(made.status()).toMatchObject({ state: "degraded" });
    expect(made.status().error).toBe(
      `${made.description}: POST https://${azure.acr.registry}/oauth2/exchange: HTTP 500 (UNAVAILABLE: stand-in outage)`,
    );
    azure.acr.failWith = 401;
    await made.refreshNow();
    expect(made.status().error).toContain("HTTP 401 (UNAVAILABLE: stand-in outage)");
    azure.acr.failWith = undefined;
    await azure.acr.server.stop();
    try {
      // The first try may meet the pooled connection the stop cut (UND_ERR_SOCKET); the next finds the port closed.
      await made.refreshNow();
      await made.refreshNow();
      expect(made.status().error).toBe(
        `${made.description}: POST https://${azure.acr.registry}/oauth2/exchange: request failed (ECONNREFUSED)`,
      );
      expect(made.current()).toBe(good);
    } finally {
      await azure.acr.server.start();
    }
    await made.refreshNow();
    expect(made.status()).toMatchObject({ state: "ready", error: undefined });
    expect(lines.some((l) => l.message === "source failed; keeping the last good credential")).toBe(true);
  });

  it("reports an Entra ID refusal by the library's words, without secrets", async () => {
    azure.entra.failWith = 401;
    const made = await start(source());
    expect(made.status().state).toBe("pending");
    expect(made.status().error).toMatch(/^acr .* via workload identity: Entra ID token \(workload identity\): /);
    expect(made.status().error).toContain("AADSTS90033");
    azure.entra.failWith = undefined;
    await made.refreshNow();
    expect(made.status().state).toBe("ready");
  });

  it("asks Entra ID for the configured scope", async () => {
    const made = await start(source({ scope: "https://management.usgovcloudapi.net/.default" }));
    // The stand-in serves the public cloud's ACR scope only, like a registry that does not accept ARM tokens.
    expect(made.status().error).toContain("AADSTS70011");
  });

  it("reports a sign-in to a tenant Entra ID does not know as an Entra ID error", async () => {
    const wrongTenant = await start(source({ tenantId: "other-tenant" }));
    expect(wrongTenant.status().state).toBe("pending");
    expect(wrongTenant.status().error).toContain("Entra ID token (workload identity)");
  });
});

describe("the plugin package", () => {
  it("exports the acr factory as its default export", () => {
    expect(plugin.sources?.map((f) => f.type)).toEqual(["acr"]);
    expect(acrSourceFactory.summary).toMatch(/Azure Container Registry/);
  });

  it("plugs into buildMappings, with config errors at the mapping's path", () => {
    const registries = builtinRegistries();
    for (const factory of plugin.sources ?? []) registries.sources.register(factory);
    const mapping = (acr: unknown) => [{ name: "azure", source: { acr }, targets: { all: {} } }];
    const [built] = buildMappings(mapping({ registries: ["myregistry.azurecr.io"] }), {
      registries,
      defaultSecretName: "pull",
    });
    expect(built?.source).toBeInstanceOf(AcrSource);
    expect(() => buildMappings(mapping({ registries: [] }), { registries, defaultSecretName: "pull" })).toThrow(
      "mappings[0].source.acr.registries: must name at least one registry",
    );
  });
});

/**
 * The SourceProvider contract through the real sign-in and exchange: the exchange stand-in answers
 * with the token the kit serves (a JWT whose exp is the served expiry), a manual clock drives time.
 */
describeSourceProviderContract(
  "AcrSource",
  async (): Promise<SourceHarness> => {
    const stand = await startAzure();
    const clock = new ManualClock(Date.now());
    const made = new AcrSource(
      validateAcrConfig({
        registries: [stand.acr.registry],
        authorityHost: stand.entra.authorityHost,
        disableInstanceDiscovery: true,
        allowOtherRegistryHosts: true,
      }),
      { env: stand.workloadEnv, clock, random: () => 0.5 },
    );
    const tokens = new Map<string, string>();
    const tokenFor = (secret: string, expiresAt?: Date): string => {
      const claims = expiresAt ? { exp: Math.floor(expiresAt.getTime() / 1000) } : {};
      return fakeJwt(claims, "", secret.replace(/[^A-Za-z0-9_-]/g, "_"));
    };
    return {
      source: made,
      serve: (secret, options) => {
        const token = tokenFor(secret, options?.expiresAt);
        tokens.set(secret, token);
        stand.acr.failWith = undefined;
        stand.acr.answer = () => ({ status: 200, body: { refresh_token: token } });
      },
      fail: () => {
        stand.acr.failWith = 500;
      },
      serveInvalid: () => {
        stand.acr.failWith = undefined;
        stand.acr.answer = () => ({ status: 200, body: { refresh_token: "" } });
      },
      credentialFor: (secret) =>
        acrDockerConfigJson([{ registry: stand.acr.registry, refreshToken: tokens.get(secret) ?? tokenFor(secret) }]),
      refresh: () => made.refreshNow(),
      elapse: async () => {
        await clock.advance(24 * 3600_000);
        await new Promise((resolve) => setTimeout(resolve, 50)); // room for a (forbidden) request to arrive
      },
      now: () => clock.now(),
      pendingTimers: () => clock.pendingDelays().length,
      backendReads: () => stand.acr.forms.length,
      close: () => stand.close(),
    };
  },
  { expiry: true, expiryToleranceMs: 1_000 },
);
