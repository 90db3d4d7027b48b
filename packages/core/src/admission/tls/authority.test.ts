import { describe, expect, it } from "vitest";
import {
  CLOCK_SKEW_MS,
  createCertificateAuthority,
  DEFAULT_CA_VALIDITY_MS,
  DEFAULT_SERVING_VALIDITY_MS,
  issueServingCertificate,
  type IssuedCertificate,
} from "./authority.js";
import { crypto, x509 } from "./x509.js";

const NOW = new Date(Date.UTC(2030, 0, 1));
const DAY_MS = 24 * 60 * 60 * 1000;
const NAMES = { dnsNames: ["patcher-webhook.kube-system.svc"], ipAddresses: ["127.0.0.1", "::1"] };

async function pair(now: Date = NOW): Promise<{ ca: IssuedCertificate; serving: IssuedCertificate }> {
  const ca = await createCertificateAuthority({ commonName: "test CA", now });
  const serving = await issueServingCertificate(ca, { ...NAMES, now });
  return { ca, serving };
}

describe("createCertificateAuthority", () => {
  it("makes a self-signed P-256 CA limited to signing certificates", async () => {
    const { ca } = await pair();
    const cert = new x509.X509Certificate(ca.certPem);
    expect(await cert.isSelfSigned(crypto)).toBe(true);
    expect(cert.subject).toBe("CN=test CA");
    expect(cert.publicKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    expect(constraints).toMatchObject({ ca: true, pathLength: 0, critical: true });
    const usages = cert.getExtension(x509.KeyUsagesExtension);
    expect(usages?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(usages?.critical).toBe(true);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
  });

  it("starts a little before now, lasts a year by default, and has a random positive serial", async () => {
    const a = await createCertificateAuthority({ now: NOW });
    const b = await createCertificateAuthority({ now: NOW, validityMs: 7 * DAY_MS });
    expect(a.notBefore.getTime()).toBe(NOW.getTime() - CLOCK_SKEW_MS);
    expect(a.notAfter.getTime()).toBe(NOW.getTime() + DEFAULT_CA_VALIDITY_MS);
    expect(b.notAfter.getTime()).toBe(NOW.getTime() + 7 * DAY_MS);
    const serials = [a, b].map((ca) => new x509.X509Certificate(ca.certPem).serialNumber);
    expect(serials[0]).not.toBe(serials[1]);
    for (const serial of serials) expect(serial).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(a.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it("rejects a validity that is not a positive number", async () => {
    await expect(createCertificateAuthority({ now: NOW, validityMs: 0 })).rejects.toThrow(/positive/);
    await expect(createCertificateAuthority({ now: NOW, validityMs: Number.NaN })).rejects.toThrow(RangeError);
  });
});

describe("issueServingCertificate", () => {
  it("issues a leaf that chains to the CA, for the given DNS names and addresses", async () => {
    const { ca, serving } = await pair();
    const leaf = new x509.X509Certificate(serving.certPem);
    const caCert = new x509.X509Certificate(ca.certPem);
    expect(await leaf.verify({ publicKey: caCert.publicKey, date: NOW }, crypto)).toBe(true);
    expect(leaf.issuer).toBe(caCert.subject);
    expect(leaf.subject).toBe("CN=imagepullsecret-patcher-webhook");
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: "dns", value: "patcher-webhook.kube-system.svc" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
    ]);
    expect(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(leaf.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(leaf.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
  });

  it("lasts 90 days by default from a little before now, but never past its CA", async () => {
    const { serving } = await pair();
    expect(serving.notBefore.getTime()).toBe(NOW.getTime() - CLOCK_SKEW_MS);
    expect(serving.notAfter.getTime()).toBe(NOW.getTime() + DEFAULT_SERVING_VALIDITY_MS);
    const shortCa = await createCertificateAuthority({ now: NOW, validityMs: 10 * DAY_MS });
    const clipped = await issueServingCertificate(shortCa, { ...NAMES, now: NOW });
    expect(clipped.notAfter).toEqual(shortCa.notAfter);
  });

  it("refuses bad names and a bad CA key without echoing the key", async () => {
    const { ca } = await pair();
    await expect(issueServingCertificate(ca, { dnsNames: [], now: NOW })).rejects.toThrow(/at least one/);
    await expect(
      issueServingCertificate(ca, { dnsNames: ["a"], ipAddresses: ["10.0.0.300"], now: NOW }),
    ).rejects.toThrow('not an IP address: "10.0.0.300"');
    await expect(issueServingCertificate(ca, { dnsNames: [" "], now: NOW })).rejects.toThrow(/empty DNS name/);
    const body = ca.keyPem.split("\n")[1] ?? "";
    const broken = { certPem: ca.certPem, keyPem: ca.keyPem.replace(body, body.slice(0, 20)) };
    const err = (await issueServingCertificate(broken, { ...NAMES, now: NOW }).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe("CA key: not a PKCS#8 PEM P-256 private key");
    expect(err.message).not.toContain(body.slice(0, 20));
    await expect(
      issueServingCertificate({ certPem: "nope", keyPem: ca.keyPem }, { ...NAMES, now: NOW }),
    ).rejects.toThrow("CA certificate: not a PEM certificate");
  });
});
