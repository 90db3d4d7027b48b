// @imagepullsecret-patcher/example-token-source: a source plugin for imagepullsecret-patcher.
//
// config.yaml:
//   plugins: ["@imagepullsecret-patcher/example-token-source"]
//   source:
//     token-endpoint: { url: https://tokens.example/registry, registry: registry.example, username: robot }
import type { PluginPackage } from "@imagepullsecret-patcher/core";
import { tokenEndpointSourceFactory } from "./token-source.js";

export {
  TokenEndpointSource,
  tokenEndpointSourceFactory,
  describeTokenEndpoint,
  parseAnswer,
  type TokenEndpointSourceOptions,
} from "./token-source.js";
export {
  validateTokenEndpointConfig,
  DEFAULT_TOKEN_FIELD,
  DEFAULT_EXPIRES_IN_FIELD,
  DEFAULT_REFRESH_INTERVAL_SECONDS,
  type TokenEndpointConfig,
} from "./config.js";
export { tokenDockerConfigJson } from "./docker-config.js";
export {
  nodeTransport,
  MAX_RESPONSE_BYTES,
  type TokenTransport,
  type TokenRequest,
  type TokenResponse,
  type ReadTextFile,
} from "./http.js";

/** What the patcher loads: `plugins: ["@imagepullsecret-patcher/example-token-source"]`. */
export const plugin: PluginPackage = { sources: [tokenEndpointSourceFactory] };
export default plugin;
