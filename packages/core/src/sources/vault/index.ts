export {
  VaultSource,
  createVaultSource,
  vaultSourceFactory,
  describeVaultSource,
  extractDockerConfig,
  kvReadPath,
  type VaultSourceOptions,
} from "./vault-source.js";
export {
  validateVaultSourceConfig,
  DEFAULT_KV_MOUNT,
  DEFAULT_KEY,
  DEFAULT_REFRESH_INTERVAL_SECONDS,
  DEFAULT_KUBERNETES_MOUNT,
  DEFAULT_APPROLE_MOUNT,
  DEFAULT_JWT_FILE,
  type VaultSourceConfig,
  type VaultAuthConfig,
  type VaultTokenAuthConfig,
  type VaultKubernetesAuthConfig,
  type VaultAppRoleAuthConfig,
} from "./config.js";
export { VaultTokenManager, authMethodName, RENEW_FRACTION, type VaultTokenManagerOptions } from "./auth.js";
export {
  VaultClient,
  VaultApiError,
  fetchTransport,
  httpsTransport,
  type VaultTransport,
  type VaultHttpRequest,
  type VaultHttpResponse,
  type VaultClientOptions,
  type ReadTextFile,
} from "./client.js";
