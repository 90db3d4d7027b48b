import "reflect-metadata";
import { webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const VALIDITY_MS = 7 * 24 * 3600 * 1000;

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface ClusterPki {
  ca: PemPair;
  apiserver: PemPair;
  admin: PemPair;
  /** ServiceAccount token signing key (PKCS#8) and its public half (SPKI). */
  serviceAccount: { keyPem: string; publicPem: string };
}

async function keyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
}

async function privatePem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

function serial(): string {
  // Go rejects negative serials: keep the first byte positive.
  return "01" + Buffer.from(webcrypto.getRandomValues(new Uint8Array(15))).toString("hex");
}

/** Generates a throw-away CA, a serving certificate for 127.0.0.1, an admin client certificate and an SA key. */
export async function generatePki(): Promise<ClusterPki> {
  const now = new Date(Date.now() - 60_000);
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const caKeys = await keyPair();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: "CN=imagepullsecret-patcher-e2e-ca",
    notBefore: now,
    notAfter,
    keys: caKeys,
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  async function leaf(subject: string, usage: "server" | "client"): Promise<PemPair> {
    const keys = await keyPair();
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([
        usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ];
    if (usage === "server") {
      extensions.push(
        new x509.SubjectAlternativeNameExtension([
          { type: "ip", value: "127.0.0.1" },
          { type: "dns", value: "localhost" },
          { type: "dns", value: "kubernetes.default.svc" },
          { type: "ip", value: "10.0.0.1" },
        ]),
      );
    }
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: caCert.subject,
      notBefore: now,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: SIGNING,
      extensions,
    });
    return { certPem: cert.toString("pem"), keyPem: await privatePem(keys.privateKey) };
  }

  const saKeys = await keyPair();
  return {
    ca: { certPem: caCert.toString("pem"), keyPem: await privatePem(caKeys.privateKey) },
    apiserver: await leaf("CN=kube-apiserver", "server"),
    admin: await leaf("CN=e2e-admin, O=system:masters", "client"),
    serviceAccount: {
      keyPem: await privatePem(saKeys.privateKey),
      publicPem: x509.PemConverter.encode(await webcrypto.subtle.exportKey("spki", saKeys.publicKey), "PUBLIC KEY"),
    },
  };
}
