import { isIP } from "node:net";
import { generateKeyPair, importSigningKey, privateKeyPem, randomSerialNumber, SIGNING_ALGORITHM } from "./keys.js";
import { crypto, x509, type CryptoKey } from "./x509.js";

const DAY_MS = 24 * 60 * 60 * 1000;

// Lifetimes follow cert-manager's defaults: its CA certificates last a year and its leaves 90 days, renewed when a
// third of their life is left. Short enough that a leaked key soon stops mattering, long enough that a patcher
// down for a few weeks comes back to certificates that still work.
/** How long a self-managed CA is valid. */
export const DEFAULT_CA_VALIDITY_MS = 365 * DAY_MS;
/** How long a serving certificate is valid (cut short to its CA's end). */
export const DEFAULT_SERVING_VALIDITY_MS = 90 * DAY_MS;
/**
 * Certificates start this long before `now`: the API server's clock, or another replica's, running a little behind
 * ours must not see a certificate that is not valid yet, which would fail every admission call.
 */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
export const DEFAULT_CA_COMMON_NAME = "imagepullsecret-patcher-webhook-ca";
const SERVING_COMMON_NAME = "imagepullsecret-patcher-webhook";

/** A certificate and its private key, both PEM (the key PKCS#8), with the validity written into the certificate. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

/** What signs serving certificates: a CA certificate and its key. */
export type SigningAuthority = Pick<IssuedCertificate, "certPem" | "keyPem">;

export interface CertificateAuthorityOptions {
  commonName?: string;
  /** Defaults to {@link DEFAULT_CA_VALIDITY_MS}. */
  validityMs?: number;
  now: Date;
}

export interface ServingCertificateOptions {
  /** DNS names the API server dials, e.g. `<service>.<namespace>.svc`. */
  dnsNames: readonly string[];
  ipAddresses?: readonly string[];
  /** Defaults to {@link DEFAULT_SERVING_VALIDITY_MS}. */
  validityMs?: number;
  now: Date;
}

/** A self-signed ECDSA P-256 CA that may sign certificates, and nothing else, with no intermediates below it. */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<IssuedCertificate> {
  const { notBefore, notAfter } = validity(options.now, options.validityMs ?? DEFAULT_CA_VALIDITY_MS);
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: [{ CN: [options.commonName ?? DEFAULT_CA_COMMON_NAME] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return issued(certificate, await privateKeyPem(keys.privateKey));
}

/**
 * An ECDSA P-256 serving certificate for the given names, signed by `ca`. It never outlives the CA, past whose end
 * the chain fails anyway.
 */
export async function issueServingCertificate(
  ca: SigningAuthority,
  options: ServingCertificateOptions,
): Promise<IssuedCertificate> {
  const names = subjectAlternativeNames(options.dnsNames, options.ipAddresses ?? []);
  const caCertificate = parseCaCertificate(ca.certPem);
  const signingKey = await importCaKey(ca.keyPem);
  const { notBefore, notAfter } = validity(options.now, options.validityMs ?? DEFAULT_SERVING_VALIDITY_MS);
  const keys = await generateKeyPair();
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      // Clients check the SANs; a fixed common name stays within its 64 characters whatever the Service is called.
      subject: [{ CN: [SERVING_COMMON_NAME] }],
      issuer: caCertificate.subjectName,
      notBefore,
      notAfter: notAfter < caCertificate.notAfter ? notAfter : caCertificate.notAfter,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: await servingExtensions(names, caCertificate),
    },
    crypto,
  );
  return issued(certificate, await privateKeyPem(keys.privateKey));
}

async function servingExtensions(
  names: x509.JsonGeneralNames,
  caCertificate: x509.X509Certificate,
): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // digitalSignature alone: an ECDSA key signs the TLS handshake and cannot encipher keys (RFC 5480).
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names),
    await x509.AuthorityKeyIdentifierExtension.create(caCertificate, false, crypto),
  ];
}

/** DNS names then IP addresses, as SAN entries. Throws, naming the value, on an address that is not an IP. */
function subjectAlternativeNames(dnsNames: readonly string[], ipAddresses: readonly string[]): x509.JsonGeneralNames {
  const bad = ipAddresses.find((address) => isIP(address) === 0);
  if (bad !== undefined) throw new Error(`serving certificate: not an IP address: ${JSON.stringify(bad)}`);
  const emptyName = dnsNames.find((name) => name.trim() === "");
  if (emptyName !== undefined) throw new Error("serving certificate: empty DNS name");
  if (dnsNames.length + ipAddresses.length === 0) {
    throw new Error("serving certificate: needs at least one DNS name or IP address");
  }
  return [
    ...dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
}

function validity(now: Date, validityMs: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(validityMs) || validityMs <= 0) {
    throw new RangeError(`certificate validity must be a positive number of milliseconds, got ${validityMs}`);
  }
  const start = now.getTime();
  if (!Number.isFinite(start)) throw new RangeError("certificate validity: `now` is not a valid date");
  return { notBefore: new Date(start - CLOCK_SKEW_MS), notAfter: new Date(start + validityMs) };
}

function parseCaCertificate(pem: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    throw new Error("CA certificate: not a PEM certificate");
  }
}

async function importCaKey(pem: string): Promise<CryptoKey> {
  try {
    return await importSigningKey(pem);
  } catch (err) {
    throw new Error(`CA key: ${(err as Error).message}`, { cause: err });
  }
}

function issued(certificate: x509.X509Certificate, keyPem: string): IssuedCertificate {
  return {
    certPem: `${certificate.toString("pem")}\n`,
    keyPem,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}
