import { GO_DURATION_PATTERN } from "@imagepullsecret-patcher/core";
import { ConfigFileError, expandMappings, type LoadedConfig } from "../config/load.js";
import { configSchema, type PatcherConfig } from "../config/schema.js";

/** titansoft/imagepullsecret-patcher's variables, all optional. */
export const TITANSOFT_VARIABLES = [
  "CONFIG_SECRETNAME",
  "CONFIG_EXCLUDED_NAMESPACES",
  "CONFIG_SERVICEACCOUNTS",
  "CONFIG_ALLSERVICEACCOUNT",
  "CONFIG_DOCKERCONFIGJSON",
  "CONFIG_DOCKERCONFIGJSONPATH",
  "CONFIG_FORCE",
  "CONFIG_MANAGEDONLY",
  "CONFIG_RUNONCE",
  "CONFIG_LOOP_DURATION",
  "CONFIG_DEBUG",
] as const;

const ORIGIN = "environment";

/** The variable each config field comes from, so that an error names what the user set. */
const VARIABLE_OF_FIELD: Record<string, string> = {
  secretName: "CONFIG_SECRETNAME",
  "controller.resyncInterval": "CONFIG_LOOP_DURATION",
  serviceAccounts: "CONFIG_SERVICEACCOUNTS",
};

export function usesTitansoftEnvironment(env: NodeJS.ProcessEnv): boolean {
  return TITANSOFT_VARIABLES.some((name) => env[name] !== undefined);
}

/** Go's strconv.ParseBool; anything else is an error here (titansoft silently used the default). */
function parseBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined) return fallback;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new ConfigFileError(ORIGIN, name, `"${value}" is not a boolean (use true or false)`);
}

/** Go's time.ParseDuration subset titansoft users write ("10s", "1m30s"); errors instead of defaults. */
function parseDuration(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name] ?? fallback;
  if (!GO_DURATION_PATTERN.test(value))
    throw new ConfigFileError(ORIGIN, name, `"${value}" is not a duration (for example 10s, 1m)`);
  return value;
}

/** Comma list; entries are trimmed (titansoft did not trim, so "a, b" never matched "b"). */
function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface TitansoftEnvConfig {
  loaded: LoadedConfig;
  /** CONFIG_RUNONCE: one pass, then exit. */
  runOnce: boolean;
}

/** The credential's source: CONFIG_DOCKERCONFIGJSON (inline) or CONFIG_DOCKERCONFIGJSONPATH (a file), exactly one. */
function credentialSource(env: NodeJS.ProcessEnv): unknown {
  const inline = env.CONFIG_DOCKERCONFIGJSON;
  const path = env.CONFIG_DOCKERCONFIGJSONPATH;
  if (inline !== undefined && path !== undefined) {
    throw new ConfigFileError(
      ORIGIN,
      "CONFIG_DOCKERCONFIGJSON",
      "set either CONFIG_DOCKERCONFIGJSON or CONFIG_DOCKERCONFIGJSONPATH, not both",
    );
  }
  if (inline !== undefined) return { env: { variable: "CONFIG_DOCKERCONFIGJSON" } };
  if (path === undefined) {
    throw new ConfigFileError(
      ORIGIN,
      "CONFIG_DOCKERCONFIGJSONPATH",
      "no credential: set CONFIG_DOCKERCONFIGJSONPATH (a mounted file) or CONFIG_DOCKERCONFIGJSON",
    );
  }
  if (path.trim() === "") throw new ConfigFileError(ORIGIN, "CONFIG_DOCKERCONFIGJSONPATH", "is empty");
  return { file: { path } };
}

function serviceAccountsOf(env: NodeJS.ProcessEnv, all: boolean): "all" | string[] {
  if (all) return "all";
  const names = parseList(env.CONFIG_SERVICEACCOUNTS ?? "default");
  if (names.length === 0)
    throw new ConfigFileError(ORIGIN, "CONFIG_SERVICEACCOUNTS", "is empty: it would patch no ServiceAccount");
  return names;
}

/** The schema's verdict on the built config; a problem names the variable it came from. */
function checked(raw: unknown): PatcherConfig {
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw ConfigFileError.of(
    ORIGIN,
    parsed.error.issues.map((issue) => {
      const field = issue.path.join(".");
      return new ConfigFileError(ORIGIN, VARIABLE_OF_FIELD[field] ?? field, issue.message);
    }),
  );
}

/**
 * Builds the config equivalent to a titansoft deployment's CONFIG_* variables:
 * one mapping, all namespaces minus the excluded ones (and the titansoft exclude annotation).
 * See docs/migration-from-titansoft.md for each variable.
 */
export function configFromTitansoftEnv(env: NodeJS.ProcessEnv): TitansoftEnvConfig {
  const source = credentialSource(env);
  const force = parseBool(env, "CONFIG_FORCE", true);
  const managedOnly = parseBool(env, "CONFIG_MANAGEDONLY", false);
  const allServiceAccounts = parseBool(env, "CONFIG_ALLSERVICEACCOUNT", false);
  const runOnce = parseBool(env, "CONFIG_RUNONCE", false);
  const debug = parseBool(env, "CONFIG_DEBUG", false);
  const loop = parseDuration(env, "CONFIG_LOOP_DURATION", "10s");
  const config = checked({
    // titansoft's default, whatever the source: the copies keep the name they had before.
    secretName: env.CONFIG_SECRETNAME ?? "image-pull-secret",
    source,
    targets: { all: { exclude: parseList(env.CONFIG_EXCLUDED_NAMESPACES ?? "") } },
    serviceAccounts: serviceAccountsOf(env, allServiceAccounts),
    // CONFIG_MANAGEDONLY means "only touch Secrets we manage" (titansoft inverted it by mistake).
    conflictPolicy: managedOnly || !force ? "skip" : "overwrite",
    controller: { resyncInterval: loop },
    log: { level: debug ? "debug" : "info" },
  });
  return { runOnce, loaded: { config, mappings: expandMappings(config), origin: ORIGIN, lineOf: () => undefined } };
}
