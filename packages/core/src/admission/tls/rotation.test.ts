import { beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, issueServingCertificate } from "./authority.js";
import type { WebhookTlsBundle } from "./bundle.js";
import { applyRotationPlan, renewWebhookTls } from "./renewal.js";
import {
  caBundlePem,
  DEFAULT_CA_PROPAGATION_MS,
  MAX_CHECK_INTERVAL_MS,
  nextCheckAt,
  rotationPlan,
  webhookCaBundle,
} from "./rotation.js";

// Every time here is fixed: the plan reads only the certificates and `now`.
const T0 = Date.UTC(2030, 0, 1);
const MINUTE_MS = 60 * 1000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const at = (ms: number): Date => new Date(T0 + ms);
const NAMES = { dnsNames: ["webhook.ns.svc"], ipAddresses: ["10.0.0.7", "fd00::7"] };
const wanted = (ms: number) => ({ ...NAMES, now: at(ms) });

/** A CA made at T0 and a serving certificate from it made at T0 + `servingAtMs`. */
async function bundleAt(servingAtMs = 0, dnsNames = NAMES.dnsNames): Promise<WebhookTlsBundle> {
  const ca = await createCertificateAuthority({ now: at(0) });
  const serving = await issueServingCertificate(ca, { ...NAMES, dnsNames, now: at(servingAtMs) });
  return { caCertPem: ca.certPem, caKeyPem: ca.keyPem, certPem: serving.certPem, keyPem: serving.keyPem };
}

let fresh: WebhookTlsBundle;
let other: WebhookTlsBundle;

beforeAll(async () => {
  fresh = await bundleAt();
  other = await bundleAt();
});

describe("rotationPlan", () => {
  it("creates when there is nothing usable", async () => {
    expect(await rotationPlan(undefined, wanted(0))).toEqual({ action: "create", reason: "no TLS bundle yet" });
    const garbled = { ...fresh, certPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" };
    expect((await rotationPlan(garbled, wanted(0))).action).toBe("create");
  });

  it("creates when the CA has expired or its key is not the CA's", async () => {
    const expired = await rotationPlan(fresh, wanted(366 * DAY_MS));
    expect(expired).toEqual({ action: "create", reason: "the CA expired at 2031-01-01T00:00:00.000Z" });
    const wrongKey = await rotationPlan({ ...fresh, caKeyPem: other.caKeyPem }, wanted(0));
    expect(wrongKey).toEqual({ action: "create", reason: "ca.key does not match ca.crt" });
  });

  it("keeps a fresh bundle, whatever the order, case or spelling of the wanted names", async () => {
    expect((await rotationPlan(fresh, wanted(0))).action).toBe("keep");
    const respelled = { dnsNames: ["WEBHOOK.ns.svc", "webhook.ns.svc"], ipAddresses: ["fd00:0:0::7", "10.0.0.7"] };
    expect((await rotationPlan(fresh, { ...respelled, now: at(0) })).action).toBe("keep");
  });

  it("reissues the serving certificate at two thirds of its life, and once it has expired", async () => {
    expect((await rotationPlan(fresh, wanted(59 * DAY_MS))).action).toBe("keep");
    expect(await rotationPlan(fresh, wanted(61 * DAY_MS))).toEqual({
      action: "reissue-serving",
      reason: "the serving certificate expires at 2030-04-01T00:00:00.000Z",
    });
    expect(await rotationPlan(fresh, wanted(91 * DAY_MS))).toEqual({
      action: "reissue-serving",
      reason: "the serving certificate expired at 2030-04-01T00:00:00.000Z",
    });
  });

  it("reissues the serving certificate when its names, key or signer are wrong", async () => {
    const renamed = await rotationPlan(fresh, { ...wanted(0), dnsNames: ["webhook.other.svc"] });
    expect(renamed).toEqual({
      action: "reissue-serving",
      reason:
        "the serving certificate's names differ: has [dns:webhook.ns.svc, ip:10.0.0.7, ip:fd00::7], " +
        "wants [dns:webhook.other.svc, ip:10.0.0.7, ip:fd00::7]",
    });
    const fewerAddresses = await rotationPlan(fresh, { ...wanted(0), ipAddresses: ["10.0.0.7"] });
    expect(fewerAddresses.action).toBe("reissue-serving");
    const wrongKey = await rotationPlan({ ...fresh, keyPem: other.keyPem }, wanted(0));
    expect(wrongKey).toEqual({ action: "reissue-serving", reason: "tls.key does not match tls.crt" });
    const foreign = await rotationPlan({ ...fresh, certPem: other.certPem, keyPem: other.keyPem }, wanted(0));
    expect(foreign).toEqual({ action: "reissue-serving", reason: "the serving certificate is not signed by the CA" });
  });

  it("rotates the CA at two thirds of its life, before looking at the serving certificate", async () => {
    const recentServing = await bundleAt(200 * DAY_MS);
    expect((await rotationPlan(recentServing, wanted(243 * DAY_MS))).action).toBe("keep");
    expect(await rotationPlan(recentServing, wanted(244 * DAY_MS))).toEqual({
      action: "rotate-ca",
      reason: "the CA expires at 2031-01-01T00:00:00.000Z",
    });
  });

  it("starts afresh when the CA is due and the serving certificate fails already", async () => {
    const renamed = await rotationPlan(await bundleAt(200 * DAY_MS), {
      ...wanted(244 * DAY_MS),
      dnsNames: ["webhook.other.svc"],
    });
    expect(renamed.action).toBe("create");
    expect(renamed.reason).toMatch(/^the CA expires at 2031-01-01T00:00:00.000Z and the serving certificate's names/);
    expect((await rotationPlan(fresh, wanted(244 * DAY_MS))).reason).toBe(
      "the CA expires at 2031-01-01T00:00:00.000Z and the serving certificate expired at 2030-04-01T00:00:00.000Z",
    );
  });

  it("rejects a renewal fraction outside (0, 1)", async () => {
    await expect(rotationPlan(fresh, { ...wanted(0), renewBeforeFraction: 1 })).rejects.toThrow(RangeError);
  });
});

describe("a CA rotation", () => {
  const rotatedAt = 244 * DAY_MS;
  let before: WebhookTlsBundle;
  let rotated: WebhookTlsBundle;

  beforeAll(async () => {
    before = await bundleAt(200 * DAY_MS);
    rotated = await applyRotationPlan(before, "rotate-ca", wanted(rotatedAt));
  });

  it("publishes the new CA next to the old one and keeps the serving certificate", () => {
    expect(rotated.previousCaCertPem).toBe(before.caCertPem);
    expect(rotated.caCertPem).not.toBe(before.caCertPem);
    expect(rotated.certPem).toBe(before.certPem);
    expect(webhookCaBundle(rotated, at(rotatedAt))).toBe(rotated.caCertPem + before.caCertPem);
  });

  it("keeps serving the old certificate until the new CA has propagated, then reissues it", async () => {
    expect(await rotationPlan(rotated, wanted(rotatedAt))).toMatchObject({ action: "keep" });
    expect(await rotationPlan(rotated, wanted(rotatedAt + DEFAULT_CA_PROPAGATION_MS - MINUTE_MS))).toMatchObject({
      action: "keep",
    });
    expect(await rotationPlan(rotated, wanted(rotatedAt + DEFAULT_CA_PROPAGATION_MS))).toEqual({
      action: "reissue-serving",
      reason: "the serving certificate is signed by the previous CA",
    });
    expect(nextCheckAt(rotated, at(rotatedAt))).toEqual(at(rotatedAt + DEFAULT_CA_PROPAGATION_MS));
  });

  it("does not wait for propagation when the old certificate is already wrong", async () => {
    const renamed = await rotationPlan(rotated, { ...wanted(rotatedAt), dnsNames: ["webhook.other.svc"] });
    expect(renamed.action).toBe("reissue-serving");
  });

  it("keeps the previous CA published until it expires, then drops it", async () => {
    const reissuedAt = rotatedAt + DEFAULT_CA_PROPAGATION_MS;
    const reissued = await applyRotationPlan(rotated, "reissue-serving", wanted(reissuedAt));
    expect(reissued.previousCaCertPem).toBe(before.caCertPem);
    expect(await rotationPlan(reissued, wanted(reissuedAt))).toMatchObject({ action: "keep" });

    const oldCaEnd = 365 * DAY_MS;
    expect(nextCheckAt(reissued, at(oldCaEnd - MINUTE_MS))).toEqual(at(oldCaEnd));
    expect(webhookCaBundle(reissued, at(oldCaEnd - 1))).toBe(reissued.caCertPem + before.caCertPem);
    expect(webhookCaBundle(reissued, at(oldCaEnd))).toBe(reissued.caCertPem);

    const later = await applyRotationPlan(reissued, "reissue-serving", wanted(oldCaEnd));
    expect(later.previousCaCertPem).toBeUndefined();
  });
});

describe("nextCheckAt", () => {
  it("is a day away for a fresh bundle, and the renewal time once that is nearer", () => {
    expect(nextCheckAt(fresh, at(DAY_MS))).toEqual(at(2 * DAY_MS));
    const servingRenewal = at(90 * DAY_MS - (90 * DAY_MS + 5 * MINUTE_MS) / 3);
    expect(nextCheckAt(fresh, at(59.9 * DAY_MS))).toEqual(servingRenewal);
    expect(MAX_CHECK_INTERVAL_MS).toBe(DAY_MS);
  });

  it("is now for a bundle that does not parse", () => {
    expect(nextCheckAt({ ...fresh, caCertPem: "nope" }, at(0))).toEqual(at(0));
  });
});

describe("caBundlePem", () => {
  it("concatenates the current CA and the previous one, each ending in a newline", () => {
    expect(caBundlePem("A\n", "B\n")).toBe("A\nB\n");
    expect(caBundlePem("A", "B")).toBe("A\nB\n");
    expect(caBundlePem("A\n")).toBe("A\n");
    expect(caBundlePem("A\n", "")).toBe("A\n");
  });
});

describe("renewWebhookTls and applyRotationPlan", () => {
  it("creates a bundle, then keeps the very same object while nothing is due", async () => {
    const created = await renewWebhookTls(undefined, wanted(0));
    expect(created.action).toBe("create");
    expect(created.bundle.previousCaCertPem).toBeUndefined();
    const kept = await renewWebhookTls(created.bundle, wanted(DAY_MS));
    expect(kept.action).toBe("keep");
    expect(kept.bundle).toBe(created.bundle);
  });

  it("refuses to change a bundle it was not given", async () => {
    await expect(applyRotationPlan(undefined, "reissue-serving", wanted(0))).rejects.toThrow(
      "webhook TLS: cannot reissue-serving without a current bundle",
    );
  });
});
