import { PluginConfigError } from "@imagepullsecret-patcher/core";

/** Config of the `gcp` source, as users write it under `source:` in config.yaml. */
export interface GcpSourceConfig {
  /**
   * Registry hosts the token is written for: Artifact Registry (`europe-docker.pkg.dev`) and
   * Container Registry (`gcr.io`, `eu.gcr.io`). Each becomes a key under `auths`.
   */
  readonly registries: readonly string[];
  /**
   * A service account key file (JSON). Unset: GOOGLE_APPLICATION_CREDENTIALS if set, else the
   * metadata server (GKE Workload Identity Federation, GCE).
   */
  readonly keyFile?: string | undefined;
  /**
   * A service account to impersonate (`sa@project.iam.gserviceaccount.com`): the credentials above
   * get its tokens from the IAM Credentials API, which needs `roles/iam.serviceAccountTokenCreator`.
   */
  readonly impersonate?: string | undefined;
  /**
   * Longest time, in seconds, between two tokens. Default 3600: the token's expiry decides (each new token rewrites
   * every copy, so no more often than needed); tokens are refreshed earlier when they expire sooner.
   */
  readonly refreshIntervalSeconds: number;
}

export const DEFAULT_REFRESH_INTERVAL_SECONDS = 3600;
const MAX_REFRESH_INTERVAL_SECONDS = 3600;
const KEYS = ["registries", "keyFile", "impersonate", "refreshIntervalSeconds"];
/** Service account emails: user-managed (`…@PROJECT.iam.gserviceaccount.com`) and Google-managed ones. */
const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9][a-z0-9._-]{0,99}@[a-z0-9][a-z0-9.-]{0,99}\.gserviceaccount\.com$/;

/** DNS label: lower-case letters, digits and inner hyphens. */
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
/** `<region>-docker.pkg.dev` (Artifact Registry), `gcr.io` and `<location>.gcr.io` (Container Registry). */
const GOOGLE_REGISTRY_HOST = new RegExp(`^(?:${LABEL}-docker\\.pkg\\.dev|(?:${LABEL}\\.)?gcr\\.io)$`);
const HOST_FORMS = "a Google registry host such as europe-docker.pkg.dev, gcr.io or eu.gcr.io";

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

function registryHost(value: unknown, path: string): string {
  if (typeof value !== "string") throw new PluginConfigError(path, `must be a string, got ${describeType(value)}`);
  const host = value.trim();
  if (host === "") throw new PluginConfigError(path, "must not be empty");
  if (host.includes("/")) {
    throw new PluginConfigError(path, `must be a host without scheme or path (${HOST_FORMS}), got "${value}"`);
  }
  // The token is Google's: written for another host, the kubelet would hand it to that registry.
  if (!GOOGLE_REGISTRY_HOST.test(host)) throw new PluginConfigError(path, `must be ${HOST_FORMS}, got "${value}"`);
  return host;
}

function registriesOf(record: Record<string, unknown>): string[] {
  const value = record.registries;
  if (value === undefined) throw new PluginConfigError("registries", `is required: a list of hosts (${HOST_FORMS})`);
  if (!Array.isArray(value)) throw new PluginConfigError("registries", `must be a list, got ${describeType(value)}`);
  if (value.length === 0) throw new PluginConfigError("registries", "must name at least one registry host");
  const hosts: string[] = [];
  value.forEach((entry: unknown, i) => {
    const host = registryHost(entry, `registries[${i}]`);
    if (hosts.includes(host)) throw new PluginConfigError(`registries[${i}]`, `"${host}" is listed twice`);
    hosts.push(host);
  });
  return hosts;
}

function keyFileOf(record: Record<string, unknown>): string | undefined {
  const value = record.keyFile;
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new PluginConfigError("keyFile", `must be a path, got ${describeType(value)}`);
  if (value.trim() === "") throw new PluginConfigError("keyFile", "must not be empty");
  return value;
}

function impersonateOf(record: Record<string, unknown>): string | undefined {
  const value = record.impersonate;
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !SERVICE_ACCOUNT_EMAIL.test(value)) {
    const got = typeof value === "string" ? `"${value}"` : describeType(value);
    throw new PluginConfigError(
      "impersonate",
      `must be a service account email such as puller@my-project.iam.gserviceaccount.com, got ${got}`,
    );
  }
  return value;
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
 * Checks a `gcp` config and fills in defaults. Errors are {@link PluginConfigError}s whose path is
 * relative to this config object; the app prefixes the mapping's path.
 */
export function validateGcpSourceConfig(config: unknown): GcpSourceConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new PluginConfigError("", `expected a map with registries, got ${describeType(config)}`);
  }
  const record = config as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) throw new PluginConfigError(key, `unknown key; valid keys: ${KEYS.join(", ")}`);
  }
  const keyFile = keyFileOf(record);
  const impersonate = impersonateOf(record);
  return {
    registries: registriesOf(record),
    ...(keyFile === undefined ? {} : { keyFile }),
    ...(impersonate === undefined ? {} : { impersonate }),
    refreshIntervalSeconds: refreshIntervalOf(record),
  };
}
