import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";
import { ManualClock, MAX_TIMER_MS, clampTimerMs } from "./clock.js";
import { parseGoDuration } from "./duration.js";
import { describeError, errorCode, httpStatus, redactSecrets } from "./errors.js";
import { sleep, sleepOn } from "./sleep.js";

describe("backoffDelay", () => {
  const policy = { initialMs: 100, maxMs: 1_000 };
  it("doubles per attempt up to the cap", () => {
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(policy, n, () => 0))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
  it("jitters downwards by at most the jitter fraction, so the cap holds", () => {
    expect(backoffDelay(policy, 1, () => 0.999)).toBe(90);
    expect(backoffDelay({ ...policy, jitter: 0.5 }, 5, () => 0.5)).toBe(750);
    expect(backoffDelay({ ...policy, jitter: 0 }, 5, () => 0.9)).toBe(1_000);
  });
  it("treats attempts below 1 as the first", () => {
    expect(backoffDelay(policy, 0, () => 0)).toBe(100);
  });
});

describe("clock", () => {
  it("clamps timer delays to what setTimeout accepts", () => {
    expect(clampTimerMs(-5)).toBe(0);
    expect(clampTimerMs(Number.NaN)).toBe(0);
    expect(clampTimerMs(2 ** 40)).toBe(MAX_TIMER_MS);
  });
  it("fires manual timers in due order", async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    clock.setTimeout(() => fired.push("a"), 10);
    const c = clock.setTimeout(() => fired.push("c"), 15);
    clock.clearTimeout(c);
    await clock.advance(25);
    expect(fired).toEqual(["a", "b"]);
    expect(clock.now()).toBe(25);
  });
});

describe("sleep", () => {
  it("resolves early, without throwing, when aborted", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(60_000, controller.signal);
    controller.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe("sleepOn", () => {
  it("waits on the injected clock and ends early on abort", async () => {
    const clock = new ManualClock(0);
    let woke = false;
    void sleepOn(clock, 1_000, new AbortController().signal).then(() => (woke = true));
    await clock.advance(999);
    expect(woke).toBe(false);
    await clock.advance(1);
    expect(woke).toBe(true);
    const controller = new AbortController();
    const aborted = sleepOn(clock, 1_000, controller.signal);
    controller.abort();
    await aborted;
    expect(clock.pendingDelays()).toEqual([]);
  });
});

describe("parseGoDuration", () => {
  it("reads Go-style durations", () => {
    expect(parseGoDuration("1m30s")).toBe(90_000);
    expect(parseGoDuration("1.5h")).toBe(5_400_000);
    expect(parseGoDuration("250ms")).toBe(250);
  });
  it("refuses anything else", () => {
    for (const bad of ["", "10", "5d", "s", "-1s", "1 s"]) expect(parseGoDuration(bad)).toBeUndefined();
  });
});

describe("describeError", () => {
  it("gives status, reason and the server's message for API errors", () => {
    const body = JSON.stringify({ reason: "Conflict", message: 'Operation cannot be fulfilled on leases "l"' });
    const err = new ApiException(409, "Conflict", body, {});
    expect(describeError(err)).toBe('HTTP 409 Conflict: Operation cannot be fulfilled on leases "l"');
    expect(httpStatus(err)).toBe(409);
    expect(describeError(new ApiException(401, "Unauthorized", "<html>", {}))).toBe("HTTP 401");
  });
  it("names network errors by their system code", () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const err = new TypeError("fetch failed", { cause });
    expect(errorCode(err)).toBe("ECONNREFUSED");
    expect(describeError(err)).toBe("TypeError: fetch failed: connect ECONNREFUSED 127.0.0.1:1");
    expect(describeError(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe("Error: x (ENOENT)");
  });
  it("never repeats a secret it was handed", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
    expect(describeError(new Error(`bad token ${jwt}`))).toBe("Error: bad token [redacted]");
    expect(redactSecrets("auth dXNlcjpQYXNzd29yZDEyMzQ1Njc4OTA=")).toBe("auth [redacted]");
    expect(describeError("text")).toBe("failed with a non-error value (string)");
  });
});
