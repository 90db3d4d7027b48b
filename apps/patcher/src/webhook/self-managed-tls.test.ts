import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ApiException, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { SelfManagedTls, type SelfManagedTlsLifetimes } from "./self-managed-tls.js";

const silent = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;
const MINUTE = 60_000;

/** One Secret in memory, behind the three CoreV1Api calls SelfManagedTls makes. */
function fakeKubeConfig(): { kubeConfig: KubeConfig; stored: () => V1Secret | undefined } {
  let secret: V1Secret | undefined;
  const api = {
    readNamespacedSecret: () => {
      if (!secret) throw new ApiException(404, "not found", {}, {});
      return Promise.resolve(structuredClone(secret));
    },
    createNamespacedSecret: ({ body }: { body: V1Secret }) => {
      secret = structuredClone(body);
      return Promise.resolve(body);
    },
    replaceNamespacedSecret: ({ body }: { body: V1Secret }) => {
      secret = structuredClone(body);
      return Promise.resolve(body);
    },
  };
  return { kubeConfig: { makeApiClient: () => api } as unknown as KubeConfig, stored: () => secret };
}

function store(lifetimes: SelfManagedTlsLifetimes): SelfManagedTls {
  return new SelfManagedTls({
    kubeConfig: fakeKubeConfig().kubeConfig,
    namespace: "patcher",
    secretName: "webhook-tls",
    dnsNames: [],
    ipAddresses: ["127.0.0.1"],
    lifetimes,
    logger: silent,
  });
}

const notAfter = (pem: string): number => new Date(new X509Certificate(pem).validTo).getTime();
const at = (ms: number): Date => new Date(ms);

describe("SelfManagedTls with webhook.tls lifetimes", () => {
  const lifetimes = { servingValidityMs: 4 * MINUTE, caValidityMs: 8 * MINUTE, caPropagationMs: MINUTE };

  it("issues certificates of the configured lifetimes and checks again at the serving certificate's renewal", async () => {
    const tls = store(lifetimes);
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const bundle = await tls.current(at(t0));
    expect(notAfter(bundle.certPem)).toBe(t0 + 4 * MINUTE);
    expect(notAfter(bundle.caCertPem)).toBe(t0 + 8 * MINUTE);
    // Backdated 5 minutes: a 9-minute lifetime, renewed with 3 minutes left.
    expect((await tls.nextCheckAt(bundle, at(t0))).getTime()).toBe(t0 + MINUTE);
    expect((await tls.current(at(t0 + MINUTE - 1000))).certPem).toBe(bundle.certPem);
    const renewed = await tls.current(at(t0 + MINUTE));
    expect(renewed.certPem).not.toBe(bundle.certPem);
    expect(renewed.caCertPem).toBe(bundle.caCertPem);
  });

  it("moves the serving certificate to a new CA once caPropagation has passed, not after core's 10 minutes", async () => {
    const tls = store(lifetimes);
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const first = await tls.current(at(t0));
    // Renewed on time, as the check loop does, so the serving certificate outlives the propagation.
    expect((await tls.current(at(t0 + 200_000))).certPem).not.toBe(first.certPem);
    // The CA (13 minutes with the backdating) is renewed with a third left: 3m40s after it was made.
    const caRenewal = t0 + 220_000;
    const rotated = await tls.current(at(caRenewal));
    expect(rotated.caCertPem).not.toBe(first.caCertPem);
    expect(rotated.previousCaCertPem).toBe(first.caCertPem);
    // Check when told to, as the check loop does, until the serving certificate changes.
    let now = caRenewal;
    let moved = rotated;
    while (moved.certPem === rotated.certPem && now < caRenewal + 10 * MINUTE) {
      now = (await tls.nextCheckAt(moved, at(now))).getTime();
      moved = await tls.current(at(now));
    }
    expect(now).toBe(caRenewal + MINUTE);
    expect(new X509Certificate(moved.certPem).verify(new X509Certificate(moved.caCertPem).publicKey)).toBe(true);
    expect(await tls.caBundle(moved, at(now))).toContain(first.caCertPem.trim());
  });

  it("keeps core's defaults when no lifetimes are given", async () => {
    const tls = store({});
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const bundle = await tls.current(at(t0));
    expect(notAfter(bundle.certPem)).toBe(t0 + 90 * 24 * 60 * MINUTE);
    expect(notAfter(bundle.caCertPem)).toBe(t0 + 365 * 24 * 60 * MINUTE);
  });
});
