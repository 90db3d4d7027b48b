// @imagepullsecret-patcher/source-ecr: Amazon ECR registry credentials for imagepullsecret-patcher.
//
// config.yaml (the app loads this package by itself when a mapping uses `ecr`):
//   source:
//     ecr: { registries: [{ region: eu-west-1 }, { region: eu-west-1, registryId: "210987654321" }] }
import type { PluginPackage } from "@imagepullsecret-patcher/core";
import { ecrSourceFactory } from "./ecr-source.js";

export {
  EcrSource,
  ecrSourceFactory,
  describeEcrSource,
  REFRESH_INTERVAL_JITTER_FRACTION,
  type EcrSourceOptions,
} from "./ecr-source.js";
export {
  validateEcrSourceConfig,
  DEFAULT_REFRESH_INTERVAL_SECONDS,
  MAX_REFRESH_INTERVAL_SECONDS,
  DEFAULT_MIN_REFRESH_INTERVAL_SECONDS,
  MIN_MIN_REFRESH_INTERVAL_SECONDS,
  type EcrSourceConfig,
  type EcrRegistryConfig,
} from "./config.js";
export { EcrLoginFetcher, callGroups, type CallGroup, type EcrLogins, type EcrClientSettings } from "./fetcher.js";
export { decodeAuthorizationToken, registryHost, ecrDockerConfigJson, type RegistryLogin } from "./docker-config.js";
export { describeAwsError } from "./errors.js";

/** What the patcher loads: `plugins: ["@imagepullsecret-patcher/source-ecr"]`, or by itself for type `ecr`. */
export const plugin: PluginPackage = { sources: [ecrSourceFactory] };
export default plugin;
