import { PluginConfigError, parseGoDuration } from "@imagepullsecret-patcher/core";

/** One ECR registry to make a credential for. */
export interface EcrRegistryConfig {
  /** AWS region of the registry, e.g. `eu-west-1`. Default: the SDK's region (`AWS_REGION`, the profile). */
  readonly region?: string | undefined;
  /**
   * Account that owns the registry (12 digits). Default: the account of the credentials in use. Another
   * account works when its repositories' policies let these credentials pull (see the guide).
   */
  readonly registryId?: string | undefined;
  /** Shared-config profile to sign in with (role chaining, another account's role). Default: the SDK's chain. */
  readonly profile?: string | undefined;
}

/**
 * Config of the `ecr` source, as users write it under `source:` in config.yaml, with defaults filled
 * in. Durations are written `30s`, `10m`, `6h` or as seconds; validated, they are seconds.
 */
export interface EcrSourceConfig {
  /** Registries whose credentials go into the one `.dockerconfigjson`. Default: the own registry in the SDK's region. */
  readonly registries: readonly EcrRegistryConfig[];
  /** Longest time between two refreshes, in seconds. Default 6 h; at most 11 h (ECR tokens live 12 h). */
  readonly refreshInterval: number;
  /** Shortest time from a success to the next refresh, in seconds, whatever expiry ECR reports. Default 60; at least 1. */
  readonly minRefreshInterval: number;
}

export const DEFAULT_REFRESH_INTERVAL_SECONDS = 6 * 3600;
export const MAX_REFRESH_INTERVAL_SECONDS = 11 * 3600;
export const DEFAULT_MIN_REFRESH_INTERVAL_SECONDS = 60;
export const MIN_MIN_REFRESH_INTERVAL_SECONDS = 1;

const KEYS = ["registries", "refreshInterval", "minRefreshInterval"];
const REGISTRY_KEYS = ["region", "registryId", "profile"];
// aws, aws-cn, aws-us-gov and the isolated partitions: eu-west-1, cn-north-1, us-gov-west-1, us-isob-east-1.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;
const PROFILE = /^[A-Za-z0-9_.@+=,-]+$/;

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

function asMap(value: unknown, path: string, expected: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PluginConfigError(path, `expected a map${expected}, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

function refuseUnknownKeys(record: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new PluginConfigError(path ? `${path}.${key}` : key, `unknown key; valid keys: ${allowed.join(", ")}`);
    }
  }
}

function optionalText(record: Record<string, unknown>, key: string, path: string): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new PluginConfigError(`${path}.${key}`, `must be a string, got ${describeType(value)}`);
  return value;
}

function regionOf(record: Record<string, unknown>, path: string): string | undefined {
  const region = optionalText(record, "region", path);
  if (region !== undefined && !REGION.test(region)) {
    throw new PluginConfigError(
      `${path}.region`,
      `must be an AWS region such as eu-west-1, got ${JSON.stringify(region)}`,
    );
  }
  return region;
}

/** 12 digits. YAML reads an unquoted ID as a number, which is fine unless it lost leading zeros. */
function registryIdOf(record: Record<string, unknown>, path: string): string | undefined {
  const value = record.registryId;
  if (value === undefined) return undefined;
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !ACCOUNT.test(text)) {
    const hint = typeof value === "number" ? ' (quote it: "012345678901" keeps its leading zeros)' : "";
    throw new PluginConfigError(
      `${path}.registryId`,
      `must be a 12-digit AWS account ID${hint}, got ${JSON.stringify(value)}`,
    );
  }
  return text;
}

function profileOf(record: Record<string, unknown>, path: string): string | undefined {
  const profile = optionalText(record, "profile", path);
  if (profile !== undefined && !PROFILE.test(profile)) {
    throw new PluginConfigError(
      `${path}.profile`,
      `must be a profile name from the AWS config file, got ${JSON.stringify(profile)}`,
    );
  }
  return profile;
}

function registryOf(value: unknown, path: string): EcrRegistryConfig {
  const record = asMap(value, path, " with region, registryId or profile");
  refuseUnknownKeys(record, REGISTRY_KEYS, path);
  const region = regionOf(record, path);
  const registryId = registryIdOf(record, path);
  const profile = profileOf(record, path);
  return {
    ...(region === undefined ? {} : { region }),
    ...(registryId === undefined ? {} : { registryId }),
    ...(profile === undefined ? {} : { profile }),
  };
}

/**
 * Two entries for the same registry would fight over one key under `auths`. Without a registryId
 * the account is the one the profile signs in to, so entries with different profiles may differ.
 */
function identity(entry: EcrRegistryConfig): string {
  const account = entry.registryId ?? (entry.profile ? `the own account of profile ${entry.profile}` : "own account");
  return `${account} in ${entry.region ?? "the default region"}`;
}

function registriesOf(record: Record<string, unknown>): EcrRegistryConfig[] {
  const value = record.registries;
  if (value === undefined) return [{}];
  if (!Array.isArray(value)) throw new PluginConfigError("registries", `must be a list, got ${describeType(value)}`);
  if (value.length === 0) throw new PluginConfigError("registries", "must name at least one registry (or be left out)");
  const seen = new Set<string>();
  return value.map((entry: unknown, i) => {
    const registry = registryOf(entry, `registries[${i}]`);
    const key = identity(registry);
    if (seen.has(key)) throw new PluginConfigError(`registries[${i}]`, `repeats the registry of ${key}`);
    seen.add(key);
    return registry;
  });
}

/** Seconds of a duration written `30s`, `10m`, `6h`, `1h30m` or as a number of seconds. */
function durationOf(record: Record<string, unknown>, key: string, fallback: number): number {
  const value = record[key];
  if (value === undefined) return fallback;
  const ms = typeof value === "number" ? value * 1000 : typeof value === "string" ? parseGoDuration(value) : undefined;
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new PluginConfigError(
      key,
      `must be a duration such as 30s, 10m or 6h (or a number of seconds), got ${JSON.stringify(value)}`,
    );
  }
  return ms / 1000;
}

function intervalsOf(record: Record<string, unknown>): Pick<EcrSourceConfig, "refreshInterval" | "minRefreshInterval"> {
  const refreshInterval = durationOf(record, "refreshInterval", DEFAULT_REFRESH_INTERVAL_SECONDS);
  // Checked first: the default floor follows refreshInterval, and would otherwise take the blame.
  if (refreshInterval < MIN_MIN_REFRESH_INTERVAL_SECONDS) {
    throw new PluginConfigError("refreshInterval", `must be at least ${MIN_MIN_REFRESH_INTERVAL_SECONDS}s`);
  }
  const fallbackMin = Math.min(DEFAULT_MIN_REFRESH_INTERVAL_SECONDS, refreshInterval);
  const minRefreshInterval = durationOf(record, "minRefreshInterval", fallbackMin);
  if (minRefreshInterval < MIN_MIN_REFRESH_INTERVAL_SECONDS) {
    throw new PluginConfigError("minRefreshInterval", `must be at least ${MIN_MIN_REFRESH_INTERVAL_SECONDS}s`);
  }
  if (refreshInterval > MAX_REFRESH_INTERVAL_SECONDS) {
    throw new PluginConfigError("refreshInterval", "must be at most 11h: ECR tokens expire after 12 hours");
  }
  if (refreshInterval < minRefreshInterval) {
    throw new PluginConfigError(
      "refreshInterval",
      `must not be shorter than minRefreshInterval (${minRefreshInterval}s)`,
    );
  }
  return { refreshInterval, minRefreshInterval };
}

/**
 * Checks an `ecr` source config and fills in defaults. Errors are {@link PluginConfigError}s whose
 * path is relative to this config object; the app prefixes the mapping's path. Does no I/O.
 */
export function validateEcrSourceConfig(config: unknown): EcrSourceConfig {
  const record = config === null || config === undefined ? {} : asMap(config, "", " (registries, refreshInterval…)");
  refuseUnknownKeys(record, KEYS, "");
  return { registries: registriesOf(record), ...intervalsOf(record) };
}
