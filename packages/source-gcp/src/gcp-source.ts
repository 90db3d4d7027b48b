import {
  PollingSource,
  SourceFetchError,
  type Logger,
  type PolledValue,
  type PollingSourceOptions,
  type SourceFactory,
} from "@imagepullsecret-patcher/core";
import { validateGcpSourceConfig, type GcpSourceConfig } from "./config.js";
import {
  ApplicationDefaultTokens,
  KeyFileTokens,
  type AccessToken,
  type CredentialSource,
  type TokenProvider,
} from "./credentials.js";
import { gcpDockerConfigJson } from "./docker-config.js";
import { describeAuthError } from "./errors.js";
import { IAM_CREDENTIALS_ENDPOINT, ImpersonatedTokens } from "./impersonation.js";

/** Hooks for tests and embedders; the factory passes only a logger. */
export interface GcpSourceOptions {
  readonly logger?: Logger | undefined;
  /** Time source for scheduling and for `expiresAt` (tests pass a ManualClock). */
  readonly clock?: PollingSourceOptions["clock"];
  /** Uniform in [0, 1): the jitter of early refreshes and retries. */
  readonly random?: (() => number) | undefined;
  /** Where tokens come from; by default chosen from the config and the environment (see {@link tokenProviderFor}). */
  readonly tokens?: TokenProvider | undefined;
  /** Where GOOGLE_APPLICATION_CREDENTIALS is looked up for the source's description; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** The IAM Credentials API for `impersonate` (default Google's); tests point it at a stand-in. */
  readonly iamCredentialsEndpoint?: string | undefined;
  /** An attempt still running after this long counts as failed (default 30 s). */
  readonly attemptTimeoutMs?: number | undefined;
  /** First retry delay after a failure (default 1 s, doubling up to 5 min). */
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
}

/**
 * Up to this fraction of `refreshIntervalSeconds` is taken off at random, once per source. Hour-long
 * tokens are refreshed on that interval, before the polling base's expiry jitter would apply, so
 * without it every replica and mapping started together would ask Google together for ever.
 */
export const REFRESH_INTERVAL_JITTER_FRACTION = 0.1;

/** Registry passwords are sent in HTTP Basic auth: printable ASCII, no spaces. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/**
 * `keyFile` (a service account key), else Application Default Credentials: the file named by
 * GOOGLE_APPLICATION_CREDENTIALS (any kind google-auth-library reads), gcloud's, or the metadata
 * server; with `impersonate`, those credentials get that service account's tokens.
 */
export function tokenProviderFor(
  config: GcpSourceConfig,
  env: NodeJS.ProcessEnv = process.env,
  iamCredentialsEndpoint = IAM_CREDENTIALS_ENDPOINT,
): TokenProvider {
  const file = env.GOOGLE_APPLICATION_CREDENTIALS;
  const credentials: CredentialSource =
    config.keyFile !== undefined
      ? new KeyFileTokens(config.keyFile)
      : new ApplicationDefaultTokens(file ? `GOOGLE_APPLICATION_CREDENTIALS ${file}` : undefined);
  if (config.impersonate === undefined) return credentials;
  return new ImpersonatedTokens(credentials, config.impersonate, iamCredentialsEndpoint);
}

/** `gcp <hosts> via <credential>`: what logs and status call this source. */
export function describeGcpSource(config: GcpSourceConfig, tokens: TokenProvider): string {
  return `gcp ${config.registries.join(",")} via ${tokens.label}`;
}

/**
 * Turns an access token into the value: a `.dockerconfigjson` for every registry host, and its
 * expiry moved onto the source's clock (the library measures with `Date.now()`).
 */
export function tokenValue(
  registries: readonly string[],
  access: AccessToken,
  now: number,
  wallNow = Date.now(),
): PolledValue {
  const { token, expiryDate } = access;
  if (typeof token !== "string" || !TOKEN_CHARACTERS.test(token)) {
    throw new SourceFetchError("the access token is empty or holds spaces or control characters", false);
  }
  const expiresAt =
    typeof expiryDate === "number" && Number.isFinite(expiryDate) ? new Date(now + (expiryDate - wallNow)) : undefined;
  return { bytes: gcpDockerConfigJson(registries, token), expiresAt };
}

/** How far apart two expiries of one token may be and still be taken for the same. */
const SAME_EXPIRY_MS = 2_000;

/**
 * The same token answered again (the metadata server hands out its cached token until near expiry) keeps the expiry
 * first computed for it: expiries are whole seconds from the answer, moved by the milliseconds between receipt and
 * here, and a value whose expiry moved by a few would count as changed.
 */
export function steadyExpiry(
  value: PolledValue,
  token: string | null | undefined,
  last: { token: string; expiresAt: Date | undefined } | undefined,
): PolledValue {
  const [before, now] = [last?.expiresAt?.getTime(), value.expiresAt?.getTime()];
  if (last?.token !== token || before === undefined || now === undefined) return value;
  return Math.abs(now - before) <= SAME_EXPIRY_MS ? { ...value, expiresAt: new Date(before) } : value;
}

/**
 * Google Artifact Registry and Container Registry credentials: an OAuth access token from
 * google-auth-library written as `oauth2accesstoken` for each configured registry host.
 *
 * Every attempt gets a new token. Everything else comes from {@link PollingSource}: refresh at
 * about 80 % of the token's lifetime with jitter, backoff, and the last good credential kept
 * (`degraded`) while Google or the metadata server fails.
 */
export class GcpSource extends PollingSource {
  readonly config: GcpSourceConfig;

  constructor(config: GcpSourceConfig, options: GcpSourceOptions = {}) {
    const tokens = options.tokens ?? tokenProviderFor(config, options.env, options.iamCredentialsEndpoint);
    const now = (): number => options.clock?.now() ?? Date.now();
    let last: { token: string; expiresAt: Date | undefined } | undefined;
    const fetch = async (): Promise<PolledValue> => {
      let access: AccessToken;
      try {
        access = await tokens.fetch();
      } catch (err) {
        throw describeAuthError(err);
      }
      const value = steadyExpiry(tokenValue(config.registries, access, now()), access.token, last);
      last = { token: access.token ?? "", expiresAt: value.expiresAt };
      return value;
    };
    const random = options.random ?? Math.random;
    const jitter = 1 - REFRESH_INTERVAL_JITTER_FRACTION * random();
    super({
      description: describeGcpSource(config, tokens),
      fetch,
      refreshIntervalMs: Math.round(config.refreshIntervalSeconds * 1000 * jitter),
      logger: options.logger,
      clock: options.clock,
      random,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 30_000,
      initialBackoffMs: options.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
    });
    this.config = config;
  }
}

/** The `gcp` source type. */
export const gcpSourceFactory: SourceFactory<GcpSourceConfig> = {
  type: "gcp",
  summary: "an OAuth access token for Artifact Registry and GCR from Google credentials, refreshed before it expires",
  validate: validateGcpSourceConfig,
  create: (config, context) =>
    new GcpSource(config, { logger: context.logger.child({ source: "gcp", mapping: context.mappingName }) }),
};
