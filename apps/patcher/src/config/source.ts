import type { LoadedConfig } from "./load.js";

/** Where the config is mounted from its ConfigMap in the shipped manifests. */
export const DEFAULT_CONFIG_PATH = "/etc/imagepullsecret-patcher/config.yaml";

/** The config the process runs with, and where it came from. */
export interface ResolvedConfig {
  loaded: LoadedConfig;
  /** The file to watch for hot reload; undefined for the environment form. */
  file: string | undefined;
  /** CONFIG_RUNONCE asked for a single pass. */
  runOnce: boolean;
}
