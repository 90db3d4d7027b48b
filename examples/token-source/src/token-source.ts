import {
  PollingSource,
  SourceFetchError,
  type Logger,
  type PolledValue,
  type PollingSourceOptions,
  type SourceFactory,
} from "@imagepullsecret-patcher/core";
import { validateTokenEndpointConfig, type TokenEndpointConfig } from "./config.js";
import { tokenDockerConfigJson } from "./docker-config.js";
import { nodeTransport, readTextFile, type ReadTextFile, type TokenTransport } from "./http.js";

/** Hooks for tests and embedders; the factory passes only a logger. */
export interface TokenEndpointSourceOptions {
  readonly logger?: Logger | undefined;
  /** Time source for scheduling and for turning `expires_in` into `expiresAt` (tests pass a ManualClock). */
  readonly clock?: PollingSourceOptions["clock"];
  /** Uniform in [0, 1): the jitter of early refreshes and retries. */
  readonly random?: (() => number) | undefined;
  readonly transport?: TokenTransport | undefined;
  readonly readFile?: ReadTextFile | undefined;
  /** Gives up on a request after this long (default 30 s); the attempt then counts as failed. */
  readonly requestTimeoutMs?: number | undefined;
  /** First retry delay after a failure (default 1 s, doubling up to 5 min). */
  readonly initialBackoffMs?: number | undefined;
}

/** `<origin><path>` of the endpoint: never the query string, which might carry a secret. */
function endpointLabel(config: TokenEndpointConfig): string {
  const url = new URL(config.url);
  return `${url.origin}${url.pathname}`;
}

/** `token-endpoint <origin><path> for <registry>`: what logs and status call this source. */
export function describeTokenEndpoint(config: TokenEndpointConfig): string {
  return `token-endpoint ${endpointLabel(config)} for ${config.registry}`;
}

/** Follows a dotted path (`data.token`) into parsed JSON. */
function field(body: unknown, path: string): unknown {
  let current: unknown = body;
  for (const name of path.split(".")) {
    if (typeof current !== "object" || current === null || Array.isArray(current) || !Object.hasOwn(current, name))
      return undefined;
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}

/** Lifetime in seconds: a positive number, or a string holding one. */
function lifetimeSeconds(value: unknown): number | undefined {
  const seconds = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/**
 * A short-lived registry credential from an HTTP token endpoint: every attempt sends `POST url`
 * (or `GET`), reads `{ "token": "…", "expires_in": 600 }` and turns the token into a
 * `.dockerconfigjson` for `registry`.
 *
 * Everything else comes from {@link PollingSource}: validation, `expiresAt` → refresh at about
 * 80 % of the lifetime with jitter, exponential backoff, and the last good credential kept
 * (`degraded`) while the endpoint fails or answers nonsense.
 */
export class TokenEndpointSource extends PollingSource {
  readonly config: TokenEndpointConfig;

  constructor(config: TokenEndpointConfig, options: TokenEndpointSourceOptions = {}) {
    const transport = options.transport ?? nodeTransport;
    const readFile = options.readFile ?? readTextFile;
    const now = (): number => options.clock?.now() ?? Date.now();
    const fetch = async (signal: AbortSignal): Promise<PolledValue> => {
      const ca = config.caFile === undefined ? undefined : await readCa(readFile, config.caFile);
      const response = await transport({ method: config.method, url: new URL(config.url), ca, signal });
      return parseAnswer(config, response.status, response.body, now());
    };
    super({
      description: describeTokenEndpoint(config),
      fetch,
      refreshIntervalMs: config.refreshIntervalSeconds * 1000,
      logger: options.logger,
      clock: options.clock,
      random: options.random,
      attemptTimeoutMs: options.requestTimeoutMs ?? 30_000,
      initialBackoffMs: options.initialBackoffMs,
    });
    this.config = config;
  }
}

async function readCa(readFile: ReadTextFile, path: string): Promise<string> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new SourceFetchError(`cannot read caFile ${path}${typeof code === "string" ? ` (${code})` : ""}`, false);
  }
}

/** Turns the endpoint's answer into a value. Errors name the problem and the field, never the token. */
export function parseAnswer(config: TokenEndpointConfig, status: number, body: string, now: number): PolledValue {
  const where = `${config.method} ${endpointLabel(config)}`;
  if (status < 200 || status > 299) {
    throw new SourceFetchError(`${where}: HTTP ${status}`, status >= 500 || status === 429 || status === 408);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SourceFetchError(`${where}: the answer is not JSON`, false);
  }
  const token = field(parsed, config.tokenField);
  if (typeof token !== "string" || token === "") {
    throw new SourceFetchError(`${where}: the answer has no non-empty string field "${config.tokenField}"`, false);
  }
  if (/[\s\p{Cc}]/u.test(token))
    throw new SourceFetchError(`${where}: field "${config.tokenField}" holds whitespace or control characters`, false);
  const rawLifetime = field(parsed, config.expiresInField);
  let expiresAt: Date | undefined;
  if (rawLifetime !== undefined && rawLifetime !== null) {
    const seconds = lifetimeSeconds(rawLifetime);
    if (seconds === undefined)
      throw new SourceFetchError(
        `${where}: field "${config.expiresInField}" must be a positive number of seconds`,
        false,
      );
    expiresAt = new Date(now + seconds * 1000);
  }
  return { bytes: tokenDockerConfigJson(config.registry, config.username, token), expiresAt };
}

/** The `token-endpoint` source type. */
export const tokenEndpointSourceFactory: SourceFactory<TokenEndpointConfig> = {
  type: "token-endpoint",
  summary: "a short-lived registry token from an HTTP token endpoint, refreshed before it expires",
  validate: validateTokenEndpointConfig,
  create: (config, context) =>
    new TokenEndpointSource(config, {
      logger: context.logger.child({ source: "token-endpoint", mapping: context.mappingName }),
    }),
};
