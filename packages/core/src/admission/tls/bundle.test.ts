import { beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "./authority.js";
import {
  parseWebhookTlsSecretData,
  WEBHOOK_TLS_SECRET_KEYS,
  webhookTlsSecretData,
  WebhookTlsSecretError,
  type WebhookTlsBundle,
} from "./bundle.js";

const NOW = new Date(Date.UTC(2030, 0, 1));
const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

let bundle: WebhookTlsBundle;

beforeAll(async () => {
  const ca = await createCertificateAuthority({ now: NOW });
  const previous = await createCertificateAuthority({ now: NOW });
  const serving = await issueServingCertificate(ca, { dnsNames: ["webhook.ns.svc"], now: NOW });
  bundle = {
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    certPem: serving.certPem,
    keyPem: serving.keyPem,
    previousCaCertPem: previous.certPem,
  };
});

function problem(data: Record<string, string | undefined> | undefined): WebhookTlsSecretError {
  try {
    parseWebhookTlsSecretData(data);
  } catch (err) {
    if (err instanceof WebhookTlsSecretError) return err;
    throw err;
  }
  throw new Error("expected the Secret data to be rejected");
}

describe("webhookTlsSecretData", () => {
  it("stores each PEM base64-encoded under its Secret key", () => {
    const data = webhookTlsSecretData(bundle);
    expect(Object.keys(data).sort()).toEqual(["ca-previous.crt", "ca.crt", "ca.key", "tls.crt", "tls.key"]);
    expect(Buffer.from(data["tls.crt"] ?? "", "base64").toString("utf8")).toBe(bundle.certPem);
    expect(Buffer.from(data["ca.key"] ?? "", "base64").toString("utf8")).toBe(bundle.caKeyPem);
  });

  it("leaves out a previous CA the bundle does not have", () => {
    const { previousCaCertPem: _previous, ...current } = bundle;
    expect(Object.keys(webhookTlsSecretData(current))).not.toContain(WEBHOOK_TLS_SECRET_KEYS.previousCaCertPem);
  });
});

describe("parseWebhookTlsSecretData", () => {
  it("reads back what webhookTlsSecretData wrote, with or without a previous CA", () => {
    expect(parseWebhookTlsSecretData(webhookTlsSecretData(bundle))).toEqual(bundle);
    const { previousCaCertPem: _previous, ...current } = bundle;
    expect(parseWebhookTlsSecretData(webhookTlsSecretData(current))).toEqual(current);
  });

  it("names the first missing key", () => {
    expect(problem(undefined).message).toBe("ca.crt: missing");
    const data = webhookTlsSecretData(bundle);
    for (const key of ["ca.crt", "ca.key", "tls.crt", "tls.key"]) {
      const err = problem({ ...data, [key]: undefined });
      expect(err.message).toBe(`${key}: missing`);
      expect(err.key).toBe(key);
    }
    expect(problem({ ...data, "tls.key": "" }).message).toBe("tls.key: missing");
  });

  it("rejects values that are not base64", () => {
    expect(problem({ ...webhookTlsSecretData(bundle), "tls.crt": "not base64!" }).message).toBe("tls.crt: not base64");
  });

  it("rejects a certificate key holding something else, without quoting it", () => {
    const data = webhookTlsSecretData(bundle);
    const swapped = problem({ ...data, "tls.crt": b64(bundle.keyPem) });
    expect(swapped.message).toBe("tls.crt: not a PEM certificate");
    const body = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    expect(problem({ ...data, "ca.crt": b64(body) }).message).toBe("ca.crt: not a PEM certificate");
    expect(problem({ ...data, "ca.crt": b64("hello") }).message).toBe("ca.crt: not a PEM certificate");
    expect(problem({ ...data, "ca-previous.crt": b64("hello") }).message).toBe(
      "ca-previous.crt: not a PEM certificate",
    );
  });

  it("rejects a key that is not one PKCS#8 PEM private key, without quoting it", () => {
    const data = webhookTlsSecretData(bundle);
    expect(problem({ ...data, "tls.key": b64(bundle.certPem) }).message).toBe("tls.key: not a PKCS#8 PEM private key");
    const sec1 = bundle.caKeyPem.replaceAll("PRIVATE KEY", "EC PRIVATE KEY");
    const err = problem({ ...data, "ca.key": b64(sec1) });
    expect(err.message).toBe("ca.key: not a PKCS#8 PEM private key");
    expect(err.message).not.toContain(bundle.caKeyPem.split("\n")[1]);
    const twoKeys = b64(bundle.keyPem + bundle.caKeyPem);
    expect(problem({ ...data, "tls.key": twoKeys }).message).toBe("tls.key: not a PKCS#8 PEM private key");
  });
});
