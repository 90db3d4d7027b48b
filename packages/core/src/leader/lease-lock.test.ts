import { ApiException, type V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { holderRecord, releasedRecord } from "./decisions.js";
import {
  LeaseLock,
  MicroTime,
  formatMicroTime,
  leaseBody,
  parseMicroTime,
  recordOfLease,
  toMicroTime,
  type LeaseApi,
} from "./lease-lock.js";

const T0 = Date.UTC(2026, 10, 29, 14, 39, 9, 35); // 2026-11-29T14:39:09.035Z
const SIX_DIGITS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const AT = { namespace: "ns", name: "lock" };
const micro = (text: string): MicroTime => text as unknown as MicroTime;
const json = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

function status(code: number, reason: string): ApiException<string> {
  return new ApiException(
    code,
    "Unknown API Status Code!",
    JSON.stringify({ kind: "Status", code, reason, message: reason }),
    {},
  );
}

/** The API server for one Lease: JSON on the wire, resourceVersion preconditions, MicroTime checks. */
class FakeLeaseApi implements LeaseApi {
  stored: Record<string, unknown> | undefined;
  #rv = 0;

  #accept(lease: V1Lease): V1Lease {
    const wire = json(lease) as { spec?: Record<string, unknown>; metadata?: Record<string, unknown> };
    for (const field of ["renewTime", "acquireTime"]) {
      const value = wire.spec?.[field];
      if (value !== undefined && (typeof value !== "string" || !SIX_DIGITS.test(value)))
        throw status(400, `bad MicroTime ${JSON.stringify(value)}`);
    }
    wire.metadata = { ...wire.metadata, resourceVersion: String(++this.#rv) };
    this.stored = wire;
    return json(wire);
  }
  #read(): V1Lease {
    if (!this.stored) throw status(404, "NotFound");
    return json(this.stored);
  }
  #create(body: V1Lease): V1Lease {
    if (this.stored) throw status(409, "AlreadyExists");
    return this.#accept(body);
  }
  #replace(body: V1Lease): V1Lease {
    if (!this.stored) throw status(404, "NotFound");
    if (body.metadata?.resourceVersion !== (this.stored.metadata as { resourceVersion: string }).resourceVersion)
      throw status(409, "Conflict");
    return this.#accept(body);
  }
  // Answers asynchronously, as over the network.
  readNamespacedLease = (): Promise<V1Lease> => Promise.resolve().then(() => this.#read());
  createNamespacedLease = ({ body }: { body: V1Lease }): Promise<V1Lease> =>
    Promise.resolve().then(() => this.#create(body));
  replaceNamespacedLease = ({ body }: { body: V1Lease }): Promise<V1Lease> =>
    Promise.resolve().then(() => this.#replace(body));
}

describe("MicroTime", () => {
  it("formats with exactly six fraction digits (a plain Date gives three, which the API server rejects)", () => {
    expect(formatMicroTime(T0)).toBe("2026-11-29T14:39:09.035000Z");
    expect(formatMicroTime(Date.UTC(2026, 0, 1))).toBe("2026-01-01T00:00:00.000000Z");
    expect(JSON.stringify({ t: new Date(T0) })).toBe('{"t":"2026-11-29T14:39:09.035Z"}');
    expect(JSON.stringify({ t: new MicroTime(T0) })).toBe('{"t":"2026-11-29T14:39:09.035000Z"}');
    expect(new MicroTime(T0).toISOString()).toBe("2026-11-29T14:39:09.035000Z");
    expect(new MicroTime(T0).getTime()).toBe(T0);
  });

  it("parses what client-node hands back (strings at runtime) and Dates", () => {
    expect(parseMicroTime("2026-11-29T14:39:09.035000Z")).toBe(T0);
    expect(parseMicroTime("2026-11-29T14:39:09.035Z")).toBe(T0);
    expect(parseMicroTime("2026-11-29T14:39:09Z")).toBe(T0 - 35);
    expect(parseMicroTime("2026-11-29T15:39:09.035000+01:00")).toBe(T0);
    expect(parseMicroTime(new Date(T0))).toBe(T0);
    // Sub-millisecond parts round up, so expiries are never early.
    expect(parseMicroTime("2026-11-29T14:39:09.035001Z")).toBe(T0 + 1);
    expect(parseMicroTime("2026-11-29T14:39:09.035000123Z")).toBe(T0 + 1);
    for (const bad of [undefined, null, "", "yesterday", "2026-11-29 14:39:09Z", 42, new Date(Number.NaN)]) {
      expect(parseMicroTime(bad)).toBeUndefined();
    }
  });

  it("keeps a stored MicroTime verbatim when it says the same instant, and re-encodes anything else", () => {
    expect(toMicroTime(T0 + 1, "2026-11-29T14:39:09.035123Z").toISOString()).toBe("2026-11-29T14:39:09.035123Z");
    expect(toMicroTime(T0, "2026-11-29T14:39:09.035Z").toISOString()).toBe("2026-11-29T14:39:09.035000Z");
    expect(toMicroTime(T0, new Date(T0)).toISOString()).toBe("2026-11-29T14:39:09.035000Z");
    expect(toMicroTime(T0 + 5, "2026-11-29T14:39:09.035123Z").toISOString()).toBe("2026-11-29T14:39:09.040000Z");
  });
});

describe("the Lease body", () => {
  it("reads a Lease as client-node returns it", () => {
    const lease: V1Lease = {
      metadata: { name: "lock", resourceVersion: "7" },
      spec: {
        holderIdentity: "",
        leaseDurationSeconds: 3,
        leaseTransitions: 4,
        renewTime: micro("2026-11-29T14:39:09.035000Z"),
      },
    };
    expect(recordOfLease(lease)).toEqual({
      version: "7",
      record: {
        holderIdentity: "",
        leaseDurationSeconds: 3,
        acquireTimeMs: undefined,
        renewTimeMs: T0,
        leaderTransitions: 4,
      },
    });
  });

  it("creates with every time as MicroTime", () => {
    expect(json(leaseBody(AT, holderRecord(undefined, "me", T0, 15)))).toEqual({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "lock", namespace: "ns" },
      spec: {
        holderIdentity: "me",
        leaseDurationSeconds: 15,
        acquireTime: "2026-11-29T14:39:09.035000Z",
        renewTime: "2026-11-29T14:39:09.035000Z",
        leaseTransitions: 0,
      },
    });
  });

  it("renews over the stored Lease: its resourceVersion, its acquireTime verbatim, and fields it does not manage", () => {
    const previous: V1Lease = {
      metadata: { name: "lock", namespace: "ns", resourceVersion: "41" },
      spec: {
        holderIdentity: "me",
        leaseDurationSeconds: 15,
        acquireTime: micro("2026-11-29T14:00:00.123456Z"),
        renewTime: micro("2026-11-29T14:39:00.000000Z"),
        leaseTransitions: 3,
        strategy: "OldestEmulationVersion",
      },
    };
    const record = holderRecord(recordOfLease(previous).record, "me", T0, 15);
    const body = json(leaseBody(AT, record, previous));
    expect(body.metadata).toEqual({ name: "lock", namespace: "ns", resourceVersion: "41" });
    expect(body.spec).toEqual({
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2026-11-29T14:00:00.123456Z",
      renewTime: "2026-11-29T14:39:09.035000Z",
      leaseTransitions: 3,
      strategy: "OldestEmulationVersion",
    });
  });

  it("releases: empty holder, one second, same transitions", () => {
    const spec = json(leaseBody(AT, releasedRecord({ holderIdentity: "me", leaderTransitions: 2 }, T0))).spec;
    expect(spec).toEqual({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: "2026-11-29T14:39:09.035000Z",
      renewTime: "2026-11-29T14:39:09.035000Z",
      leaseTransitions: 2,
    });
  });
});

describe("LeaseLock", () => {
  const signal = new AbortController().signal;

  it("answers undefined for a missing Lease, creates it, and updates it only at the version read", async () => {
    const api = new FakeLeaseApi();
    const lock = new LeaseLock({ api, ...AT });
    expect(lock.describe()).toBe("lease ns/lock");
    expect(await lock.get(signal)).toBeUndefined();
    const created = await lock.create(holderRecord(undefined, "a", T0, 3), signal);
    expect(created).toMatchObject({ version: "1", record: { holderIdentity: "a", renewTimeMs: T0 } });
    await expect(lock.create(holderRecord(undefined, "b", T0, 3), signal)).rejects.toMatchObject({ code: 409 });

    const renewed = await lock.update(holderRecord(created.record, "a", T0 + 500, 3), created.version, signal);
    expect(renewed).toMatchObject({
      version: "2",
      record: { holderIdentity: "a", renewTimeMs: T0 + 500, leaderTransitions: 0 },
    });
    await expect(lock.update(holderRecord(created.record, "b", T0, 3), created.version, signal)).rejects.toMatchObject({
      code: 409,
    });
    expect(api.stored?.spec).toMatchObject({ holderIdentity: "a", renewTime: "2026-11-29T14:39:09.535000Z" });
  });

  it("keeps spec fields another writer set, when it updates the version it last read", async () => {
    const api = new FakeLeaseApi();
    api.stored = {
      metadata: { name: "lock", namespace: "ns", resourceVersion: "9" },
      spec: { holderIdentity: "", strategy: "X" },
    };
    const lock = new LeaseLock({ api, ...AT });
    const current = await lock.get(signal);
    await lock.update(holderRecord(current?.record, "a", T0, 3), current?.version ?? "", signal);
    expect(api.stored.spec).toMatchObject({ holderIdentity: "a", strategy: "X", leaseTransitions: 1 });
  });

  it("rejects an empty namespace or name", () => {
    const api = new FakeLeaseApi();
    expect(() => new LeaseLock({ api, namespace: "", name: "x" })).toThrow(/namespace is required/);
    expect(() => new LeaseLock({ api, namespace: "ns", name: "" })).toThrow(/name is required/);
  });
});
