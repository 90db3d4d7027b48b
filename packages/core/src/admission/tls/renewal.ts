import {
  createCertificateAuthority,
  issueServingCertificate,
  type CertificateAuthorityOptions,
  type ServingCertificateOptions,
} from "./authority.js";
import type { WebhookTlsBundle } from "./bundle.js";
import {
  previousCaStillValid,
  rotationPlan,
  type RotationAction,
  type RotationOptions,
  type RotationPlan,
} from "./rotation.js";

export interface WebhookTlsOptions extends RotationOptions {
  caCommonName?: string;
  /** Defaults to a year. */
  caValidityMs?: number;
  /** Defaults to 90 days. */
  servingValidityMs?: number;
}

export interface WebhookTlsRenewal extends RotationPlan {
  /** The bundle to store and serve: the one given when the action is `keep`, a new object otherwise. */
  bundle: WebhookTlsBundle;
}

/**
 * Carries out `action` on `current` (see {@link RotationAction}). A previous CA that has expired is dropped on the
 * way, since nothing it signed can still be valid.
 * @throws Error when `action` needs a current bundle and there is none, or when a certificate cannot be issued.
 */
export async function applyRotationPlan(
  current: WebhookTlsBundle | undefined,
  action: RotationAction,
  options: WebhookTlsOptions,
): Promise<WebhookTlsBundle> {
  if (action === "create") return createBundle(options);
  if (!current) throw new Error(`webhook TLS: cannot ${action} without a current bundle`);
  if (action === "keep") return current;
  if (action === "rotate-ca") return rotateCertificateAuthority(current, options);
  const serving = await issueServingCertificate(
    { certPem: current.caCertPem, keyPem: current.caKeyPem },
    servingOptions(options),
  );
  return withPrevious(
    { caCertPem: current.caCertPem, caKeyPem: current.caKeyPem, certPem: serving.certPem, keyPem: serving.keyPem },
    current,
    options.now,
  );
}

/** {@link rotationPlan} then {@link applyRotationPlan}: the bundle as it should be at `options.now`. */
export async function renewWebhookTls(
  current: WebhookTlsBundle | undefined,
  options: WebhookTlsOptions,
): Promise<WebhookTlsRenewal> {
  const plan = await rotationPlan(current, options);
  return { ...plan, bundle: await applyRotationPlan(current, plan.action, options) };
}

async function createBundle(options: WebhookTlsOptions): Promise<WebhookTlsBundle> {
  const ca = await createCertificateAuthority(caOptions(options));
  const serving = await issueServingCertificate(ca, servingOptions(options));
  return { caCertPem: ca.certPem, caKeyPem: ca.keyPem, certPem: serving.certPem, keyPem: serving.keyPem };
}

/** A new CA; the old one becomes the previous CA and the serving certificate it signed is kept (see rotation.ts). */
async function rotateCertificateAuthority(
  current: WebhookTlsBundle,
  options: WebhookTlsOptions,
): Promise<WebhookTlsBundle> {
  const ca = await createCertificateAuthority(caOptions(options));
  return {
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    certPem: current.certPem,
    keyPem: current.keyPem,
    previousCaCertPem: current.caCertPem,
  };
}

function withPrevious(next: WebhookTlsBundle, current: WebhookTlsBundle, now: Date): WebhookTlsBundle {
  return previousCaStillValid(current, now) ? { ...next, previousCaCertPem: current.previousCaCertPem } : next;
}

function caOptions(options: WebhookTlsOptions): CertificateAuthorityOptions {
  return { now: options.now, commonName: options.caCommonName, validityMs: options.caValidityMs };
}

function servingOptions(options: WebhookTlsOptions): ServingCertificateOptions {
  const { now, dnsNames, ipAddresses, servingValidityMs } = options;
  return { now, dnsNames, ipAddresses, validityMs: servingValidityMs };
}
