// Picks the one place the config comes from: a file, or titansoft's CONFIG_* variables. The
// config and titansoft folders each build a config; only this module knows both.
import { existsSync } from "node:fs";
import { ConfigFileError, loadConfigFile } from "./config/load.js";
import { DEFAULT_CONFIG_PATH, type ResolvedConfig } from "./config/source.js";
import { configFromTitansoftEnv, usesTitansoftEnvironment } from "./titansoft/env-config.js";

/**
 * `--config FILE` when given; else the default mount when it exists; else titansoft's CONFIG_*
 * variables. Mixing a config file with CONFIG_* variables is refused: one source of truth.
 */
export function resolveConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const file = explicit ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined);
  const fromEnvironment = usesTitansoftEnvironment(env);
  if (file) {
    if (fromEnvironment) {
      const names = Object.keys(env).filter((k) => k.startsWith("CONFIG_"));
      throw new ConfigFileError(
        file,
        "",
        `CONFIG_* variables (${names.join(", ")}) are set too; use either the config file or the variables`,
      );
    }
    return { loaded: loadConfigFile(file), file, runOnce: false };
  }
  if (fromEnvironment) {
    const { loaded, runOnce } = configFromTitansoftEnv(env);
    return { loaded, file: undefined, runOnce };
  }
  throw new ConfigFileError(
    DEFAULT_CONFIG_PATH,
    "",
    "no config: pass --config FILE, mount one at this path, or set titansoft's CONFIG_* variables",
  );
}

export { DEFAULT_CONFIG_PATH, type ResolvedConfig };
