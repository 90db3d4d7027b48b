// The elector loop against an in-memory lock and a manual clock.
import { describe, expect, it } from "vitest";
import { ManualClock, flushAsync, type Clock } from "../util/clock.js";
import { holderRecord } from "./decisions.js";
import { LeaderElector } from "./elector.js";
import { LeaderElectionError } from "./lock-call.js";
import type { LeaderElectionRecord, ResourceLock, VersionedRecord } from "./lock.js";
import { InMemoryLock } from "./memory-lock.js";
import { LeadershipEnded } from "./term.js";

const T0 = Date.UTC(2026, 10, 29, 14, 39, 9, 35);

/** Moves the clock after letting work already queued run (as a real event loop would first). */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  await flushAsync();
  await clock.advance(ms);
}

/** Another replica's clock: the same timers, but `now()` off by `offsetMs` (negative: behind). */
function skewed(clock: ManualClock, offsetMs: number): Clock {
  return {
    now: () => clock.now() + offsetMs,
    setTimeout: (callback, ms) => clock.setTimeout(callback, ms),
    clearTimeout: (timer) => clock.clearTimeout(timer),
  };
}

/** One replica's view of a shared lock, which the test can cut off (refused or hanging requests). */
class FaultyLock implements ResourceLock {
  mode: "ok" | "refuse" | "hang" = "ok";
  /** Runs once a write was stored, before its answer arrives. */
  afterWrite: (() => void) | undefined;
  constructor(readonly inner: ResourceLock) {}
  describe(): string {
    return this.inner.describe();
  }
  async #gate(signal: AbortSignal): Promise<void> {
    await Promise.resolve();
    if (this.mode === "refuse") {
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
      });
    }
    if (this.mode === "hang") {
      await new Promise<void>((_, reject) => {
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")), { once: true });
      });
    }
  }
  async get(signal: AbortSignal): Promise<VersionedRecord | undefined> {
    await this.#gate(signal);
    return this.inner.get(signal);
  }
  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord> {
    await this.#gate(signal);
    return this.#written(await this.inner.create(record, signal));
  }
  async update(record: LeaderElectionRecord, version: string, signal: AbortSignal): Promise<VersionedRecord> {
    await this.#gate(signal);
    return this.#written(await this.inner.update(record, version, signal));
  }
  #written(result: VersionedRecord): VersionedRecord {
    const after = this.afterWrite;
    this.afterWrite = undefined;
    after?.();
    return result;
  }
}

interface TermRecord {
  start: number;
  end?: number;
  reason?: unknown;
}

interface Harness {
  elector: LeaderElector;
  events: string[];
  terms: TermRecord[];
  controller: AbortController;
  done: Promise<void>;
  stop(): Promise<void>;
}

interface StartOptions {
  releaseOnCancel?: boolean;
  work?: (signal: AbortSignal) => Promise<void>;
  clock?: Clock;
}

function start(clock: ManualClock, lock: ResourceLock, identity: string, extra: StartOptions = {}): Harness {
  const events: string[] = [];
  const terms: TermRecord[] = [];
  const elector = new LeaderElector({
    lock,
    clock: extra.clock ?? clock,
    random: () => 0,
    jitterFactor: 0,
    identity,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 500,
    releaseOnCancel: extra.releaseOnCancel,
    observer: {
      onLeaderChange: (id) => events.push(`leader:${id ?? "-"}`),
      onTransition: (leading) => events.push(leading ? "transition:leader" : "transition:follower"),
    },
  });
  const controller = new AbortController();
  const done = elector.run(controller.signal, {
    onStartedLeading: (signal) => {
      const term: TermRecord = { start: clock.now() };
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
  const stop = async (): Promise<void> => {
    controller.abort();
    await advance(clock, 0);
    await done;
  };
  return { elector, events, terms, controller, done, stop };
}

const holder = (lock: InMemoryLock): string | undefined => lock.stored?.record.holderIdentity;
const renewTime = (lock: InMemoryLock): number | undefined => lock.stored?.record.renewTimeMs;

describe("LeaderElector (in-memory lock, manual clock)", () => {
  it("creates the lock, renews every retryPeriod, and releases it on cancel", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock("lease ns/lock");
    const a = start(clock, lock, "a");
    await advance(clock, 0);
    expect(a.elector.isLeader).toBe(true);
    expect(a.elector.state).toBe("leader");
    expect(a.elector.currentLeader).toBe("a");
    expect(lock.stored?.record).toMatchObject({ holderIdentity: "a", leaseDurationSeconds: 3, leaderTransitions: 0 });
    await advance(clock, 2600);
    expect(lock.writes.length).toBe(1 + 5); // create + a renewal every 500 ms
    expect(renewTime(lock)).toBe(T0 + 2500);

    await a.stop();
    expect(lock.stored?.record).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaderTransitions: 0 });
    expect(a.events).toEqual([
      "leader:a",
      "transition:leader",
      "started",
      "transition:follower",
      "abort:isLeader=false",
      "leader:-",
      "stopped",
    ]);
    expect(a.elector.state).toBe("unknown");
  });

  for (const mode of ["refuse", "hang"] as const) {
    it(`steps down at lastRenew + renewDeadline when renewals ${mode === "hang" ? "hang" : "fail"}, then re-acquires its own lock`, async () => {
      const clock = new ManualClock(T0);
      const store = new InMemoryLock("lease ns/lock");
      const lock = new FaultyLock(store);
      const a = start(clock, lock, "a");
      await advance(clock, 1000); // renewed at +500 and +1000
      expect(renewTime(store)).toBe(T0 + 1000);
      lock.mode = mode;
      await advance(clock, 1999);
      expect(a.elector.isLeader).toBe(true);
      await advance(clock, 1);
      expect(a.elector.isLeader).toBe(false);
      expect(a.terms).toMatchObject([{ start: T0, end: T0 + 3000 }]);
      expect(a.terms[0]?.reason).toBeInstanceOf(LeadershipEnded);
      expect((a.terms[0]?.reason as Error).message).toBe(
        "leadership of lease ns/lock ended: could not renew for 2000 ms (renew deadline)",
      );
      expect(a.terms[0]?.end).toBeLessThan(T0 + 1000 + 3000); // before followers could take over
      // isLeader is already false when the term's abort handlers run (writes check it).
      expect(a.events.slice(-3)).toEqual(["transition:follower", "abort:isLeader=false", "stopped"]);
      expect(a.elector.state).toBe("follower");
      await advance(clock, 3000);
      expect(a.elector.state).toBe("unknown"); // nothing read for a lease duration

      lock.mode = "ok";
      await advance(clock, 5000);
      expect(a.elector.isLeader).toBe(true); // the lock still named it: renewed at once
      expect(a.terms.length).toBe(2);
      await a.stop();
    });
  }

  it("lets exactly one of two candidates lead; a crashed leader's lock is taken over once it expires", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock();
    const a = start(clock, lock, "a", { releaseOnCancel: false });
    await advance(clock, 0);
    const b = start(clock, lock, "b");
    await advance(clock, 5000);
    expect([a.elector.isLeader, b.elector.isLeader]).toEqual([true, false]);
    expect(b.elector.currentLeader).toBe("a");
    expect(b.elector.state).toBe("follower");

    await a.stop(); // stops renewing without releasing
    const lastRenew = renewTime(lock) ?? 0;
    expect(holder(lock)).toBe("a");
    await advance(clock, 2999 - (clock.now() - lastRenew));
    expect(b.elector.isLeader).toBe(false);
    await advance(clock, 600);
    expect(b.elector.isLeader).toBe(true);
    expect(b.terms[0]?.start).toBeGreaterThanOrEqual(lastRenew + 3000);
    expect(b.terms[0]?.start).toBeLessThanOrEqual(lastRenew + 3000 + 2 * 500);
    expect(lock.stored?.record).toMatchObject({ holderIdentity: "b", leaderTransitions: 1 });
    expect(b.elector.leaseTransitions).toBe(1);
    await b.stop();
  });

  for (const skewMs of [-10_000, -3_600_000, 3_600_000]) {
    const direction = skewMs < 0 ? "behind" : "ahead";
    it(`keeps a renewing leader whose clock is ${Math.abs(skewMs) / 1000} s ${direction}, and replaces it one lease duration after it stops`, async () => {
      const clock = new ManualClock(T0);
      const lock = new InMemoryLock();
      const a = start(clock, lock, "a", { releaseOnCancel: false, clock: skewed(clock, skewMs) });
      await advance(clock, 0);
      const b = start(clock, lock, "b");
      await advance(clock, 10_000);
      expect(a.elector.isLeader).toBe(true);
      expect(b.elector.isLeader).toBe(false);
      expect(b.elector.currentLeader).toBe("a");
      expect(a.terms).toHaveLength(1);
      expect(a.terms[0]?.end).toBeUndefined();
      expect(holder(lock)).toBe("a");

      await a.stop(); // stops renewing without releasing
      const stoppedAt = clock.now();
      await advance(clock, 2999);
      expect(b.elector.isLeader).toBe(false);
      await advance(clock, 1000);
      expect(b.elector.isLeader).toBe(true);
      expect(b.terms[0]?.start).toBeGreaterThanOrEqual(stoppedAt + 3000 - 500);
      await b.stop();
    });
  }

  it("hands over at the follower's next poll when the leader releases", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock();
    const a = start(clock, lock, "a");
    await advance(clock, 0);
    const b = start(clock, lock, "b");
    await advance(clock, 1000);
    await a.stop();
    const releasedAt = clock.now();
    await advance(clock, 500);
    expect(b.elector.isLeader).toBe(true);
    expect(b.terms[0]?.start).toBeLessThanOrEqual(releasedAt + 500);
    expect(a.terms[0]?.end).toBeLessThanOrEqual(b.terms[0]?.start ?? 0);
    expect(lock.stored?.record).toMatchObject({ holderIdentity: "b", leaderTransitions: 1 });
    await b.stop();
  });

  it("steps down at once when a renewal finds the lock taken by someone else", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock();
    const a = start(clock, lock, "a");
    await advance(clock, 600);
    const current = lock.stored;
    if (!current) throw new Error("no record");
    await lock.update(
      holderRecord(current.record, "intruder", clock.now(), 3),
      current.version,
      new AbortController().signal,
    );
    await advance(clock, 400);
    expect(a.elector.isLeader).toBe(false);
    expect(a.elector.currentLeader).toBe("intruder");
    expect(a.terms[0]?.end).toBe(T0 + 1000);
    await a.stop();
    expect(holder(lock)).toBe("intruder"); // not released: it is not ours
  });

  it("recreates its lock when it was deleted while leading", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock();
    const a = start(clock, lock, "a");
    await advance(clock, 600);
    lock.delete();
    await advance(clock, 500);
    expect(a.elector.isLeader).toBe(true);
    expect(lock.stored?.record).toMatchObject({ holderIdentity: "a", leaderTransitions: 0, renewTimeMs: T0 + 1000 });
    await a.stop();
  });

  it("waits for the leader work to stop before releasing on cancel", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock();
    let finish = (): void => {};
    const a = start(clock, lock, "a", { work: () => new Promise<void>((resolve) => (finish = resolve)) });
    await advance(clock, 0);
    a.controller.abort();
    await advance(clock, 1200);
    expect(a.elector.isLeader).toBe(false); // leaderSignal aborted at once
    expect(holder(lock)).toBe("a"); // still held and renewed while the work winds down
    expect(renewTime(lock)).toBe(T0 + 1000);
    finish();
    await advance(clock, 0);
    await a.done;
    expect(holder(lock)).toBe("");
  });

  it("hands the lock straight back when cancelled while its acquiring write is in flight", async () => {
    const clock = new ManualClock(T0);
    const store = new InMemoryLock();
    const lock = new FaultyLock(store);
    const a = start(clock, lock, "a");
    lock.afterWrite = () => a.controller.abort();
    await advance(clock, 0);
    await a.done;
    expect(a.terms).toEqual([]);
    expect(store.writes.map((w) => w.holderIdentity)).toEqual(["a", ""]);
  });

  it("rejects run() and releases the lock when onStartedLeading fails", async () => {
    const clock = new ManualClock(T0);
    const lock = new InMemoryLock("lease ns/lock");
    const a = start(clock, lock, "a", { work: () => Promise.reject(new Error("boom")) });
    const outcome = a.done.then(
      () => undefined,
      (err: unknown) => err,
    );
    await advance(clock, 0);
    const err = await outcome;
    expect(err).toBeInstanceOf(LeaderElectionError);
    expect((err as Error).message).toBe("lease ns/lock: onStartedLeading: leader work failed: Error: boom");
    expect(holder(lock)).toBe("");
  });

  it("refuses a second run() while the first is active", async () => {
    const clock = new ManualClock(T0);
    const a = start(clock, new InMemoryLock(), "a");
    await expect(
      a.elector.run(new AbortController().signal, { onStartedLeading: () => {}, onStoppedLeading: () => {} }),
    ).rejects.toThrow(/run\(\) is already active/);
    await a.stop();
  });

  it("isolates one replica: the partitioned leader steps down before the other takes over", async () => {
    const clock = new ManualClock(T0);
    const store = new InMemoryLock();
    const aLock = new FaultyLock(store);
    const a = start(clock, aLock, "a");
    await advance(clock, 0);
    const b = start(clock, store, "b");
    await advance(clock, 1000);
    const lastRenew = renewTime(store) ?? 0;
    aLock.mode = "hang";
    await advance(clock, 4000);
    expect(a.elector.isLeader).toBe(false);
    expect(b.elector.isLeader).toBe(true);
    expect(a.terms[0]?.end).toBe(lastRenew + 2000);
    expect(b.terms[0]?.start).toBeGreaterThanOrEqual(lastRenew + 3000);
    aLock.mode = "ok";
    await advance(clock, 2000);
    expect(a.elector.state).toBe("follower");
    expect(a.elector.currentLeader).toBe("b");
    await Promise.all([a.stop(), b.stop()]);
  });
});
