import { PluginConfigError } from "@imagepullsecret-patcher/core";

/** Config of the `token-endpoint` source, as users write it under `source:` in config.yaml. */
export interface TokenEndpointConfig {
  /** The token endpoint, `http(s)://…`. */
  readonly url: string;
  /** Registry host the token is for; the key under `auths` in the `.dockerconfigjson`. */
  readonly registry: string;
  /** User name the registry expects next to the token (e.g. `oauth2accesstoken`, `AWS`, a robot name). */
  readonly username: string;
  /** Field of the JSON answer holding the token; dots reach into objects (`data.token`). Default `token`. */
  readonly tokenField: string;
  /** Field holding the token's lifetime in seconds. Default `expires_in`. Absent in an answer: no expiry. */
  readonly expiresInField: string;
  /** PEM bundle to trust for an `https` url instead of the system roots; re-read at every request. */
  readonly caFile?: string | undefined;
  /** `POST` (default) or `GET`. */
  readonly method: "GET" | "POST";
  /** Refresh period when the answer has no lifetime. Default 300. Expiring tokens are refreshed earlier. */
  readonly refreshIntervalSeconds: number;
}

export const DEFAULT_TOKEN_FIELD = "token";
export const DEFAULT_EXPIRES_IN_FIELD = "expires_in";
export const DEFAULT_REFRESH_INTERVAL_SECONDS = 300;
const MAX_REFRESH_INTERVAL_SECONDS = 7 * 24 * 3600;
const KEYS = [
  "url",
  "registry",
  "username",
  "tokenField",
  "expiresInField",
  "caFile",
  "method",
  "refreshIntervalSeconds",
];
const FIELD_PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

function text(config: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = config[key];
  if (value === undefined) {
    if (required) throw new PluginConfigError(key, "is required");
    return undefined;
  }
  if (typeof value !== "string") throw new PluginConfigError(key, `must be a string, got ${describeType(value)}`);
  if (value.trim() === "") throw new PluginConfigError(key, "must not be empty");
  return value;
}

function endpoint(config: Record<string, unknown>): string {
  const raw = text(config, "url", true) ?? "";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PluginConfigError("url", "must be an http(s) URL such as https://tokens.example/v1/registry-token");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PluginConfigError("url", `must be an http(s) URL, got the scheme "${url.protocol.replace(/:$/, "")}"`);
  }
  if (url.username || url.password) throw new PluginConfigError("url", "must not contain credentials");
  if (url.hash) throw new PluginConfigError("url", "must not have a fragment");
  return url.toString();
}

function fieldPath(config: Record<string, unknown>, key: string, fallback: string): string {
  const value = text(config, key, false) ?? fallback;
  if (!FIELD_PATH.test(value))
    throw new PluginConfigError(key, `must be a field name, or names joined by "." (e.g. data.token), got "${value}"`);
  return value;
}

function registryOf(record: Record<string, unknown>): string {
  const registry = text(record, "registry", true) ?? "";
  if (/\s/.test(registry)) throw new PluginConfigError("registry", "must not contain whitespace");
  return registry;
}

function usernameOf(record: Record<string, unknown>): string {
  const username = text(record, "username", true) ?? "";
  if (username.includes(":")) {
    throw new PluginConfigError("username", 'must not contain ":" (it separates user and password in registry auth)');
  }
  return username;
}

function methodOf(record: Record<string, unknown>): "GET" | "POST" {
  const method = record.method ?? "POST";
  if (method !== "GET" && method !== "POST") {
    throw new PluginConfigError("method", `must be GET or POST, got ${JSON.stringify(method)}`);
  }
  return method;
}

function refreshIntervalOf(record: Record<string, unknown>): number {
  const interval = record.refreshIntervalSeconds ?? DEFAULT_REFRESH_INTERVAL_SECONDS;
  const valid = typeof interval === "number" && Number.isFinite(interval) && interval >= 1;
  if (!valid || interval > MAX_REFRESH_INTERVAL_SECONDS) {
    const range = `must be a number of seconds from 1 to ${MAX_REFRESH_INTERVAL_SECONDS}`;
    throw new PluginConfigError("refreshIntervalSeconds", range);
  }
  return interval;
}

/**
 * Checks a `token-endpoint` config and fills in defaults. Errors are {@link PluginConfigError}s
 * whose path is relative to this config object; the app prefixes the mapping's path.
 */
export function validateTokenEndpointConfig(config: unknown): TokenEndpointConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new PluginConfigError("", `expected a map with url, registry and username, got ${describeType(config)}`);
  }
  const record = config as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) throw new PluginConfigError(key, `unknown key; valid keys: ${KEYS.join(", ")}`);
  }
  const url = endpoint(record);
  const registry = registryOf(record);
  const username = usernameOf(record);
  const method = methodOf(record);
  const interval = refreshIntervalOf(record);
  const caFile = text(record, "caFile", false);
  if (caFile !== undefined && !url.startsWith("https:"))
    throw new PluginConfigError("caFile", "only applies to an https url");
  return {
    url,
    registry,
    username,
    tokenField: fieldPath(record, "tokenField", DEFAULT_TOKEN_FIELD),
    expiresInField: fieldPath(record, "expiresInField", DEFAULT_EXPIRES_IN_FIELD),
    ...(caFile === undefined ? {} : { caFile }),
    method,
    refreshIntervalSeconds: interval,
  };
}
