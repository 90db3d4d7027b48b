// @imagepullsecret-patcher/source-acr: the `acr` source (Azure Container Registry).
//
// config.yaml (the app loads this package by itself when a mapping uses `acr`):
//   source:
//     acr: { registries: [myregistry.azurecr.io] }
//
// Guide: docs/guides/acr.md.
import type { PluginPackage } from "@imagepullsecret-patcher/core";
import { acrSourceFactory } from "./acr-source.js";

export {
  AcrSource,
  acrSourceFactory,
  describeAcr,
  earliestExpiry,
  DEFAULT_REFRESH_TOKEN_LIFETIME_MS,
  type AcrSourceOptions,
} from "./acr-source.js";
export {
  validateAcrConfig,
  CREDENTIAL_KINDS,
  DEFAULT_ACR_SCOPE,
  type AcrConfig,
  type CredentialKind,
} from "./config.js";
export {
  chooseCredential,
  buildCredential,
  credentialLabel,
  type AzureEnvironment,
  type IdentityChoice,
  type ResolvedKind,
} from "./credential.js";
export { ACR_REFRESH_TOKEN_USERNAME, acrDockerConfigJson } from "./docker-config.js";
export {
  exchangeRefreshToken,
  exchangeForm,
  exchangeUrl,
  parseExchangeResponse,
  MAX_EXCHANGE_RESPONSE_BYTES,
  type ExchangeRequest,
  type Fetch,
} from "./exchange.js";
export { jwtClaims, jwtExpiry, jwtTenant } from "./jwt.js";

/** What the patcher loads for `acr` mappings. */
export const plugin: PluginPackage = { sources: [acrSourceFactory] };
export default plugin;
