import { describe, expect, it } from "vitest";
import {
  DEFAULT_ELECTION_TIMINGS,
  acquireDelayMs,
  decideAcquire,
  electorState,
  holderRecord,
  jitteredRetryMs,
  leaseDurationSeconds,
  leaseExpiresAt,
  recordKey,
  releasedRecord,
  resolveTimings,
  stepDownAt,
  type ObservedRecord,
} from "./decisions.js";
import type { LeaderElectionRecord } from "./lock.js";

const T0 = Date.UTC(2026, 10, 29, 14, 39, 9, 35);
const L = 15_000;

function observed(record: Partial<LeaderElectionRecord>, changedAtMs = T0): ObservedRecord {
  return { record: { holderIdentity: "", leaderTransitions: 0, ...record }, changedAtMs };
}

describe("resolveTimings", () => {
  it("defaults to client-go's 15 s / 10 s / 2 s", () => {
    expect(resolveTimings()).toEqual({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      jitterFactor: 1.2,
    });
    expect(resolveTimings({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 })).toMatchObject({
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
    });
    expect(resolveTimings({ leaseDurationMs: undefined })).toEqual(DEFAULT_ELECTION_TIMINGS);
  });

  it("rejects timings that could let two leaders overlap or depose a leader on one failure", () => {
    expect(() => resolveTimings({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).toThrow(
      /leaseDurationMs \(10000\) must be greater than renewDeadlineMs/,
    );
    expect(() => resolveTimings({ renewDeadlineMs: 2000, retryPeriodMs: 2000 })).toThrow(
      /renewDeadlineMs \(2000\) must be greater than retryPeriodMs/,
    );
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

describe("lock expiry and the acquire decision", () => {
  it("expires the holder's duration after the record last changed by our own clock, whatever the holder's clock says", () => {
    expect(leaseExpiresAt(observed({ renewTimeMs: T0 - 1000, leaseDurationSeconds: 3 }), L)).toBe(T0 + 3000);
    expect(leaseExpiresAt(observed({ renewTimeMs: T0 - 1000 }), L)).toBe(T0 + L);
    expect(leaseExpiresAt(observed({ acquireTimeMs: T0 - 500 }), L)).toBe(T0 + L);
    // A holder whose clock runs an hour ahead cannot pin the lock for an hour ...
    expect(leaseExpiresAt(observed({ renewTimeMs: T0 + 3_600_000 }), L)).toBe(T0 + L);
    // ... and one whose clock runs an hour behind does not lose it while it renews.
    expect(leaseExpiresAt(observed({ renewTimeMs: T0 - 3_600_000 }), L)).toBe(T0 + L);
  });

  it("creates an absent lock, renews its own, takes over released or expired ones, and waits otherwise", () => {
    expect(decideAcquire(undefined, "me", T0, L)).toEqual({ action: "create" });
    expect(decideAcquire(observed({ holderIdentity: "me", renewTimeMs: T0 - 60_000 }), "me", T0, L)).toEqual({
      action: "renew",
    });
    expect(decideAcquire(observed({ holderIdentity: "", renewTimeMs: T0 }), "me", T0, L)).toEqual({
      action: "takeover",
      reason: "released",
      previousHolder: undefined,
    });
    const held = observed({ holderIdentity: "other", renewTimeMs: T0 - 3000, leaseDurationSeconds: 3 }, T0 - 3000);
    expect(decideAcquire(held, "me", T0 - 1, L)).toEqual({ action: "wait", holder: "other", expiresAtMs: T0 });
    expect(decideAcquire(held, "me", T0, L)).toEqual({
      action: "takeover",
      reason: "expired",
      previousHolder: "other",
    });
  });

  it("steps a leader down before any follower may take over, for the default and the e2e timings", () => {
    const e2e = resolveTimings({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    for (const t of [DEFAULT_ELECTION_TIMINGS, e2e]) {
      for (const renewTimeMs of [T0, T0 + 1, T0 + 999]) {
        // A follower sees the renewal after it was written (here 5 ms later), never before.
        const seen = observed(
          { holderIdentity: "leader", renewTimeMs, leaseDurationSeconds: leaseDurationSeconds(t.leaseDurationMs) },
          renewTimeMs + 5,
        );
        const expires = leaseExpiresAt(seen, t.leaseDurationMs);
        const stepDown = stepDownAt(renewTimeMs, t.renewDeadlineMs);
        expect(stepDown).toBeLessThan(expires);
        expect(expires - stepDown).toBe(t.leaseDurationMs - t.renewDeadlineMs + 5);
        expect(decideAcquire(seen, "follower", stepDown, t.leaseDurationMs).action).toBe("wait");
      }
    }
  });

  it("sees a change of version, holder or renewTime as a change of the record", () => {
    const base = { record: { holderIdentity: "a", renewTimeMs: T0, leaderTransitions: 0 }, version: "7" };
    const keys = new Set([
      recordKey(base),
      recordKey({ ...base, version: "8" }),
      recordKey({ ...base, record: { ...base.record, holderIdentity: "b" } }),
      recordKey({ ...base, record: { ...base.record, renewTimeMs: T0 + 1 } }),
    ]);
    expect(keys.size).toBe(4);
    expect(recordKey({ ...base, record: { ...base.record, leaderTransitions: 9 } })).toBe(recordKey(base));
  });
});

describe("retry delays", () => {
  const t = { ...DEFAULT_ELECTION_TIMINGS, retryPeriodMs: 2000, jitterFactor: 1.2 };
  const fixed = (r: number) => (): number => r;

  it("waits retryPeriod × (1 + jitter × random), drawn through util's backoffDelay", () => {
    expect(jitteredRetryMs(t, fixed(0))).toBe(2000);
    expect(jitteredRetryMs(t, fixed(0.5))).toBe(3200);
    expect(jitteredRetryMs(t, fixed(0.999))).toBe(4398);
    expect(jitteredRetryMs({ ...t, jitterFactor: 0 }, fixed(0.9))).toBe(2000);
  });

  it("wakes just after a lock expires instead of up to a whole jittered period later", () => {
    expect(acquireDelayMs(t, fixed(0.5), T0, T0 + 300)).toBe(300 + 2000 * 0.1 * 0.5);
    expect(acquireDelayMs(t, fixed(0), T0, T0 + 300)).toBe(300);
    expect(acquireDelayMs(t, fixed(0.5), T0, T0 + 60_000)).toBe(3200);
    expect(acquireDelayMs(t, fixed(0), T0, T0 - 5)).toBe(0);
  });
});

describe("records written", () => {
  it("creates with zero transitions and both times now", () => {
    expect(holderRecord(undefined, "me", T0, 15)).toEqual({
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTimeMs: T0,
      renewTimeMs: T0,
      leaderTransitions: 0,
    });
  });

  it("renews: keeps acquireTime and transitions, moves renewTime", () => {
    const previous = {
      holderIdentity: "me",
      leaseDurationSeconds: 15,
      acquireTimeMs: T0 - 60_000,
      renewTimeMs: T0 - 2000,
      leaderTransitions: 3,
    };
    expect(holderRecord(previous, "me", T0, 15)).toEqual({ ...previous, renewTimeMs: T0 });
  });

  it("takes over: counts a transition (also from a released lock) and restarts acquireTime", () => {
    for (const holderIdentity of ["other", ""]) {
      const record = holderRecord({ holderIdentity, leaderTransitions: 3, leaseDurationSeconds: 1 }, "me", T0, 15);
      expect(record).toEqual({
        holderIdentity: "me",
        leaderTransitions: 4,
        leaseDurationSeconds: 15,
        acquireTimeMs: T0,
        renewTimeMs: T0,
      });
    }
  });

  it("releases: empty holder, one second, same transitions", () => {
    expect(releasedRecord({ holderIdentity: "me", leaderTransitions: 2, leaseDurationSeconds: 15 }, T0)).toEqual({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTimeMs: T0,
      renewTimeMs: T0,
      leaderTransitions: 2,
    });
  });
});

describe("electorState", () => {
  const base = { running: true, isLeader: false, nowMs: T0, leaseDurationMs: 15_000 };
  it("is leader while leading, follower while the lock was seen within a lease duration, unknown otherwise", () => {
    expect(electorState({ ...base, isLeader: true, lastObservedMs: undefined })).toBe("leader");
    expect(electorState({ ...base, lastObservedMs: T0 - 15_000 })).toBe("follower");
    expect(electorState({ ...base, lastObservedMs: T0 - 15_001 })).toBe("unknown");
    expect(electorState({ ...base, lastObservedMs: undefined })).toBe("unknown");
    expect(electorState({ ...base, running: false, lastObservedMs: T0 })).toBe("unknown");
  });
});
