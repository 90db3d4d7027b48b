import { SocketAddress } from "node:net";
import { CLOCK_SKEW_MS } from "./authority.js";
import type { WebhookTlsBundle } from "./bundle.js";
import { keyMatchesCertificate } from "./keys.js";
import { crypto, x509 } from "./x509.js";

/**
 * What to do with the webhook's TLS bundle:
 * - `create`: nothing usable (no bundle, unparseable, CA expired or its key lost): a new CA and serving certificate;
 * - `rotate-ca`: the CA nears its end: a new CA, the old one kept as previous, the serving certificate untouched;
 * - `reissue-serving`: a new serving certificate from the current CA;
 * - `keep`: nothing to do.
 *
 * Why a CA rotation leaves the serving certificate alone: the API server trusts the webhook through the `caBundle`
 * of the webhook configuration, which it learns through its own watch, while replicas learn the serving certificate
 * through theirs. Publishing the new CA next to the old one first (`caBundle` = new + previous) keeps the old
 * serving certificate trusted; only after {@link RotationOptions.caPropagationMs} is the serving certificate
 * reissued from the new CA, which every API server trusts by then. The previous CA stays published until it expires,
 * so a replica that has not reloaded yet keeps being trusted too.
 */
export type RotationAction = "create" | "rotate-ca" | "reissue-serving" | "keep";

export interface RotationPlan {
  action: RotationAction;
  /** Why, for a log line. Names and dates only, never key material. */
  reason: string;
}

export interface RotationTiming {
  /** Renew a certificate once less than this fraction of its lifetime is left. Default 1/3 (renew at 2/3). */
  renewBeforeFraction?: number;
  /** How long a new CA is published before the serving certificate moves to it. Default 10 minutes. */
  caPropagationMs?: number;
}

export interface RotationOptions extends RotationTiming {
  /** The names the serving certificate must carry, exactly. */
  dnsNames: readonly string[];
  ipAddresses?: readonly string[];
  now: Date;
}

export const DEFAULT_RENEW_BEFORE_FRACTION = 1 / 3;
/** Watches deliver in seconds; ten minutes covers a slow or restarting API server with room to spare. */
export const DEFAULT_CA_PROPAGATION_MS = 10 * 60 * 1000;
/** The longest wait between checks: cheap, and it notices a clock that jumped or a Secret edited by hand. */
export const MAX_CHECK_INTERVAL_MS = 24 * 60 * 60 * 1000;

interface ParsedBundle {
  ca: x509.X509Certificate;
  serving: x509.X509Certificate;
  previousCa?: x509.X509Certificate;
}

/** Decides what the bundle needs at `options.now`. Reads certificates and checks signatures; changes nothing. */
export async function rotationPlan(
  bundle: WebhookTlsBundle | undefined,
  options: RotationOptions,
): Promise<RotationPlan> {
  if (!bundle) return { action: "create", reason: "no TLS bundle yet" };
  const parsed = parseBundle(bundle);
  if (!parsed) return { action: "create", reason: "the TLS bundle's certificates do not parse" };
  const caProblem = await certificateAuthorityProblem(parsed.ca, bundle.caKeyPem, options.now.getTime());
  if (caProblem) return { action: "create", reason: caProblem };
  const defect = await servingCertificateDefect(parsed, bundle.keyPem, options);
  if (options.now.getTime() >= renewalTime(parsed.ca, options)) {
    const reason = `the CA expires at ${iso(parsed.ca.notAfter)}`;
    // A serving certificate that fails already gains nothing from the overlap: start afresh in one write.
    return defect ? { action: "create", reason: `${reason} and ${defect}` } : { action: "rotate-ca", reason };
  }
  const problem = defect ?? (await servingCertificateDue(parsed, options));
  if (problem) return { action: "reissue-serving", reason: problem };
  return { action: "keep", reason: "the CA and serving certificate are valid" };
}

/**
 * When {@link rotationPlan} may next decide differently, once its plan has been carried out: the earliest upcoming
 * renewal time, the end of a new CA's propagation, the previous CA's expiry (it then leaves the `caBundle`), and at
 * most {@link MAX_CHECK_INTERVAL_MS} away. `now` if the bundle does not parse.
 */
export function nextCheckAt(bundle: WebhookTlsBundle, now: Date, timing: RotationTiming = {}): Date {
  const parsed = parseBundle(bundle);
  if (!parsed) return now;
  const times = [
    renewalTime(parsed.ca, timing),
    renewalTime(parsed.serving, timing),
    propagatedAt(parsed.ca, timing),
    parsed.previousCa?.notAfter.getTime(),
  ];
  const upcoming = times.filter((time): time is number => time !== undefined && time > now.getTime());
  return new Date(Math.min(now.getTime() + MAX_CHECK_INTERVAL_MS, ...upcoming));
}

/** The `caBundle` of the webhook configuration: the current CA, then the previous one if given. */
export function caBundlePem(currentCaCertPem: string, previousCaCertPem?: string): string {
  const pems = [currentCaCertPem, previousCaCertPem].filter((pem): pem is string => pem !== undefined && pem !== "");
  return pems.map((pem) => (pem.endsWith("\n") ? pem : `${pem}\n`)).join("");
}

/** The `caBundle` to publish for a bundle at `now`: its previous CA only while that has not expired. */
export function webhookCaBundle(bundle: WebhookTlsBundle, now: Date): string {
  return caBundlePem(bundle.caCertPem, previousCaStillValid(bundle, now) ? bundle.previousCaCertPem : undefined);
}

/** Whether the bundle holds a previous CA that has not expired at `now`. */
export function previousCaStillValid(bundle: WebhookTlsBundle, now: Date): boolean {
  if (bundle.previousCaCertPem === undefined) return false;
  const previous = parse(bundle.previousCaCertPem);
  return previous !== undefined && now.getTime() < previous.notAfter.getTime();
}

function parseBundle(bundle: WebhookTlsBundle): ParsedBundle | undefined {
  const ca = parse(bundle.caCertPem);
  const serving = parse(bundle.certPem);
  if (!ca || !serving) return undefined;
  const previousCa = bundle.previousCaCertPem === undefined ? undefined : parse(bundle.previousCaCertPem);
  return previousCa ? { ca, serving, previousCa } : { ca, serving };
}

function parse(pem: string): x509.X509Certificate | undefined {
  try {
    return new x509.X509Certificate(pem);
  } catch {
    return undefined;
  }
}

async function certificateAuthorityProblem(
  ca: x509.X509Certificate,
  keyPem: string,
  now: number,
): Promise<string | undefined> {
  if (now >= ca.notAfter.getTime()) return `the CA expired at ${iso(ca.notAfter)}`;
  if (!(await keyMatchesCertificate(keyPem, ca))) return "ca.key does not match ca.crt";
  return undefined;
}

/** What makes the serving certificate fail now, so that waiting before replacing it protects nothing. */
async function servingCertificateDefect(
  { ca, serving, previousCa }: ParsedBundle,
  keyPem: string,
  options: RotationOptions,
): Promise<string | undefined> {
  if (options.now.getTime() >= serving.notAfter.getTime()) {
    return `the serving certificate expired at ${iso(serving.notAfter)}`;
  }
  const namesProblem = subjectAlternativeNamesProblem(serving, options);
  if (namesProblem) return namesProblem;
  if (!(await keyMatchesCertificate(keyPem, serving))) return "tls.key does not match tls.crt";
  const knownSigner =
    (await signedBy(serving, ca)) || (previousCa !== undefined && (await signedBy(serving, previousCa)));
  return knownSigner ? undefined : "the serving certificate is not signed by the CA";
}

/** Why a working serving certificate should be replaced now: its renewal time, or a CA rotation to finish. */
async function servingCertificateDue(
  { ca, serving }: ParsedBundle,
  options: RotationOptions,
): Promise<string | undefined> {
  const now = options.now.getTime();
  if (!(await signedBy(serving, ca))) {
    // Signed by the previous CA: fine until the new CA has reached every API server, then move to the new one.
    return now >= propagatedAt(ca, options) ? "the serving certificate is signed by the previous CA" : undefined;
  }
  return now >= renewalTime(serving, options)
    ? `the serving certificate expires at ${iso(serving.notAfter)}`
    : undefined;
}

function subjectAlternativeNamesProblem(serving: x509.X509Certificate, options: RotationOptions): string | undefined {
  const has = namesOf(serving);
  const wants = wantedNames(options);
  if (has.length === wants.length && has.every((name, i) => name === wants[i])) return undefined;
  return `the serving certificate's names differ: has [${has.join(", ")}], wants [${wants.join(", ")}]`;
}

/** `dns:<name>` and `ip:<address>`, lower case, canonical addresses, sorted, without duplicates. */
function namesOf(certificate: x509.X509Certificate): string[] {
  const extension = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  const names = extension?.names.toJSON() ?? [];
  return canonicalNames(
    names.filter((name) => name.type === "dns").map((name) => name.value),
    names.filter((name) => name.type === "ip").map((name) => name.value),
  );
}

function wantedNames(options: RotationOptions): string[] {
  return canonicalNames(options.dnsNames, options.ipAddresses ?? []);
}

function canonicalNames(dnsNames: readonly string[], ipAddresses: readonly string[]): string[] {
  const names = [
    ...dnsNames.map((name) => `dns:${name.toLowerCase()}`),
    ...ipAddresses.map((address) => `ip:${canonicalAddress(address)}`),
  ];
  return [...new Set(names)].sort();
}

function canonicalAddress(address: string): string {
  try {
    const family = address.includes(":") ? "ipv6" : "ipv4";
    return new SocketAddress({ address, family }).address;
  } catch {
    return address.toLowerCase();
  }
}

async function signedBy(certificate: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (certificate.issuer !== issuer.subject) return false;
  try {
    return await certificate.verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto);
  } catch {
    return false;
  }
}

/** When less than the renewal fraction of the certificate's lifetime is left. */
function renewalTime(certificate: x509.X509Certificate, timing: RotationTiming): number {
  const fraction = timing.renewBeforeFraction ?? DEFAULT_RENEW_BEFORE_FRACTION;
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`renewBeforeFraction must be in (0, 1), got ${fraction}`);
  const start = certificate.notBefore.getTime();
  const end = certificate.notAfter.getTime();
  return end - fraction * (end - start);
}

/** When a CA created at its (backdated) `notBefore` has reached every API server. */
function propagatedAt(ca: x509.X509Certificate, timing: RotationTiming): number {
  return ca.notBefore.getTime() + CLOCK_SKEW_MS + (timing.caPropagationMs ?? DEFAULT_CA_PROPAGATION_MS);
}

function iso(date: Date): string {
  return date.toISOString();
}
