// tsyringe (used by the composition root) needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
// Programmatic entry points of the patcher app, for tests and tools; the binary is main.js.
export { runCli, EXIT } from "./cli.js";
export { runController, runOnce, type RunOptions } from "./run.js";
export { resolveConfig, DEFAULT_CONFIG_PATH, type ResolvedConfig } from "./resolve-config.js";
export { loadConfigFile, parseConfigText, ConfigFileError, type LoadedConfig } from "./config/load.js";
export { configFromTitansoftEnv, TITANSOFT_VARIABLES } from "./titansoft/env-config.js";
export { createPatcherContainer, Tokens } from "./container.js";
export { PluginLoadError } from "./plugins/load.js";
export { VERSION } from "./version.js";
