import { existsSync } from "node:fs";
import { ConfigFileError, loadConfigFile, type LoadedConfig } from "./load.js";
import { configFromTitansoftEnv, usesTitansoftEnvironment } from "../titansoft/env-config.js";

/** Where the config is mounted from its ConfigMap in the shipped manifests. */
export const DEFAULT_CONFIG_PATH = "/etc/imagepullsecret-patcher/config.yaml";

export interface ResolvedConfig {
  loaded: LoadedConfig;
  /** The file to watch for hot reload; undefined for the environment form. */
  file: string | undefined;
  /** CONFIG_RUNONCE asked for a single pass. */
  runOnce: boolean;
}

/**
 * `--config FILE` when given; else the default mount when it exists; else titansoft's CONFIG_*
 * variables. Mixing a config file with CONFIG_* variables is refused: one source of truth.
 */
export function resolveConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const file = explicit ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  if (file) {
    if (usesTitansoftEnvironment(env)) {
      const names = Object.keys(env).filter((k) => k.startsWith("CONFIG_"));
      throw new ConfigFileError(file, "", `CONFIG_* variables (${names.join(", ")}) are set too; use either the config file or the variables`);
    }
    return { loaded: loadConfigFile(file), file, runOnce: false };
  }
  if (usesTitansoftEnvironment(env)) {
    const { loaded, runOnce } = configFromTitansoftEnv(env);
    return { loaded, file: undefined, runOnce };
  }
  throw new ConfigFileError(DEFAULT_CONFIG_PATH, "", "no config: pass --config FILE, mount one at this path, or set titansoft's CONFIG_* variables");
}
