import { PluginConfigError } from "../../plugins/contracts.js";

/** A token given directly or, better, in a file (a Vault Agent sink, a mounted Secret). */
export interface VaultTokenAuthConfig {
  token?: string | undefined;
  tokenFile?: string | undefined;
}

/** Vault's Kubernetes auth method: logs in with the pod's ServiceAccount token. */
export interface VaultKubernetesAuthConfig {
  role: string;
  /** Auth mount path (default `kubernetes`). */
  mount?: string | undefined;
  /** Default `/var/run/secrets/kubernetes.io/serviceaccount/token`; re-read at every login. */
  jwtFile?: string | undefined;
}

/** Vault's AppRole auth method. `secretId`/`secretIdFile` may both be absent for roles without one. */
export interface VaultAppRoleAuthConfig {
  roleId: string;
  secretId?: string | undefined;
  /** Re-read at every login. */
  secretIdFile?: string | undefined;
  /** Auth mount path (default `approle`). */
  mount?: string | undefined;
}

export type VaultAuthConfig =
  { token: VaultTokenAuthConfig } | { kubernetes: VaultKubernetesAuthConfig } | { appRole: VaultAppRoleAuthConfig };

/** Config of the `vault` source, as users write it. */
export interface VaultSourceConfig {
  /** Vault's base URL, e.g. `https://vault.example:8200`. */
  address: string;
  /** KV mount path (default `secret`). */
  mount?: string | undefined;
  /** Secret path inside the mount, e.g. `registry/dockerconfig`. */
  path: string;
  /** KV engine version (default 2). */
  version?: 1 | 2 | undefined;
  /**
   * Field holding the `.dockerconfigjson` (a JSON string or object). When absent, the whole data
   * object is the value if it has `auths`; otherwise the `dockerconfigjson` field is used.
   */
  key?: string | undefined;
  /** Vault Enterprise / OpenBao namespace, sent as `X-Vault-Namespace`. */
  namespace?: string | undefined;
  /** Polling period (default 300). */
  refreshIntervalSeconds?: number | undefined;
  /** PEM bundle to trust for an `https` address instead of the system roots. */
  caFile?: string | undefined;
  auth: VaultAuthConfig;
}

export const DEFAULT_KV_MOUNT = "secret";
export const DEFAULT_KEY = "dockerconfigjson";
export const DEFAULT_REFRESH_INTERVAL_SECONDS = 300;
export const DEFAULT_KUBERNETES_MOUNT = "kubernetes";
export const DEFAULT_APPROLE_MOUNT = "approle";
export const DEFAULT_JWT_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";
export const MIN_REFRESH_INTERVAL_SECONDS = 1;
export const MAX_REFRESH_INTERVAL_SECONDS = 7 * 24 * 3600;

const TOP_KEYS = [
  "address",
  "mount",
  "path",
  "version",
  "key",
  "namespace",
  "refreshIntervalSeconds",
  "caFile",
  "auth",
];
const AUTH_METHODS = ["token", "kubernetes", "appRole"] as const;

function join(base: string, key: string): string {
  return base ? `${base}.${key}` : key;
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function asObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PluginConfigError(path, `must be an object, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

function refuseUnknownKeys(object: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw new PluginConfigError(join(path, key), `unknown key; allowed keys: ${allowed.join(", ")}`);
    }
  }
}

function optionalString(object: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new PluginConfigError(join(path, key), `must be a string, got ${describeType(value)}`);
  if (value.trim() === "") throw new PluginConfigError(join(path, key), "must not be empty");
  return value;
}

function requiredString(object: Record<string, unknown>, key: string, path: string): string {
  const value = optionalString(object, key, path);
  if (value === undefined) throw new PluginConfigError(join(path, key), "is required");
  return value;
}

/** Trims slashes and refuses empty, `.` and `..` segments, which would address another path. */
function vaultPath(object: Record<string, unknown>, key: string, path: string, fallback?: string): string {
  const raw =
    fallback === undefined ? requiredString(object, key, path) : (optionalString(object, key, path) ?? fallback);
  const trimmed = raw.trim().replace(/^\/+|\/+$/g, "");
  if (trimmed === "") throw new PluginConfigError(join(path, key), "must name a path, not only slashes");
  for (const segment of trimmed.split("/")) {
    if (segment === "" || segment === "." || segment === "..") {
      throw new PluginConfigError(join(path, key), `has an empty, "." or ".." segment: "${raw}"`);
    }
    if (/[?#%\s]/.test(segment)) {
      throw new PluginConfigError(join(path, key), `must not contain "?", "#", "%" or whitespace: "${raw}"`);
    }
  }
  return trimmed;
}

function address(object: Record<string, unknown>): string {
  const raw = requiredString(object, "address", "");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PluginConfigError("address", "must be an http(s) URL such as https://vault.example:8200");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new PluginConfigError(
      "address",
      `must be an http(s) URL, got the scheme "${url.protocol.replace(/:$/, "")}"`,
    );
  }
  if (url.username || url.password) throw new PluginConfigError("address", "must not contain credentials");
  if (url.search || url.hash) throw new PluginConfigError("address", "must not have a query or fragment");
  return url.toString().replace(/\/+$/, "");
}

function authConfig(value: unknown): VaultAuthConfig {
  const auth = asObject(value, "auth");
  const methods = Object.keys(auth);
  for (const method of methods) {
    if (!(AUTH_METHODS as readonly string[]).includes(method)) {
      throw new PluginConfigError(
        join("auth", method),
        `unknown auth method; use exactly one of ${AUTH_METHODS.join(", ")}`,
      );
    }
  }
  if (methods.length !== 1) {
    throw new PluginConfigError(
      "auth",
      methods.length === 0
        ? `must have exactly one method (${AUTH_METHODS.join(", ")})`
        : `must have exactly one method, got ${methods.join(" and ")}`,
    );
  }
  const method = methods[0] as (typeof AUTH_METHODS)[number];
  const path = join("auth", method);
  const body = asObject(auth[method], path);
  switch (method) {
    case "token": {
      refuseUnknownKeys(body, ["token", "tokenFile"], path);
      const token = optionalString(body, "token", path);
      const tokenFile = optionalString(body, "tokenFile", path);
      if ((token === undefined) === (tokenFile === undefined)) {
        throw new PluginConfigError(path, "needs exactly one of token or tokenFile");
      }
      return { token: token === undefined ? { tokenFile } : { token } };
    }
    case "kubernetes": {
      refuseUnknownKeys(body, ["role", "mount", "jwtFile"], path);
      return {
        kubernetes: {
          role: requiredString(body, "role", path),
          mount: vaultPath(body, "mount", path, DEFAULT_KUBERNETES_MOUNT),
          jwtFile: optionalString(body, "jwtFile", path) ?? DEFAULT_JWT_FILE,
        },
      };
    }
    case "appRole": {
      refuseUnknownKeys(body, ["roleId", "secretId", "secretIdFile", "mount"], path);
      const secretId = optionalString(body, "secretId", path);
      const secretIdFile = optionalString(body, "secretIdFile", path);
      if (secretId !== undefined && secretIdFile !== undefined) {
        throw new PluginConfigError(path, "takes secretId or secretIdFile, not both");
      }
      return {
        appRole: {
          roleId: requiredString(body, "roleId", path),
          mount: vaultPath(body, "mount", path, DEFAULT_APPROLE_MOUNT),
          ...(secretId !== undefined ? { secretId } : {}),
          ...(secretIdFile !== undefined ? { secretIdFile } : {}),
        },
      };
    }
  }
}

/**
 * Checks a `vault` source config and returns it with defaults filled in. Throws
 * {@link PluginConfigError} naming the offending path. Does no I/O: files are read when used.
 */
export function validateVaultSourceConfig(config: unknown): VaultSourceConfig {
  const object = asObject(config, "");
  refuseUnknownKeys(object, TOP_KEYS, "");
  const result: VaultSourceConfig = {
    address: address(object),
    mount: vaultPath(object, "mount", "", DEFAULT_KV_MOUNT),
    path: vaultPath(object, "path", ""),
    version: 2,
    refreshIntervalSeconds: DEFAULT_REFRESH_INTERVAL_SECONDS,
    auth: (() => {
      if (object.auth === undefined)
        throw new PluginConfigError("auth", `is required: one of ${AUTH_METHODS.join(", ")}`);
      return authConfig(object.auth);
    })(),
  };
  if (object.version !== undefined) {
    if (object.version !== 1 && object.version !== 2) {
      throw new PluginConfigError(
        "version",
        `must be 1 or 2 (the KV engine version), got ${JSON.stringify(object.version)}`,
      );
    }
    result.version = object.version;
  }
  const key = optionalString(object, "key", "");
  if (key !== undefined) result.key = key;
  const namespace = optionalString(object, "namespace", "");
  if (namespace !== undefined) result.namespace = namespace.replace(/^\/+|\/+$/g, "");
  const caFile = optionalString(object, "caFile", "");
  if (caFile !== undefined) result.caFile = caFile;
  if (object.refreshIntervalSeconds !== undefined) {
    const value = object.refreshIntervalSeconds;
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new PluginConfigError("refreshIntervalSeconds", `must be a number, got ${describeType(value)}`);
    }
    if (value < MIN_REFRESH_INTERVAL_SECONDS || value > MAX_REFRESH_INTERVAL_SECONDS) {
      throw new PluginConfigError(
        "refreshIntervalSeconds",
        `must be between ${MIN_REFRESH_INTERVAL_SECONDS} and ${MAX_REFRESH_INTERVAL_SECONDS}, got ${value}`,
      );
    }
    result.refreshIntervalSeconds = value;
  }
  if (caFile !== undefined && result.address.startsWith("http:")) {
    throw new PluginConfigError("caFile", "is only used with an https address");
  }
  return result;
}
