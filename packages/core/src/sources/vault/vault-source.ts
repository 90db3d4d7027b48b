import type { Logger } from "../../logging/logger.js";
import type { SourceFactory } from "../../plugins/contracts.js";
import type { Clock } from "../../util/clock.js";
import { SourceFetchError } from "../polling/errors.js";
import { PollingSource, type PolledValue } from "../polling/polling-source.js";
import { VaultTokenManager } from "./auth.js";
import { VaultApiError, VaultClient, encodePath, expectOk, type ReadTextFile, type VaultTransport } from "./client.js";
import {
  DEFAULT_KEY,
  DEFAULT_KV_MOUNT,
  DEFAULT_REFRESH_INTERVAL_SECONDS,
  validateVaultSourceConfig,
  type VaultSourceConfig,
} from "./config.js";

/** Test and embedding hooks; production code passes only a logger. */
export interface VaultSourceOptions {
  readonly logger?: Logger | undefined;
  readonly clock?: Clock | undefined;
  readonly random?: (() => number) | undefined;
  readonly transport?: VaultTransport | undefined;
  readonly readFile?: ReadTextFile | undefined;
  /** Overrides `refreshIntervalSeconds` (tests poll faster than users may configure). */
  readonly refreshIntervalMs?: number | undefined;
  readonly initialBackoffMs?: number | undefined;
  readonly maxBackoffMs?: number | undefined;
  readonly requestTimeoutMs?: number | undefined;
}

/** `vault <namespace>/<mount>/<path> at <origin>`: what logs and status call this source. */
export function describeVaultSource(config: VaultSourceConfig): string {
  const origin = new URL(config.address).origin;
  const ns = config.namespace ? `${config.namespace}/` : "";
  return `vault ${ns}${config.mount ?? DEFAULT_KV_MOUNT}/${config.path} at ${origin}`;
}

/** The API path a KV read goes to. */
export function kvReadPath(config: VaultSourceConfig): string {
  const mount = encodePath(config.mount ?? DEFAULT_KV_MOUNT);
  const path = encodePath(config.path);
  return (config.version ?? 2) === 2 ? `${mount}/data/${path}` : `${mount}/${path}`;
}

function fieldList(data: Record<string, unknown>): string {
  const names = Object.keys(data);
  if (names.length === 0) return "it has no fields";
  const shown = names.slice(0, 10).map((n) => JSON.stringify(n.length > 40 ? `${n.slice(0, 40)}…` : n));
  return `its fields are ${shown.join(", ")}${names.length > 10 ? `, … (${names.length} in all)` : ""}`;
}

function fieldText(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return JSON.stringify(value);
  throw new SourceFetchError(
    `field "${field}" holds ${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}; expected the .dockerconfigjson as a JSON string or object`,
    false,
  );
}

/**
 * Picks the `.dockerconfigjson` out of a KV secret's data: the `key` field when configured;
 * otherwise the whole object when it has `auths`, else the `dockerconfigjson` (or
 * `.dockerconfigjson`) field. Errors name fields, never values.
 */
export function extractDockerConfig(data: Record<string, unknown>, key: string | undefined): string {
  if (key !== undefined) {
    if (!Object.hasOwn(data, key))
      throw new SourceFetchError(`the secret has no field "${key}"; ${fieldList(data)}`, false);
    return fieldText(data, key);
  }
  if (Object.hasOwn(data, "auths")) return JSON.stringify(data);
  for (const field of [DEFAULT_KEY, `.${DEFAULT_KEY}`]) {
    if (Object.hasOwn(data, field)) return fieldText(data, field);
  }
  throw new SourceFetchError(
    `the secret has neither an "auths" object nor a "${DEFAULT_KEY}" field (set "key" to the field to use); ${fieldList(data)}`,
    false,
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A {@link PollingSource} that reads a `.dockerconfigjson` from a Vault (or OpenBao) KV v1/v2
 * secret, authenticating with a token, Kubernetes or AppRole. Pass a config that went through
 * {@link validateVaultSourceConfig} (the factory does).
 */
export class VaultSource extends PollingSource {
  readonly config: VaultSourceConfig;
  readonly tokens: VaultTokenManager;

  constructor(config: VaultSourceConfig, options: VaultSourceOptions = {}) {
    const client = new VaultClient({
      address: config.address,
      namespace: config.namespace,
      caFile: config.caFile,
      transport: options.transport,
      readFile: options.readFile,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    const tokens = new VaultTokenManager(client, config.auth, {
      logger: options.logger,
      clock: options.clock,
      readFile: options.readFile,
    });
    const description = describeVaultSource(config);
    super({
      description,
      fetch: (signal) => readKvSecret(client, tokens, config, signal),
      refreshIntervalMs:
        options.refreshIntervalMs ?? (config.refreshIntervalSeconds ?? DEFAULT_REFRESH_INTERVAL_SECONDS) * 1000,
      logger: options.logger,
      clock: options.clock,
      random: options.random,
      initialBackoffMs: options.initialBackoffMs,
      maxBackoffMs: options.maxBackoffMs,
      // A hung request is cut by the client's own timeout first; this bounds login + read together.
      attemptTimeoutMs: 3 * (options.requestTimeoutMs ?? 30_000),
    });
    this.config = config;
    this.tokens = tokens;
  }

  override start(signal: AbortSignal): Promise<void> {
    if (signal.aborted) this.tokens.stop();
    else signal.addEventListener("abort", () => this.tokens.stop(), { once: true });
    return super.start(signal);
  }
}

/** One KV read: token (cached, or a login), GET, one retry with a fresh token after a 403. */
async function readKvSecret(
  client: VaultClient,
  tokens: VaultTokenManager,
  config: VaultSourceConfig,
  signal: AbortSignal,
): Promise<PolledValue> {
  const path = kvReadPath(config);
  const read = async (): Promise<{ token: string; status: number; body: unknown }> => {
    const token = await tokens.token(signal);
    const response = await client.request("GET", path, { token, signal });
    return { token, ...response };
  };
  let response = await read();
  if (response.status === 403) {
    tokens.forbidden(response.token);
    response = await read();
  }
  const operation = `reading ${path}`;
  if (response.status === 404) throw notFound(operation, response.body);
  expectOk(operation, response);
  return { bytes: extractDockerConfig(kvData(operation, response.body, config.version ?? 2), config.key) };
}

/** Why a KV read found nothing: the latest version was destroyed or deleted, or there is no secret. */
function notFound(operation: string, body: unknown): Error {
  const metadata = (body as { data?: { metadata?: { deletion_time?: unknown; destroyed?: unknown } } } | undefined)
    ?.data?.metadata;
  if (metadata?.destroyed === true) return new SourceFetchError(`${operation}: the latest version is destroyed`);
  if (typeof metadata?.deletion_time === "string" && metadata.deletion_time !== "") {
    return new SourceFetchError(`${operation}: the latest version is deleted`);
  }
  return new VaultApiError(operation, 404, ["no secret at this path"]);
}

/** The secret's fields: `data.data` in KV v2, `data` in KV v1. */
function kvData(operation: string, body: unknown, version: 1 | 2): Record<string, unknown> {
  const outer = (body as { data?: unknown } | undefined)?.data;
  const data = version === 2 ? (isRecord(outer) ? outer.data : undefined) : outer;
  if (isRecord(data)) return data;
  const hint = version === 2 ? " (is this a KV v1 mount? set version: 1)" : "";
  throw new SourceFetchError(`${operation}: the answer has no data object${hint}`, false);
}

/** Creates a {@link VaultSource}; the functional twin of the factory's `create`. */
export function createVaultSource(config: VaultSourceConfig, options: VaultSourceOptions = {}): VaultSource {
  return new VaultSource(config, options);
}

/** The `vault` source type, for the plugin registry. */
export const vaultSourceFactory: SourceFactory<VaultSourceConfig> = {
  type: "vault",
  summary: "reads a .dockerconfigjson from a Vault or OpenBao KV (v1/v2) secret; token, Kubernetes or AppRole auth",
  validate: validateVaultSourceConfig,
  create: (config, context) =>
    new VaultSource(config, {
      logger: context.logger.child({ source: "vault", mapping: context.mappingName }),
    }),
};
