import { crypto, x509, type CryptoKey, type CryptoKeyPair } from "./x509.js";

/** ECDSA P-256: small keys and signatures, fast to generate, and accepted by every Kubernetes API server. */
const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

export const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;

export async function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
}

/** The key as a PKCS#8 PEM (`PRIVATE KEY`), the form node's `tls` and Go's `crypto/tls` both read. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return `${x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY")}\n`;
}

/** Reads a PKCS#8 PEM P-256 key for signing. Throws a fixed message: the key itself must never reach an error. */
export async function importSigningKey(pem: string, extractable = false): Promise<CryptoKey> {
  try {
    const der = x509.PemConverter.decodeFirst(pem);
    return await crypto.subtle.importKey("pkcs8", der, EC_P256, extractable, ["sign"]);
  } catch {
    throw new Error("not a PKCS#8 PEM P-256 private key");
  }
}

/** Whether the private key is the one whose public half the certificate carries. */
export async function keyMatchesCertificate(keyPem: string, certificate: x509.X509Certificate): Promise<boolean> {
  try {
    const privateJwk = await crypto.subtle.exportKey("jwk", await importSigningKey(keyPem, true));
    // @peculiar/x509 types its keys with the DOM's CryptoKey, which node's types do not declare.
    const publicKey = (await certificate.publicKey.export(crypto)) as CryptoKey;
    const publicJwk = await crypto.subtle.exportKey("jwk", publicKey);
    return privateJwk.x === publicJwk.x && privateJwk.y === publicJwk.y;
  } catch {
    return false;
  }
}

/** 16 random bytes, first bit clear so the serial is positive (Go rejects negative ones), first byte non-zero. */
export function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return Buffer.from(bytes).toString("hex");
}
