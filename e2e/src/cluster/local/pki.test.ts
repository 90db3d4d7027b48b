import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generatePki } from "./pki.ts";

describe("generatePki", () => {
  it("issues a serving and an admin certificate that chain to the CA", async () => {
    const pki = await generatePki();
    const ca = new X509Certificate(pki.ca.certPem);
    const server = new X509Certificate(pki.apiserver.certPem);
    const admin = new X509Certificate(pki.admin.certPem);
    expect(ca.ca).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(admin.verify(ca.publicKey)).toBe(true);
    expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(server.checkHost("localhost")).toBe("localhost");
    expect(admin.subject).toContain("O=system:masters");
    expect(admin.checkPrivateKey(createPrivateKey(pki.admin.keyPem))).toBe(true);
    expect(server.serialNumber.startsWith("01")).toBe(true);
  });

  it("makes a ServiceAccount signing key whose public half matches", async () => {
    const { serviceAccount } = await generatePki();
    const fromPrivate = createPublicKey(createPrivateKey(serviceAccount.keyPem)).export({
      type: "spki",
      format: "pem",
    });
    expect(String(fromPrivate).trim()).toBe(serviceAccount.publicPem.trim());
  });
});
