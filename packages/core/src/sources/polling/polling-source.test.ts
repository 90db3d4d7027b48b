import { describe, expect, it, vi } from "vitest";
import type { Logger } from "../../logging/logger.js";
import { ManualClock, flushAsync } from "./clock.js";
import { redactSecrets } from "../../util/errors.js";
import { SourceFetchError, describeSourceError } from "./errors.js";
import {
  PollingSource,
  backoffDelay,
  refreshDelay,
  type PolledValue,
  type PollingSourceOptions,
} from "./polling-source.js";

const PASSWORD = "pa55-Word-never-logged";
function dockerConfig(user = "robot", password = PASSWORD, registry = "registry.example"): string {
  return JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } } });
}
const AUTH_B64 = Buffer.from(`robot:${PASSWORD}`).toString("base64");

interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}
function captureLogger(lines: LogLine[]): Logger {
  const make = (base: Record<string, unknown>): Logger => ({
    debug: (fields, message) => lines.push({ level: "debug", fields: { ...base, ...fields }, message }),
    info: (fields, message) => lines.push({ level: "info", fields: { ...base, ...fields }, message }),
    warn: (fields, message) => lines.push({ level: "warn", fields: { ...base, ...fields }, message }),
    error: (fields, message) => lines.push({ level: "error", fields: { ...base, ...fields }, message }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make({});
}

type Step = PolledValue | Error | (() => Promise<PolledValue>);

/** A source whose fetch replays `steps` one per attempt (the last one repeats). */
function harness(steps: Step[], options: Partial<PollingSourceOptions> = {}) {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock();
  const lines: LogLine[] = [];
  const signals: AbortSignal[] = [];
  let calls = 0;
  const fetch = vi.fn(async (signal: AbortSignal): Promise<PolledValue> => {
    signals.push(signal);
    const step = steps[Math.min(calls, steps.length - 1)];
    calls++;
    if (step === undefined) throw new Error("no step");
    if (step instanceof Error) throw step;
    if (typeof step === "function") return step();
    return step;
  });
  const source = new PollingSource({
    description: "test backend team-a/registry",
    refreshIntervalMs: 60_000,
    fetch,
    clock,
    random: () => 0,
    logger: captureLogger(lines),
    ...options,
  });
  const changes: string[] = [];
  source.onChange(() =>
    changes.push(`${source.status().state}:${source.current()?.credential.hash.slice(7, 15) ?? "-"}`),
  );
  const controller = new AbortController();
  return { clock, lines, signals, fetch, source, changes, controller, start: () => source.start(controller.signal) };
}

function allText(h: { lines: LogLine[]; source: PollingSource }): string {
  return JSON.stringify(h.lines) + JSON.stringify(h.source.status());
}

describe("PollingSource", () => {
  it("resolves start after the first attempt and serves the validated value", async () => {
    const h = harness([{ bytes: dockerConfig() }]);
    await h.start();
    expect(h.fetch).toHaveBeenCalledTimes(1);
    const value = h.source.current();
    expect(value?.credential.registries).toEqual(["registry.example"]);
    expect(value?.credential.bytes.toString()).toBe(dockerConfig());
    expect(value?.fetchedAt.getTime()).toBe(h.clock.now());
    expect(h.source.status()).toMatchObject({ state: "ready", error: undefined });
    expect(h.source.status().lastSuccessAt?.getTime()).toBe(h.clock.now());
    expect(h.changes).toHaveLength(1);
    h.controller.abort();
  });

  it("refreshes every refreshInterval and fires onChange only when the bytes change", async () => {
    const h = harness([{ bytes: dockerConfig() }, { bytes: dockerConfig() }, { bytes: dockerConfig("robot2") }]);
    await h.start();
    expect(h.clock.pendingDelays()).toEqual([60_000]);
    await h.clock.advance(59_999);
    expect(h.fetch).toHaveBeenCalledTimes(1);
    await h.clock.advance(1);
    expect(h.fetch).toHaveBeenCalledTimes(2);
    expect(h.changes).toHaveLength(1); // identical bytes: no event
    expect(h.source.current()?.fetchedAt.getTime()).toBe(h.clock.now()); // but confirmed
    await h.clock.advance(60_000);
    expect(h.fetch).toHaveBeenCalledTimes(3);
    expect(h.changes).toHaveLength(2);
    expect(h.source.current()?.credential.bytes.toString()).toBe(dockerConfig("robot2"));
    expect(h.lines.some((l) => l.message === "credential changed")).toBe(true);
    h.controller.abort();
  });

  it("keeps the last good value when the backend fails, turns degraded, then recovers", async () => {
    const secretish = new Error(`connect failed for token hvs.CAESIJabcdefghijklmnopqrstuv and auth ${AUTH_B64}`);
    const h = harness([{ bytes: dockerConfig() }, secretish, secretish, { bytes: dockerConfig() }]);
    await h.start();
    const good = h.source.current();
    await h.clock.advanceToNext();
    expect(h.source.current()?.credential.hash).toBe(good?.credential.hash);
    expect(h.source.status().state).toBe("degraded");
    expect(h.source.status().error).toMatch(/^test backend team-a\/registry: Error: connect failed/);
    expect(h.changes.map((c) => c.split(":")[0])).toEqual(["ready", "degraded"]);
    await h.clock.advanceToNext(); // second failure: no new event
    expect(h.changes).toHaveLength(2);
    await h.clock.advanceToNext();
    expect(h.source.status()).toMatchObject({ state: "ready", error: undefined });
    expect(h.changes.map((c) => c.split(":")[0])).toEqual(["ready", "degraded", "ready"]);
    expect(h.lines.some((l) => l.message === "source recovered")).toBe(true);
    const text = allText(h);
    expect(text).not.toContain("hvs.CAESIJ");
    expect(text).not.toContain(AUTH_B64);
    expect(text).not.toContain(PASSWORD);
    h.controller.abort();
  });

  it("treats an invalid value as a failure that never replaces the good one", async () => {
    const h = harness([{ bytes: dockerConfig() }, { bytes: `{"auths": {"r": {"auth": "${PASSWORD}` }, { bytes: "{}" }]);
    await h.start();
    const good = h.source.current();
    await h.clock.advanceToNext();
    expect(h.source.current()).toBe(good);
    expect(h.source.status().state).toBe("degraded");
    expect(h.source.status().error).toBe("test backend team-a/registry: invalid .dockerconfigjson: not valid JSON");
    await h.clock.advanceToNext();
    expect(h.source.current()).toBe(good);
    expect(h.source.status().error).toContain('missing the "auths" object');
    expect(allText(h)).not.toContain(PASSWORD);
    h.controller.abort();
  });

  it("stays pending with an error when the first attempts fail; a repeated error is not news", async () => {
    const h = harness([
      new SourceFetchError("secret not found"),
      new SourceFetchError("secret not found"),
      { bytes: dockerConfig() },
    ]);
    await h.start();
    expect(h.source.current()).toBeUndefined();
    expect(h.source.status()).toMatchObject({
      state: "pending",
      error: "test backend team-a/registry: secret not found",
    });
    expect(h.changes).toEqual(["pending:-"]); // status() gained an error
    await h.clock.advanceToNext();
    expect(h.changes).toEqual(["pending:-"]);
    await h.clock.advanceToNext();
    expect(h.source.status().state).toBe("ready");
    expect(h.changes).toHaveLength(2);
    h.controller.abort();
  });

  it("retries with exponential backoff from 1 s capped at 5 min, and resets after a success", async () => {
    const failure = new SourceFetchError("down");
    const steps: Step[] = [
      { bytes: dockerConfig() },
      ...Array<Step>(12).fill(failure),
      { bytes: dockerConfig() },
      failure,
    ];
    const h = harness(steps, { refreshIntervalMs: 3_600_000 });
    await h.start();
    await h.clock.advanceToNext(); // first failure
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) delays.push((await h.clock.advanceToNext()) ?? -1);
    expect(delays).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000,
    ]);
    expect(h.source.status().state).toBe("ready");
    expect(h.source.consecutiveFailures).toBe(0);
    await h.clock.advanceToNext();
    expect(h.clock.pendingDelays()).toEqual([1_000]);
    h.controller.abort();
  });

  it("refreshes an expiring value early: 80 % of its lifetime minus jitter, at most expiry - 30 s", async () => {
    let random = 0;
    let expiresInMs = 600_000;
    const clock = new ManualClock();
    const h = harness(
      [() => Promise.resolve({ bytes: dockerConfig(), expiresAt: new Date(clock.now() + expiresInMs) })],
      {
        clock,
        refreshIntervalMs: 3_600_000,
        random: () => random,
      },
    );
    await h.start();
    expect(h.clock.pendingDelays()).toEqual([480_000]); // 0.8 * 600 s
    expect(h.source.status().expiresAt?.getTime()).toBe(clock.now() + 600_000);
    random = 0.999999;
    expiresInMs = 600_000;
    await h.clock.advanceToNext();
    expect(h.clock.pendingDelays()[0]).toBeCloseTo(420_000, -1); // 0.7 * 600 s with full jitter
    expiresInMs = 100_000; // 80 % would be 80 s, but the 30 s margin wins
    random = 0;
    await h.clock.advanceToNext();
    expect(h.clock.pendingDelays()).toEqual([70_000]);
    expiresInMs = 10_000; // already inside the margin: the floor avoids a busy loop
    await h.clock.advanceToNext();
    expect(h.clock.pendingDelays()).toEqual([1_000]);
    h.controller.abort();
  });

  it("fires onChange when only the expiry changes", async () => {
    const clock = new ManualClock();
    const h = harness(
      [() => Promise.resolve({ bytes: dockerConfig(), expiresAt: new Date(clock.now() + 3_600_000) })],
      {
        clock,
      },
    );
    await h.start();
    await h.clock.advanceToNext();
    expect(h.changes).toHaveLength(2);
    h.controller.abort();
  });

  it("does not let the backoff sleep past the refresh deadline of an expiring value", async () => {
    const clock = new ManualClock();
    const steps: Step[] = [
      { bytes: dockerConfig(), expiresAt: new Date(clock.now() + 1_000_000) },
      ...Array<Step>(20).fill(new SourceFetchError("down")),
    ];
    const h = harness(steps, { clock, maxBackoffMs: 600_000 });
    await h.start();
    const deadline = clock.now() + 1_000_000 - 30_000;
    const planned: number[] = [];
    while (clock.now() < deadline) {
      await h.clock.advanceToNext();
      planned.push(clock.now() + (h.clock.pendingDelays()[0] ?? 0));
    }
    expect(h.source.status().state).toBe("degraded");
    // Every retry planned before the deadline lands on or before it, although the cap is 10 min.
    expect(planned.slice(0, -1).every((at) => at <= deadline)).toBe(true);
    expect(planned).toContain(deadline);
    h.controller.abort();
  });

  it("rejects a value that has already expired", async () => {
    const clock = new ManualClock();
    const h = harness([{ bytes: dockerConfig(), expiresAt: new Date(clock.now() - 1) }], { clock });
    await h.start();
    expect(h.source.current()).toBeUndefined();
    expect(h.source.status().error).toContain("had already expired");
    h.controller.abort();
  });

  it("aborts an attempt that hangs and counts it as a failure", async () => {
    const h = harness([{ bytes: dockerConfig() }, () => new Promise<PolledValue>(() => {})], {
      attemptTimeoutMs: 5_000,
    });
    await h.start();
    await h.clock.advanceToNext(); // refresh starts and hangs
    expect(h.source.status().state).toBe("ready");
    await h.clock.advance(5_000);
    expect(h.source.status()).toMatchObject({
      state: "degraded",
      error: "test backend team-a/registry: no answer within 5 s",
    });
    expect(h.signals[1]?.aborted).toBe(true);
    h.controller.abort();
  });

  it("clears its timers and ignores an in-flight result when the signal aborts", async () => {
    let release: (value: PolledValue) => void = () => {};
    const h = harness([{ bytes: dockerConfig() }, () => new Promise<PolledValue>((resolve) => (release = resolve))]);
    await h.start();
    expect(h.clock.pendingDelays()).toHaveLength(1);
    await h.clock.advanceToNext();
    h.controller.abort();
    expect(h.signals[1]?.aborted).toBe(true);
    release({ bytes: dockerConfig("other") });
    await flushAsync();
    expect(h.clock.pendingDelays()).toEqual([]);
    expect(h.source.current()?.credential.bytes.toString()).toBe(dockerConfig());
    expect(h.source.nextAttemptAt()).toBeUndefined();
    await h.source.refreshNow();
    expect(h.fetch).toHaveBeenCalledTimes(2);
  });

  it("does nothing when started with an aborted signal, and refuses a second start", async () => {
    const h = harness([{ bytes: dockerConfig() }]);
    h.controller.abort();
    await h.start();
    expect(h.fetch).not.toHaveBeenCalled();
    expect(h.clock.pendingDelays()).toEqual([]);
    await expect(h.source.start(new AbortController().signal)).rejects.toThrow(/start\(\) was called twice/);
  });

  it("refreshNow fetches at once and joins an attempt in flight", async () => {
    let release: (value: PolledValue) => void = () => {};
    const h = harness([{ bytes: dockerConfig() }, () => new Promise<PolledValue>((resolve) => (release = resolve))]);
    await h.start();
    const a = h.source.refreshNow();
    const b = h.source.refreshNow();
    await flushAsync();
    expect(h.fetch).toHaveBeenCalledTimes(2);
    release({ bytes: dockerConfig("rotated") });
    await Promise.all([a, b]);
    expect(h.source.current()?.credential.bytes.toString()).toBe(dockerConfig("rotated"));
    expect(h.clock.pendingDelays()).toEqual([60_000]);
    h.controller.abort();
  });

  it("keeps notifying other listeners when one throws, and unsubscribes", async () => {
    const h = harness([{ bytes: dockerConfig() }, { bytes: dockerConfig("b") }, { bytes: dockerConfig("c") }]);
    const seen: number[] = [];
    h.source.onChange(() => {
      throw new Error("listener bug");
    });
    const off = h.source.onChange(() => seen.push(1));
    await h.start();
    expect(seen).toEqual([1]);
    expect(h.lines.some((l) => l.level === "error" && l.message === "onChange listener threw")).toBe(true);
    off();
    await h.clock.advanceToNext();
    expect(seen).toEqual([1]);
    expect(h.changes).toHaveLength(2);
    h.controller.abort();
  });

  it("works with the system clock", async () => {
    const controller = new AbortController();
    const source = new PollingSource({
      description: "real clock",
      refreshIntervalMs: 20,
      minDelayMs: 10,
      fetch: () => Promise.resolve({ bytes: dockerConfig() }),
    });
    let fetched = 0;
    source.onChange(() => fetched++);
    await source.start(controller.signal);
    expect(source.status().state).toBe("ready");
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(source.attempts).toBeGreaterThan(1);
    controller.abort();
    const attempts = source.attempts;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(source.attempts).toBe(attempts);
    expect(fetched).toBe(1);
  });
});

describe("refreshDelay and backoffDelay", () => {
  it("uses the interval when nothing expires sooner", () => {
    expect(refreshDelay({ now: 0, refreshIntervalMs: 300_000, random: () => 0 })).toBe(300_000);
    expect(
      refreshDelay({ now: 0, refreshIntervalMs: 300_000, expiresAt: new Date(3_600_000), random: () => 0.5 }),
    ).toBe(300_000);
    expect(
      refreshDelay({ now: 0, refreshIntervalMs: 3_600_000, expiresAt: new Date(1_000_000), random: () => 0.5 }),
    ).toBe(750_000);
  });

  it("applies up to 10 % jitter to backoff", () => {
    expect(backoffDelay({ failures: 1, random: () => 0 })).toBe(1_000);
    expect(backoffDelay({ failures: 3, random: () => 0.5 })).toBe(3_800);
    expect(backoffDelay({ failures: 100, random: () => 0 })).toBe(300_000);
  });
});

describe("error redaction", () => {
  it("masks tokens, JWTs, UUIDs and base64 but keeps paths and words", () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl";
    const text = redactSecrets(
      `token hvs.CAESIabc123 jwt ${jwt} id 3f1e2d4c-1111-2222-3333-444455556666 auth ${AUTH_B64} at secret/data/team-a/registry`,
    );
    expect(text).not.toContain("CAESIabc123");
    expect(text).not.toContain(jwt);
    expect(text).not.toContain("3f1e2d4c");
    expect(text).not.toContain(AUTH_B64);
    expect(text).toContain("secret/data/team-a/registry");
  });

  it("names network failures by their code", () => {
    const err = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
    });
    expect(describeSourceError("vault x", err)).toBe("vault x: request failed (ECONNREFUSED)");
    expect(describeSourceError("vault x", "boom")).toBe("vault x: failed with a non-error value (string)");
  });
});
