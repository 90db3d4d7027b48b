import type { TokenCredential } from "@azure/identity";
import {
  PollingSource,
  type Logger,
  type PolledValue,
  type PollingSourceOptions,
  type SourceFactory,
} from "@imagepullsecret-patcher/core";
import { validateAcrConfig, type AcrConfig } from "./config.js";
import { chooseCredential, credentialLabel, type AzureEnvironment, type IdentityChoice } from "./credential.js";
import { acrDockerConfigJson } from "./docker-config.js";
import { exchangeRefreshToken, type Fetch } from "./exchange.js";
import { jwtExpiry, jwtTenant } from "./jwt.js";
import { EntraTokens } from "./entra-tokens.js";

/**
 * Lifetime assumed for a refresh token without a readable `exp`: ACR documents that tokens from
 * an Entra sign-in must be renewed every 3 hours (learn.microsoft.com/azure/container-registry/container-registry-authentication).
 */
export const DEFAULT_REFRESH_TOKEN_LIFETIME_MS = 3 * 3600_000;

/** Hooks for tests and embedders; the factory passes only a logger. */
export interface AcrSourceOptions {
  readonly logger?: Logger | undefined;
  /** Where `AZURE_*` settings are read from; default `process.env` when the source is created. */
  readonly env?: AzureEnvironment | undefined;
  /** Sign in with this instead of the credential chosen from config and environment. */
  readonly credential?: TokenCredential | undefined;
  readonly fetch?: Fetch | undefined;
  readonly clock?: PollingSourceOptions["clock"];
  readonly random?: (() => number) | undefined;
  /** Gives up on an attempt (Entra sign-in and every exchange) after this long; default 60 s. */
  readonly requestTimeoutMs?: number | undefined;
  /** First retry delay after a failure (default 1 s, doubling up to `maxBackoffMs`, default 5 min). */
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
}

/** `acr <registries> via <credential>`: what logs and status call this source. */
export function describeAcr(config: AcrConfig, label: string): string {
  return `acr ${config.registries.join(", ")} via ${label}`;
}

/**
 * Azure Container Registry credentials: an Entra ID access token for the configured scope, exchanged at
 * each registry's `POST /oauth2/exchange` for an ACR refresh token, served as the password of the
 * null-GUID user. `expiresAt` is the earliest `exp` of those tokens, so {@link PollingSource}
 * refreshes before it; failures keep the last good credential (`degraded`) and back off.
 */
export class AcrSource extends PollingSource {
  readonly config: AcrConfig;
  readonly identity: IdentityChoice;

  constructor(config: AcrConfig, options: AcrSourceOptions = {}) {
    const identity = chooseCredential(config, options.env ?? process.env);
    const tokens = new EntraTokens(identity, config.scope, options.credential);
    const fetchImpl = options.fetch ?? fetch;
    const now = (): number => options.clock?.now() ?? Date.now();
    const tenantFor = (accessToken: string): string | undefined => identity.tenantId ?? jwtTenant(accessToken);
    const fetchCredential = async (signal: AbortSignal): Promise<PolledValue> => {
      const accessToken = await tokens.get(signal);
      const tenant = tenantFor(accessToken);
      const logins = await Promise.all(
        config.registries.map(async (registry) => ({
          registry,
          refreshToken: await exchangeRefreshToken({ registry, tenant, accessToken, signal }, fetchImpl),
        })),
      );
      return { bytes: acrDockerConfigJson(logins), expiresAt: earliestExpiry(logins, now()) };
    };
    super({
      description: describeAcr(config, credentialLabel(identity.kind)),
      fetch: fetchCredential,
      refreshIntervalMs: DEFAULT_REFRESH_TOKEN_LIFETIME_MS,
      logger: options.logger,
      clock: options.clock,
      random: options.random,
      attemptTimeoutMs: options.requestTimeoutMs,
      initialBackoffMs: options.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
    });
    this.config = config;
    this.identity = identity;
  }
}

/** The earliest `exp` among the refresh tokens; {@link DEFAULT_REFRESH_TOKEN_LIFETIME_MS} from now for one without. */
export function earliestExpiry(logins: readonly { refreshToken: string }[], now: number): Date {
  const expiries = logins.map(
    ({ refreshToken }) => jwtExpiry(refreshToken)?.getTime() ?? now + DEFAULT_REFRESH_TOKEN_LIFETIME_MS,
  );
  return new Date(Math.min(...expiries));
}

/** The `acr` source type. */
export const acrSourceFactory: SourceFactory<AcrConfig> = {
  type: "acr",
  summary:
    "Azure Container Registry refresh tokens from an Entra ID sign-in (workload identity, managed identity, secret)",
  validate: validateAcrConfig,
  create: (config, context) => {
    const logger = context.logger.child({ source: "acr", mapping: context.mappingName });
    const source = new AcrSource(config, { logger });
    logger.info(
      { registries: config.registries, credential: source.identity.kind, missing: source.identity.missing },
      "acr source: signing in to Entra ID with " + credentialLabel(source.identity.kind),
    );
    return source;
  },
};
