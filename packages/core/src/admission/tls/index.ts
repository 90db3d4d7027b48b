export {
  type IssuedCertificate,
  type SigningAuthority,
  type CertificateAuthorityOptions,
  type ServingCertificateOptions,
  createCertificateAuthority,
  issueServingCertificate,
  DEFAULT_CA_VALIDITY_MS,
  DEFAULT_SERVING_VALIDITY_MS,
  DEFAULT_CA_COMMON_NAME,
  CLOCK_SKEW_MS,
} from "./authority.js";
export {
  type WebhookTlsBundle,
  WEBHOOK_TLS_SECRET_KEYS,
  WebhookTlsSecretError,
  webhookTlsSecretData,
  parseWebhookTlsSecretData,
} from "./bundle.js";
export {
  type RotationAction,
  type RotationPlan,
  type RotationTiming,
  type RotationOptions,
  rotationPlan,
  nextCheckAt,
  caBundlePem,
  webhookCaBundle,
  previousCaStillValid,
  DEFAULT_RENEW_BEFORE_FRACTION,
  DEFAULT_CA_PROPAGATION_MS,
  MAX_CHECK_INTERVAL_MS,
} from "./rotation.js";
export { type WebhookTlsOptions, type WebhookTlsRenewal, applyRotationPlan, renewWebhookTls } from "./renewal.js";
