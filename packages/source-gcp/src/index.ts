// @imagepullsecret-patcher/source-gcp: Google Artifact Registry and GCR credentials for imagepullsecret-patcher.
//
// config.yaml (the app loads this package when a mapping uses the `gcp` type):
//   source:
//     gcp: { registries: [europe-docker.pkg.dev, gcr.io] }
import type { PluginPackage } from "@imagepullsecret-patcher/core";
import { gcpSourceFactory } from "./gcp-source.js";

export {
  GcpSource,
  gcpSourceFactory,
  describeGcpSource,
  tokenProviderFor,
  tokenValue,
  steadyExpiry,
  REFRESH_INTERVAL_JITTER_FRACTION,
  type GcpSourceOptions,
} from "./gcp-source.js";
export { validateGcpSourceConfig, DEFAULT_REFRESH_INTERVAL_SECONDS, type GcpSourceConfig } from "./config.js";
export { gcpDockerConfigJson, GOOGLE_TOKEN_USERNAME } from "./docker-config.js";
export {
  ApplicationDefaultTokens,
  KeyFileTokens,
  parseServiceAccountKey,
  CLOUD_PLATFORM_SCOPE,
  GOOGLE_TOKEN_URL,
  type AccessToken,
  type CredentialSource,
  type TokenProvider,
  type ReadTextFile,
} from "./credentials.js";
export { describeAuthError } from "./errors.js";
export { ImpersonatedTokens, IAM_CREDENTIALS_ENDPOINT } from "./impersonation.js";

/** What the patcher loads: `plugins: ["@imagepullsecret-patcher/source-gcp"]`, or on its own for a `gcp` mapping. */
export const plugin: PluginPackage = { sources: [gcpSourceFactory] };
export default plugin;
