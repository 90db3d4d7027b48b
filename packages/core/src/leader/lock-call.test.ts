import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ManualClock, flushAsync } from "../util/clock.js";
import { LeaderElectionError, callLock } from "./lock-call.js";

const AT = { lock: "lease ns/lock", operation: "renew" };

async function failure(promise: Promise<unknown>): Promise<LeaderElectionError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LeaderElectionError);
  return err as LeaderElectionError;
}

describe("callLock", () => {
  const clock = new ManualClock();
  const never = new AbortController().signal;

  it("describes an API error from its Status (never the headers) and classifies it", async () => {
    const body = JSON.stringify({
      kind: "Status",
      reason: "Conflict",
      code: 409,
      message: 'Operation cannot be fulfilled on leases "l"',
    });
    const api = new ApiException(409, "Unknown API Status Code!", body, { authorization: "Bearer secret-token" });
    const err = await failure(callLock(clock, AT, never, 1000, () => Promise.reject(api)));
    expect(err.message).toBe('lease ns/lock: renew: HTTP 409 Conflict: Operation cannot be fulfilled on leases "l"');
    expect(err).toMatchObject({
      kind: "conflict",
      status: 409,
      isStale: true,
      lock: "lease ns/lock",
      operation: "renew",
    });
    expect(err.cause).toBe(api);
  });

  it("names a network error's code and leaves its kind open", async () => {
    const cause = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const err = await failure(
      callLock(clock, AT, never, 1000, () => Promise.reject(new TypeError("fetch failed", { cause }))),
    );
    expect(err.message).toBe("lease ns/lock: renew: TypeError: fetch failed: connect ECONNREFUSED 127.0.0.1:1");
    expect(err).toMatchObject({ kind: undefined, status: undefined, isStale: false });
  });

  it("times out on the clock, and says so; a cancelled caller reads 'aborted'", async () => {
    const hang = (signal: AbortSignal): Promise<never> =>
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))),
      );
    const timedOut = failure(callLock(clock, AT, never, 1500, hang));
    await clock.advance(1500);
    expect((await timedOut).message).toBe("lease ns/lock: renew: timed out after 1500 ms");

    const parent = new AbortController();
    const aborted = failure(callLock(clock, AT, parent.signal, 1500, hang));
    parent.abort();
    await flushAsync();
    expect((await aborted).message).toBe("lease ns/lock: renew: aborted");
    expect(clock.pendingDelays()).toEqual([]);
  });
});
