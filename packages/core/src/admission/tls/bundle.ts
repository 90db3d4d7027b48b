import { x509 } from "./x509.js";

/**
 * The webhook's self-managed TLS material, as kept in one Secret shared by all replicas. Every value is PEM; keys
 * are PKCS#8.
 */
export interface WebhookTlsBundle {
  /** The CA that signs the serving certificate, published in the webhook configuration's `caBundle`. */
  caCertPem: string;
  caKeyPem: string;
  /** The serving certificate and its key. */
  certPem: string;
  keyPem: string;
  /** The CA the current one replaced, still published until it expires so what it signed keeps being trusted. */
  previousCaCertPem?: string;
}

/** The Secret `data` key of each field of {@link WebhookTlsBundle}. */
export const WEBHOOK_TLS_SECRET_KEYS = {
  caCertPem: "ca.crt",
  caKeyPem: "ca.key",
  certPem: "tls.crt",
  keyPem: "tls.key",
  previousCaCertPem: "ca-previous.crt",
} as const satisfies Record<keyof WebhookTlsBundle, string>;

/** A Secret `data` value that cannot be used. The message names the key and the problem, never the value. */
export class WebhookTlsSecretError extends Error {
  override readonly name = "WebhookTlsSecretError";

  constructor(
    readonly key: string,
    readonly problem: string,
  ) {
    super(`${key}: ${problem}`);
  }
}

/** The bundle as a Secret's `data` map: base64 of each PEM. */
export function webhookTlsSecretData(bundle: WebhookTlsBundle): Record<string, string> {
  const data: Record<string, string> = {};
  for (const [field, key] of Object.entries(WEBHOOK_TLS_SECRET_KEYS)) {
    const pem = bundle[field as keyof WebhookTlsBundle];
    if (pem !== undefined) data[key] = Buffer.from(pem, "utf8").toString("base64");
  }
  return data;
}

/**
 * Reads a bundle back from a Secret's `data` map, checking that each certificate parses and each key is a PKCS#8
 * PEM. Whether keys match certificates and who signed what is for {@link rotationPlan} to judge.
 * @throws WebhookTlsSecretError on the first unusable value.
 */
export function parseWebhookTlsSecretData(
  data: Readonly<Record<string, string | undefined>> | undefined,
): WebhookTlsBundle {
  const source = data ?? {};
  const bundle: WebhookTlsBundle = {
    caCertPem: certificatePem(source, WEBHOOK_TLS_SECRET_KEYS.caCertPem),
    caKeyPem: privateKeyPem(source, WEBHOOK_TLS_SECRET_KEYS.caKeyPem),
    certPem: certificatePem(source, WEBHOOK_TLS_SECRET_KEYS.certPem),
    keyPem: privateKeyPem(source, WEBHOOK_TLS_SECRET_KEYS.keyPem),
  };
  if (source[WEBHOOK_TLS_SECRET_KEYS.previousCaCertPem] !== undefined) {
    bundle.previousCaCertPem = certificatePem(source, WEBHOOK_TLS_SECRET_KEYS.previousCaCertPem);
  }
  return bundle;
}

function decoded(data: Readonly<Record<string, string | undefined>>, key: string): string {
  const value = data[key];
  if (value === undefined || value === "") throw new WebhookTlsSecretError(key, "missing");
  if (Buffer.from(value, "base64").toString("base64") !== value) throw new WebhookTlsSecretError(key, "not base64");
  return Buffer.from(value, "base64").toString("utf8");
}

function pemBlocks(pem: string): x509.PemStruct[] {
  try {
    return x509.PemConverter.decodeWithHeaders(pem);
  } catch {
    return [];
  }
}

function certificatePem(data: Readonly<Record<string, string | undefined>>, key: string): string {
  const pem = decoded(data, key);
  const blocks = pemBlocks(pem);
  const usable = blocks.length > 0 && blocks.every((block) => block.type === "CERTIFICATE" && parses(block.rawData));
  if (!usable) throw new WebhookTlsSecretError(key, "not a PEM certificate");
  return pem;
}

function parses(der: ArrayBuffer): boolean {
  try {
    new x509.X509Certificate(der);
    return true;
  } catch {
    return false;
  }
}

function privateKeyPem(data: Readonly<Record<string, string | undefined>>, key: string): string {
  const pem = decoded(data, key);
  const blocks = pemBlocks(pem);
  if (blocks.length !== 1 || blocks[0]?.type !== "PRIVATE KEY") {
    throw new WebhookTlsSecretError(key, "not a PKCS#8 PEM private key");
  }
  return pem;
}
