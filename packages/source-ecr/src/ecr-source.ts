import {
  PollingSource,
  silentLogger,
  type Logger,
  type PolledValue,
  type PollingSourceOptions,
  type SourceFactory,
} from "@imagepullsecret-patcher/core";
import { validateEcrSourceConfig, type EcrSourceConfig } from "./config.js";
import { ecrDockerConfigJson } from "./docker-config.js";
import { EcrLoginFetcher, type EcrClientSettings } from "./fetcher.js";

/** Hooks for tests and embedders; the factory passes only a logger. */
export interface EcrSourceOptions {
  readonly logger?: Logger | undefined;
  /** Time source for scheduling and for judging `expiresAt` (tests pass a ManualClock). */
  readonly clock?: PollingSourceOptions["clock"];
  /** Uniform in [0, 1): the jitter of early refreshes and retries. */
  readonly random?: (() => number) | undefined;
  /** First retry delay after a failure (default 1 s, doubling up to `maxBackoffMs`). */
  readonly initialBackoffMs?: number | undefined;
  /** Retry delay cap (default 5 min). */
  readonly maxBackoffMs?: number | undefined;
  /** An attempt (every region's call) that has not settled by then counts as failed (default 30 s). */
  readonly attemptTimeoutMs?: number | undefined;
  /**
   * More ECR client settings (a fixed endpoint, static credentials, retries) for embedders and
   * tests. Users point the SDK elsewhere with `AWS_ENDPOINT_URL_ECR` and friends instead.
   */
  readonly clientConfig?: EcrClientSettings | undefined;
}

/**
 * Up to this fraction of `refreshInterval` is taken off at random, once per source. ECR's 12-hour
 * tokens are refreshed on `refreshInterval`, before the polling base's expiry jitter would apply, so
 * without it every replica and mapping started together would call ECR together for ever.
 */
export const REFRESH_INTERVAL_JITTER_FRACTION = 0.1;

/** `ecr 123456789012/eu-west-1, own account/us-east-1`: what logs and status call the source. */
export function describeEcrSource(config: EcrSourceConfig): string {
  const entries = config.registries.map((r) => {
    const profile = r.profile ? ` (profile ${r.profile})` : "";
    return `${r.registryId ?? "own account"}/${r.region ?? "default region"}${profile}`;
  });
  return `ecr ${entries.join(", ")}`;
}

/**
 * Amazon ECR registry credentials: every refresh calls `GetAuthorizationToken` once per region (and
 * profile) with the AWS SDK's default credential chain, decodes each `AWS:<password>` token, and
 * serves one `.dockerconfigjson` with an entry per registry host; `expiresAt` is the earliest expiry.
 *
 * Scheduling, validation, backoff and the last good value (`degraded`) come from {@link PollingSource}.
 * An expiry that is already past (a skewed clock, an emulator) is not passed on: the value is then
 * refreshed every `refreshInterval`. No refresh follows a success sooner than `minRefreshInterval`.
 */
export class EcrSource extends PollingSource {
  readonly config: EcrSourceConfig;
  readonly #fetcher: EcrLoginFetcher;

  constructor(config: EcrSourceConfig, options: EcrSourceOptions = {}) {
    const description = describeEcrSource(config);
    const logger = (options.logger ?? silentLogger).child({ source: description });
    const fetcher = new EcrLoginFetcher(config.registries, options.clientConfig);
    const now = (): number => options.clock?.now() ?? Date.now();
    let warnedPastExpiry = false;
    const fetch = async (signal: AbortSignal): Promise<PolledValue> => {
      const { logins, expiresAt } = await fetcher.fetch(signal);
      const bytes = ecrDockerConfigJson(logins);
      if (expiresAt === undefined || expiresAt.getTime() > now()) return { bytes, expiresAt };
      const fields = { expiresAt: expiresAt.toISOString(), refreshInterval: config.refreshInterval };
      const message = "ECR reported an expiry in the past (clock skew?); refreshing every refreshInterval instead";
      if (warnedPastExpiry) logger.debug(fields, message);
      else logger.warn(fields, message);
      warnedPastExpiry = true;
      return { bytes };
    };
    const random = options.random ?? Math.random;
    super({
      description,
      fetch,
      refreshIntervalMs: Math.round(config.refreshInterval * 1000 * (1 - REFRESH_INTERVAL_JITTER_FRACTION * random())),
      minDelayMs: config.minRefreshInterval * 1000,
      logger: options.logger,
      clock: options.clock,
      random,
      initialBackoffMs: options.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 30_000,
    });
    this.config = config;
    this.#fetcher = fetcher;
  }

  override async start(signal: AbortSignal): Promise<void> {
    signal.addEventListener("abort", () => this.#fetcher.close(), { once: true });
    await super.start(signal);
  }
}

/** The `ecr` source type: `source: { ecr: { registries: [{ region: eu-west-1 }] } }`. */
export const ecrSourceFactory: SourceFactory<EcrSourceConfig> = {
  type: "ecr",
  summary:
    "Amazon ECR registry tokens (GetAuthorizationToken) signed with the AWS SDK's credential chain: IRSA, EKS Pod Identity, keys",
  validate: validateEcrSourceConfig,
  create: (config, context) => new EcrSource(config, { logger: context.logger }),
};
