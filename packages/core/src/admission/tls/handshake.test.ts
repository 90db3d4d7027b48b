// Real TLS on 127.0.0.1, so these certificates are made at the real time: a handshake checks validity against it.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import { createSecureContext } from "node:tls";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./authority.js";
import type { WebhookTlsBundle } from "./bundle.js";
import { applyRotationPlan, renewWebhookTls } from "./renewal.js";
import { caBundlePem, webhookCaBundle } from "./rotation.js";

const DNS_NAME = "patcher-webhook.kube-system.svc";
const OPTIONS = { dnsNames: [DNS_NAME], ipAddresses: ["127.0.0.1"] };

/** GETs `/` trusting only `ca`; resolves to the status or rejects with the TLS error. */
async function get(port: number, ca: string, servername?: string): Promise<number | undefined> {
  const req = request({ host: "127.0.0.1", port, ca, agent: false, ...(servername ? { servername } : {}) });
  req.end();
  const [res] = (await once(req, "response")) as [IncomingMessage];
  res.resume();
  return res.statusCode;
}

/** Serves the bundle's serving certificate while `run` goes. */
async function serving(bundle: WebhookTlsBundle, run: (port: number) => Promise<void>): Promise<void> {
  const server = createServer({ cert: bundle.certPem, key: bundle.keyPem }, (_req, res) => res.end("ok"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

async function freshBundle(): Promise<WebhookTlsBundle> {
  return (await renewWebhookTls(undefined, { ...OPTIONS, now: new Date() })).bundle;
}

describe("the webhook's TLS material in node's TLS", () => {
  it("is accepted by tls.createSecureContext", async () => {
    const bundle = await freshBundle();
    expect(() => createSecureContext({ cert: bundle.certPem, key: bundle.keyPem, ca: bundle.caCertPem })).not.toThrow();
  });

  it("serves HTTPS that a client trusting the caBundle verifies by IP address and by DNS name", async () => {
    const bundle = await freshBundle();
    const caBundle = webhookCaBundle(bundle, new Date());
    await serving(bundle, async (port) => {
      expect(await get(port, caBundle)).toBe(200);
      expect(await get(port, caBundle, DNS_NAME)).toBe(200);
      await expect(get(port, caBundle, "other.kube-system.svc")).rejects.toThrow(/altnames/);
      const stranger = await createCertificateAuthority({ now: new Date() });
      await expect(get(port, stranger.certPem)).rejects.toThrow(/self-signed|unable to verify/i);
    });
  });

  it("keeps handshakes working at every step of a CA rotation", async () => {
    const before = await freshBundle();
    const oldCaBundle = webhookCaBundle(before, new Date());
    const rotated = await applyRotationPlan(before, "rotate-ca", { ...OPTIONS, now: new Date() });
    const overlapCaBundle = webhookCaBundle(rotated, new Date());
    expect(overlapCaBundle).toBe(caBundlePem(rotated.caCertPem, before.caCertPem));

    // Step 1: the new CA is published next to the old one; replicas still serve the old certificate.
    await serving(rotated, async (port) => {
      expect(await get(port, oldCaBundle)).toBe(200); // an API server that has not seen the new caBundle yet
      expect(await get(port, overlapCaBundle)).toBe(200);
      await expect(get(port, rotated.caCertPem)).rejects.toThrow(/unable to verify|local issuer/); // why the old CA must stay published
    });

    // Step 2, after propagation: the serving certificate moves to the new CA, which every API server trusts by then.
    const reissued = await applyRotationPlan(rotated, "reissue-serving", { ...OPTIONS, now: new Date() });
    expect(reissued.previousCaCertPem).toBe(before.caCertPem);
    await serving(reissued, async (port) => {
      expect(await get(port, webhookCaBundle(reissued, new Date()), DNS_NAME)).toBe(200);
      await expect(get(port, oldCaBundle)).rejects.toThrow(/unable to verify|local issuer/); // why step 1 waits for propagation
    });
  });
});
