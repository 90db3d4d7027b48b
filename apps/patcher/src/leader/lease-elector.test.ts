import { setImmediate as tick } from "node:timers/promises";
import { ApiException, KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_TIMINGS,
  LeaseElectionError,
  LeaseElector,
  LeadershipEnded,
  MicroTime,
  acquireDelayMs,
  decideAcquire,
  describeError,
  electorState,
  formatMicroTime,
  holderSpec,
  leaseDurationSeconds,
  leaseExpiresAt,
  leaseView,
  parseMicroTime,
  releasedSpec,
  resolveTimings,
  stepDownAt,
  toMicroTime,
  type ElectorClock,
  type LeaseClient,
  type LeaseView,
} from "./lease-elector.js";

const T0 = Date.UTC(2026, 10, 29, 14, 39, 9, 35); // 2026-11-29T14:39:09.035Z
const SIX_DIGITS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function view(partial: Partial<LeaseView>): LeaseView {
  return {
    holderIdentity: undefined,
    renewTimeMs: undefined,
    acquireTimeMs: undefined,
    leaseDurationMs: undefined,
    leaseTransitions: 0,
    observedAtMs: T0,
    ...partial,
  };
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

  it("serialises every time in a written spec as MicroTime", () => {
    const json = JSON.parse(JSON.stringify(holderSpec(undefined, "a", T0, 15))) as Record<string, unknown>;
    expect(json.renewTime).toMatch(SIX_DIGITS);
    expect(json.acquireTime).toMatch(SIX_DIGITS);
    const released = JSON.parse(JSON.stringify(releasedSpec({ holderIdentity: "a" }, T0))) as Record<string, unknown>;
    expect(released.renewTime).toMatch(SIX_DIGITS);
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

  it("keeps a server-provided MicroTime verbatim and re-encodes anything else", () => {
    expect(toMicroTime("2026-11-29T14:39:09.035123Z", 0).toISOString()).toBe("2026-11-29T14:39:09.035123Z");
    expect(toMicroTime("2026-11-29T14:39:09.035Z", 0).toISOString()).toBe("2026-11-29T14:39:09.035000Z");
    expect(toMicroTime(new Date(T0), 0).toISOString()).toBe("2026-11-29T14:39:09.035000Z");
    expect(toMicroTime(undefined, T0).toISOString()).toBe("2026-11-29T14:39:09.035000Z");
  });
});

describe("resolveTimings", () => {
  it("defaults to client-go's 15 s / 10 s / 2 s", () => {
    expect(resolveTimings()).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, jitterFactor: 1.2 });
    expect(resolveTimings({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 })).toMatchObject({
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
    });
  });

  it("rejects timings that could let two leaders overlap or depose a leader on one failure", () => {
    expect(() => resolveTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(/leaseDurationMs \(10000\) must be greater than renewDeadlineMs/);
    expect(() => resolveTimings({ renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(/renewDeadlineMs \(2000\) must be greater than retryPeriodMs/);
    expect(() => resolveTimings({ retryPeriodMs: 0 })).toThrow(/retryPeriodMs must be a positive number/);
    expect(() => resolveTimings({ leaseDurationMs: Number.NaN })).toThrow(/leaseDurationMs must be a positive number/);
    expect(() => resolveTimings({ jitterFactor: -1 })).toThrow(/jitterFactor/);
  });

  it("rounds the written lease duration up to whole seconds", () => {
    expect(leaseDurationSeconds(15_000)).toBe(15);
    expect(leaseDurationSeconds(3000)).toBe(3);
    expect(leaseDurationSeconds(1500)).toBe(2);
    expect(leaseDurationSeconds(1)).toBe(1);
  });
});

describe("lease expiry and the acquire decision", () => {
  const L = 15_000;

  it("reads a Lease as client-node returns it", () => {
    const lease: V1Lease = {
      metadata: { name: "l", resourceVersion: "7" },
      spec: {
        holderIdentity: "",
        leaseDurationSeconds: 3,
        leaseTransitions: 4,
        renewTime: "2026-11-29T14:39:09.035000Z" as unknown as MicroTime,
      },
    };
    expect(leaseView(lease, 99)).toEqual({
      holderIdentity: undefined,
      renewTimeMs: T0,
      acquireTimeMs: undefined,
      leaseDurationMs: 3000,
      leaseTransitions: 4,
      observedAtMs: 99,
    });
  });

  it("expires the holder's duration after the record last changed by our own clock, whatever the holder's clock says", () => {
    expect(leaseExpiresAt(view({ renewTimeMs: T0 - 1000, leaseDurationMs: 3000 }), L)).toBe(T0 + 3000);
    expect(leaseExpiresAt(view({ renewTimeMs: T0 - 1000 }), L)).toBe(T0 + L);
    expect(leaseExpiresAt(view({ acquireTimeMs: T0 - 500 }), L)).toBe(T0 + L);
    expect(leaseExpiresAt(view({}), L)).toBe(T0 + L);
    // A holder whose clock runs an hour ahead cannot pin the Lease for an hour ...
    expect(leaseExpiresAt(view({ renewTimeMs: T0 + 3_600_000 }), L)).toBe(T0 + L);
    // ... and one whose clock runs an hour behind does not lose it while it renews.
    expect(leaseExpiresAt(view({ renewTimeMs: T0 - 3_600_000 }), L)).toBe(T0 + L);
  });

  it("creates an absent Lease, renews its own, takes over released or expired ones, and waits otherwise", () => {
    expect(decideAcquire(undefined, "me", T0, L)).toEqual({ action: "create" });
    expect(decideAcquire(view({ holderIdentity: "me", renewTimeMs: T0 - 60_000 }), "me", T0, L)).toEqual({ action: "renew" });
    expect(decideAcquire(view({ holderIdentity: undefined, renewTimeMs: T0 }), "me", T0, L)).toEqual({
      action: "takeover",
      reason: "released",
      previousHolder: undefined,
    });
    const held = view({ holderIdentity: "other", renewTimeMs: T0 - 3000, leaseDurationMs: 3000, observedAtMs: T0 - 3000 });
    expect(decideAcquire(held, "me", T0 - 1, L)).toEqual({ action: "wait", holder: "other", expiresAtMs: T0 });
    expect(decideAcquire(held, "me", T0, L)).toEqual({ action: "takeover", reason: "expired", previousHolder: "other" });
  });

  it("steps a leader down before any follower may take over, for the default and the e2e timings", () => {
    for (const t of [DEFAULT_TIMINGS, resolveTimings({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 })]) {
      for (const renewTimeMs of [T0, T0 + 1, T0 + 999]) {
        // A follower sees the renewal after it was written (here 5 ms later), never before.
        const lease = view({ holderIdentity: "leader", renewTimeMs, leaseDurationMs: leaseDurationSeconds(t.leaseDurationMs) * 1000, observedAtMs: renewTimeMs + 5 });
        const expires = leaseExpiresAt(lease, t.leaseDurationMs);
        expect(stepDownAt(renewTimeMs, t.renewDeadlineMs)).toBeLessThan(expires);
        expect(expires - stepDownAt(renewTimeMs, t.renewDeadlineMs)).toBe(t.leaseDurationMs - t.renewDeadlineMs + 5);
        expect(decideAcquire(lease, "follower", stepDownAt(renewTimeMs, t.renewDeadlineMs), t.leaseDurationMs).action).toBe("wait");
      }
    }
  });
});

describe("acquireDelayMs", () => {
  const base = { retryPeriodMs: 2000, jitterFactor: 1.2, nowMs: T0 };

  it("waits retryPeriod × (1 + jitter × random)", () => {
    expect(acquireDelayMs({ ...base, random: 0 })).toBe(2000);
    expect(acquireDelayMs({ ...base, random: 0.5 })).toBe(3200);
    expect(acquireDelayMs({ ...base, random: 0.999 })).toBeCloseTo(4397.6);
    expect(acquireDelayMs({ ...base, jitterFactor: 0, random: 0.9 })).toBe(2000);
  });

  it("wakes just after a Lease expires instead of up to a whole jittered period later", () => {
    expect(acquireDelayMs({ ...base, random: 0.5, expiresAtMs: T0 + 300 })).toBe(300 + 2000 * 0.1 * 0.5);
    expect(acquireDelayMs({ ...base, random: 0, expiresAtMs: T0 + 300 })).toBe(300);
    expect(acquireDelayMs({ ...base, random: 0.5, expiresAtMs: T0 + 60_000 })).toBe(3200);
    expect(acquireDelayMs({ ...base, random: 0, expiresAtMs: T0 - 5 })).toBe(0);
  });
});

describe("lease specs", () => {
  it("creates with zero transitions and both times now", () => {
    const spec = holderSpec(undefined, "me", T0, 15);
    expect(JSON.parse(JSON.stringify(spec))).toEqual({
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2026-11-29T14:39:09.035000Z",
      renewTime: "2026-11-29T14:39:09.035000Z",
      leaseTransitions: 0,
    });
  });

  it("renews: keeps acquireTime (verbatim) and transitions, moves renewTime, keeps other fields", () => {
    const previous = {
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2026-11-29T14:00:00.123456Z" as unknown as MicroTime,
      renewTime: "2026-11-29T14:39:00.000000Z" as unknown as MicroTime,
      leaseTransitions: 3,
      strategy: "OldestEmulationVersion",
    };
    expect(JSON.parse(JSON.stringify(holderSpec(previous, "me", T0, 15)))).toEqual({
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTime: "2026-11-29T14:00:00.123456Z",
      renewTime: "2026-11-29T14:39:09.035000Z",
      leaseTransitions: 3,
      strategy: "OldestEmulationVersion",
    });
  });

  it("takes over: counts a transition (also from a released Lease) and restarts acquireTime", () => {
    for (const holderIdentity of ["other", ""]) {
      const spec = JSON.parse(JSON.stringify(holderSpec({ holderIdentity, leaseTransitions: 3, leaseDurationSeconds: 1 }, "me", T0, 15))) as Record<string, unknown>;
      expect(spec).toMatchObject({ holderIdentity: "me", leaseTransitions: 4, leaseDurationSeconds: 15, acquireTime: "2026-11-29T14:39:09.035000Z" });
    }
  });

  it("releases: empty holder, one second, same transitions", () => {
    expect(JSON.parse(JSON.stringify(releasedSpec({ holderIdentity: "me", leaseTransitions: 2, leaseDurationSeconds: 15 }, T0)))).toEqual({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: "2026-11-29T14:39:09.035000Z",
      renewTime: "2026-11-29T14:39:09.035000Z",
      leaseTransitions: 2,
    });
  });
});

describe("electorState", () => {
  const base = { running: true, isLeader: false, nowMs: T0, leaseDurationMs: 15_000 };
  it("is leader while leading, follower while the Lease was seen within a lease duration, unknown otherwise", () => {
    expect(electorState({ ...base, isLeader: true, lastObservedMs: undefined })).toBe("leader");
    expect(electorState({ ...base, lastObservedMs: T0 - 15_000 })).toBe("follower");
    expect(electorState({ ...base, lastObservedMs: T0 - 15_001 })).toBe("unknown");
    expect(electorState({ ...base, lastObservedMs: undefined })).toBe("unknown");
    expect(electorState({ ...base, running: false, lastObservedMs: T0 })).toBe("unknown");
  });
});

describe("describeError", () => {
  it("summarises an API error from its Status, without the response headers", () => {
    const body = JSON.stringify({ kind: "Status", reason: "Conflict", code: 409, message: "Operation cannot be fulfilled on leases.coordination.k8s.io \"l\"" });
    const err = new ApiException(409, "Unknown API Status Code!", body, { authorization: "Bearer secret-token", "audit-id": "x" });
    expect(describeError(err)).toEqual({ status: 409, detail: 'HTTP 409 Conflict: Operation cannot be fulfilled on leases.coordination.k8s.io "l"' });
    expect(describeError(new ApiException(401, "Unauthorized", undefined, {}))).toEqual({ status: 401, detail: "HTTP 401" });
  });

  it("includes a network error's cause code", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    expect(describeError(new TypeError("fetch failed", { cause })).detail).toBe("TypeError: fetch failed (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1)");
  });
});

// ---------------------------------------------------------------------------------------------------
// The loop, against an in-memory Lease store and a manual clock
// ---------------------------------------------------------------------------------------------------

class ManualClock implements ElectorClock {
  nowMs = T0;
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  now(): number {
    return this.nowMs;
  }
  setTimeout(callback: () => void, ms: number): () => void {
    const timer = { at: this.nowMs + Math.max(0, ms), seq: this.#seq++, fn: callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  /** Moves time forward, firing due timers in order and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next || next.at > target) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.nowMs = Math.max(this.nowMs, next.at);
      next.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }
}

/** Another replica's clock: the same timers, but `now()` off by `offsetMs` (negative: behind). */
function skewed(clock: ManualClock, offsetMs: number): ElectorClock {
  return { now: () => clock.now() + offsetMs, setTimeout: (callback, ms) => clock.setTimeout(callback, ms) };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

/** An in-memory API server for one Lease: JSON on the wire, resourceVersion checks, MicroTime checks. */
class FakeLeases implements LeaseClient {
  stored: Record<string, unknown> | undefined;
  #rv = 0;
  /** "ok", or how every request fails. */
  mode: "ok" | "refuse" | "hang" = "ok";
  writes: Record<string, unknown>[] = [];
  /** Runs just before a write is stored. */
  beforeWrite: (() => void) | undefined;

  view(): { spec: Record<string, unknown>; resourceVersion: string } {
    const lease = this.stored as { spec: Record<string, unknown>; metadata: { resourceVersion: string } };
    return { spec: lease.spec, resourceVersion: lease.metadata.resourceVersion };
  }

  async #gate(signal: AbortSignal): Promise<void> {
    await Promise.resolve();
    if (this.mode === "refuse") throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    if (this.mode === "hang") {
      await new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true });
      });
    }
  }

  #status(code: number, reason: string): ApiException<string> {
    return new ApiException(code, "Unknown API Status Code!", JSON.stringify({ kind: "Status", code, reason, message: reason }), {});
  }

  #accept(lease: V1Lease): V1Lease {
    const wire = JSON.parse(JSON.stringify(lease)) as { spec?: Record<string, unknown>; metadata?: Record<string, unknown> };
    for (const field of ["renewTime", "acquireTime"]) {
      const value = wire.spec?.[field];
      if (value !== undefined && (typeof value !== "string" || !SIX_DIGITS.test(value))) throw this.#status(400, `bad MicroTime ${JSON.stringify(value)}`);
    }
    this.beforeWrite?.();
    wire.metadata = { ...wire.metadata, resourceVersion: String(++this.#rv) };
    this.stored = wire;
    this.writes.push(wire);
    return JSON.parse(JSON.stringify(wire)) as V1Lease;
  }

  async read(_namespace: string, _name: string, signal: AbortSignal): Promise<V1Lease> {
    await this.#gate(signal);
    if (!this.stored) throw this.#status(404, "NotFound");
    return JSON.parse(JSON.stringify(this.stored)) as V1Lease;
  }
  async create(_namespace: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    await this.#gate(signal);
    if (this.stored) throw this.#status(409, "AlreadyExists");
    return this.#accept(lease);
  }
  async replace(_namespace: string, _name: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease> {
    await this.#gate(signal);
    if (!this.stored) throw this.#status(404, "NotFound");
    if (lease.metadata?.resourceVersion !== this.view().resourceVersion) throw this.#status(409, "Conflict");
    return this.#accept(lease);
  }
}

/** Lets one FakeLeases fail for one elector only (a network partition of that replica). */
function partitioned(store: FakeLeases): LeaseClient & { mode: FakeLeases["mode"] } {
  const client = {
    mode: "ok" as FakeLeases["mode"],
    async run<T>(signal: AbortSignal, op: () => Promise<T>): Promise<T> {
      await Promise.resolve();
      if (client.mode === "refuse") throw new TypeError("fetch failed");
      if (client.mode === "hang") {
        await new Promise<void>((_, reject) => signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true }));
      }
      return op();
    },
    read: (ns: string, name: string, signal: AbortSignal) => client.run(signal, () => store.read(ns, name, signal)),
    create: (ns: string, lease: V1Lease, signal: AbortSignal) => client.run(signal, () => store.create(ns, lease, signal)),
    replace: (ns: string, name: string, lease: V1Lease, signal: AbortSignal) => client.run(signal, () => store.replace(ns, name, lease, signal)),
  };
  return client;
}

interface Harness {
  elector: LeaseElector;
  events: string[];
  terms: { start: number; end?: number; reason?: unknown }[];
  controller: AbortController;
  done: Promise<void>;
}

function start(
  clock: ManualClock,
  client: LeaseClient,
  identity: string,
  extra: { releaseOnCancel?: boolean; work?: (signal: AbortSignal) => Promise<void>; clock?: ElectorClock } = {},
): Harness {
  const events: string[] = [];
  const terms: { start: number; end?: number; reason?: unknown }[] = [];
  const elector = new LeaseElector({
    kubeConfig: new KubeConfig(),
    client,
    clock: extra.clock ?? clock,
    random: () => 0,
    namespace: "ns",
    name: "lock",
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
    ...(extra.releaseOnCancel === undefined ? {} : { releaseOnCancel: extra.releaseOnCancel }),
    observer: {
      onLeaderChange: (id) => events.push(`leader:${id ?? "-"}`),
      onTransition: (leading) => events.push(leading ? "transition:leader" : "transition:follower"),
    },
  });
  const controller = new AbortController();
  const done = elector.run(controller.signal, {
    onStartedLeading: (signal) => {
      const term: { start: number; end?: number; reason?: unknown } = { start: clock.now() };
      terms.push(term);
      events.push("started");
      signal.addEventListener("abort", () => {
        term.end = clock.now();
        term.reason = signal.reason;
        // Work that checks isLeader before each write must already see false here.
        events.push(`abort:isLeader=${String(elector.isLeader)}`);
      });
      return extra.work?.(signal);
    },
    onStoppedLeading: () => events.push("stopped"),
  });
  return { elector, events, terms, controller, done };
}

describe("LeaseElector loop (in-memory API, manual clock)", () => {
  it("creates the Lease, renews every retryPeriod, and releases it on cancel", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const a = start(clock, store, "a");
    await clock.advance(0);
    expect(a.elector.isLeader).toBe(true);
    expect(a.elector.state).toBe("leader");
    expect(a.elector.currentLeader).toBe("a");
    expect(store.view().spec).toMatchObject({ holderIdentity: "a", leaseDurationSeconds: 3, leaseTransitions: 0 });
    await clock.advance(2600);
    expect(store.writes.length).toBe(1 + 5); // create + a renewal every 500 ms
    expect(parseMicroTime(store.view().spec.renewTime)).toBe(T0 + 2500);

    a.controller.abort();
    await clock.advance(0);
    await a.done;
    expect(store.view().spec).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(a.events).toEqual(["leader:a", "transition:leader", "started", "transition:follower", "abort:isLeader=false", "leader:-", "stopped"]);
    expect(a.elector.state).toBe("unknown");
  });

  for (const mode of ["refuse", "hang"] as const) {
    it(`steps down at lastRenew + renewDeadline when renewals ${mode === "hang" ? "hang" : "fail"}, then re-acquires its own Lease`, async () => {
      const clock = new ManualClock();
      const store = new FakeLeases();
      const a = start(clock, store, "a");
      await clock.advance(1000); // renewed at +500 and +1000
      const lastRenew = parseMicroTime(store.view().spec.renewTime);
      expect(lastRenew).toBe(T0 + 1000);
      store.mode = mode;
      await clock.advance(1999);
      expect(a.elector.isLeader).toBe(true);
      await clock.advance(1);
      expect(a.elector.isLeader).toBe(false);
      expect(a.terms).toMatchObject([{ start: T0, end: T0 + 3000 }]);
      expect(a.terms[0]?.reason).toBeInstanceOf(LeadershipEnded);
      expect((a.terms[0]?.reason as Error).message).toBe("leadership of lease ns/lock ended: could not renew for 2000 ms (renew deadline)");
      expect(a.terms[0]?.end).toBeLessThan(T0 + 1000 + 3000); // before followers could take over
      // isLeader is already false when the term's abort handlers run (writes check it).
      expect(a.events.slice(-3)).toEqual(["transition:follower", "abort:isLeader=false", "stopped"]);
      expect(a.elector.state).toBe("follower");
      await clock.advance(3000);
      expect(a.elector.state).toBe("unknown"); // nothing read for a lease duration

      store.mode = "ok";
      await clock.advance(5000);
      expect(a.elector.isLeader).toBe(true); // the Lease still named it: renewed at once
      expect(a.terms.length).toBe(2);
      a.controller.abort();
      await clock.advance(0);
      await a.done;
    });
  }

  it("lets exactly one of two candidates lead; a crashed leader's Lease is taken over once it expires", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const a = start(clock, store, "a", { releaseOnCancel: false });
    await clock.advance(0);
    const b = start(clock, store, "b");
    await clock.advance(5000);
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([true, false]);
    expect(b.elector.currentLeader).toBe("a");
    expect(b.elector.state).toBe("follower");

    a.controller.abort(); // stops renewing without releasing
    await clock.advance(0);
    await a.done;
    const lastRenew = parseMicroTime(store.view().spec.renewTime) ?? 0;
    expect(store.view().spec.holderIdentity).toBe("a");
    await clock.advance(2999 - (clock.now() - lastRenew));
    expect(b.elector.isLeader).toBe(false);
    await clock.advance(600);
    expect(b.elector.isLeader).toBe(true);
    expect(b.terms[0]?.start).toBeGreaterThanOrEqual(lastRenew + 3000);
    expect(b.terms[0]?.start).toBeLessThanOrEqual(lastRenew + 3000 + 2 * 500);
    expect(store.view().spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    b.controller.abort();
    await clock.advance(0);
    await b.done;
  });

  for (const skewMs of [-10_000, -3_600_000, 3_600_000]) {
    it(`keeps a renewing leader whose clock is ${Math.abs(skewMs) / 1000} s ${skewMs < 0 ? "behind" : "ahead"}, and replaces it one lease duration after it stops`, async () => {
      const clock = new ManualClock();
      const store = new FakeLeases();
      const a = start(clock, store, "a", { releaseOnCancel: false, clock: skewed(clock, skewMs) });
      await clock.advance(0);
      const b = start(clock, store, "b");
      await clock.advance(10_000);
      expect(a.elector.isLeader).toBe(true);
      expect(b.elector.isLeader).toBe(false);
      expect(b.elector.currentLeader).toBe("a");
      expect(a.terms).toHaveLength(1);
      expect(a.terms[0]?.end).toBeUndefined();
      expect(store.view().spec.holderIdentity).toBe("a");

      a.controller.abort(); // stops renewing without releasing
      await clock.advance(0);
      await a.done;
      const stoppedAt = clock.now();
      await clock.advance(2999);
      expect(b.elector.isLeader).toBe(false);
      await clock.advance(1000);
      expect(b.elector.isLeader).toBe(true);
      expect(b.terms[0]?.start).toBeGreaterThanOrEqual(stoppedAt + 3000 - 500);
      b.controller.abort();
      await clock.advance(0);
      await b.done;
    });
  }

  it("hands over at the follower's next poll when the leader releases", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const a = start(clock, store, "a");
    await clock.advance(0);
    const b = start(clock, store, "b");
    await clock.advance(1000);
    a.controller.abort();
    await clock.advance(0);
    await a.done;
    const releasedAt = clock.now();
    await clock.advance(500);
    expect(b.elector.isLeader).toBe(true);
    expect(b.terms[0]?.start).toBeLessThanOrEqual(releasedAt + 500);
    expect(a.terms[0]?.end).toBeLessThanOrEqual(b.terms[0]?.start ?? 0);
    expect(store.view().spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    b.controller.abort();
    await clock.advance(0);
    await b.done;
  });

  it("steps down at once when a renewal finds the Lease taken by someone else", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const a = start(clock, store, "a");
    await clock.advance(600);
    const { resourceVersion } = store.view();
    await store.replace("ns", "lock", { metadata: { name: "lock", resourceVersion }, spec: holderSpec({ holderIdentity: "a" }, "intruder", clock.now(), 3) }, new AbortController().signal);
    await clock.advance(400);
    expect(a.elector.isLeader).toBe(false);
    expect(a.elector.currentLeader).toBe("intruder");
    expect(a.terms[0]?.end).toBe(T0 + 1000);
    a.controller.abort();
    await clock.advance(0);
    await a.done;
    expect(store.view().spec.holderIdentity).toBe("intruder"); // not released: it is not ours
  });

  it("waits for the leader work to stop before releasing on cancel", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    let finish = (): void => {};
    const a = start(clock, store, "a", { work: () => new Promise<void>((resolve) => (finish = resolve)) });
    await clock.advance(0);
    a.controller.abort();
    await clock.advance(1200);
    expect(a.elector.isLeader).toBe(false); // leaderSignal aborted at once
    expect(store.view().spec.holderIdentity).toBe("a"); // still held and renewed while the work winds down
    expect(parseMicroTime(store.view().spec.renewTime)).toBe(T0 + 1000);
    finish();
    await clock.advance(0);
    await a.done;
    expect(store.view().spec.holderIdentity).toBe("");
  });

  it("hands the Lease straight back when cancelled while its acquiring write is in flight", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const controller = { abort: (): void => {} };
    store.beforeWrite = () => {
      store.beforeWrite = undefined;
      controller.abort();
    };
    const a = start(clock, store, "a");
    controller.abort = () => a.controller.abort();
    await clock.advance(0);
    await a.done;
    expect(a.terms).toEqual([]);
    expect(store.writes.map((w) => (w.spec as { holderIdentity: string }).holderIdentity)).toEqual(["a", ""]);
  });

  it("rejects run() and releases the Lease when onStartedLeading fails", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const a = start(clock, store, "a", { work: () => Promise.reject(new Error("boom")) });
    const outcome = a.done.then(
      () => undefined,
      (err: unknown) => err,
    );
    await clock.advance(0);
    const err = await outcome;
    expect(err).toBeInstanceOf(LeaseElectionError);
    expect((err as Error).message).toBe("lease ns/lock: onStartedLeading: leader work failed: Error: boom");
    expect(store.view().spec.holderIdentity).toBe("");
  });

  it("isolates one replica: the partitioned leader steps down before the other takes over", async () => {
    const clock = new ManualClock();
    const store = new FakeLeases();
    const aClient = partitioned(store);
    const a = start(clock, aClient, "a");
    await clock.advance(0);
    const b = start(clock, store, "b");
    await clock.advance(1000);
    const lastRenew = parseMicroTime(store.view().spec.renewTime) ?? 0;
    aClient.mode = "hang";
    await clock.advance(4000);
    expect(a.elector.isLeader).toBe(false);
    expect(b.elector.isLeader).toBe(true);
    expect(a.terms[0]?.end).toBe(lastRenew + 2000);
    expect(b.terms[0]?.start).toBeGreaterThanOrEqual(lastRenew + 3000);
    aClient.mode = "ok";
    await clock.advance(2000);
    expect(a.elector.state).toBe("follower");
    expect(a.elector.currentLeader).toBe("b");
    a.controller.abort();
    b.controller.abort();
    await clock.advance(0);
    await Promise.all([a.done, b.done]);
  });
});
