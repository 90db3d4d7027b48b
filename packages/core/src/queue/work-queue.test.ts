import { afterEach, describe, expect, it, vi } from "vitest";
import { type HandlerResult, type QueueObserver, WorkQueue } from "./work-queue.js";

const DONE: HandlerResult = { kind: "done" };

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(() => {
  vi.useRealTimers();
});

describe("WorkQueue basics", () => {
  it("deduplicates keys that are waiting", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    queue.add("a");
    queue.add("b");
    queue.add("a");
    expect(queue.length).toBe(2);

    const seen: string[] = [];
    const controller = new AbortController();
    const running = queue.run(
      (key) => {
        seen.push(key);
        return Promise.resolve(DONE);
      },
      { signal: controller.signal, workers: 1 },
    );
    await queue.whenIdle();
    controller.abort();
    await running;
    expect(seen).toEqual(["a", "b"]);
  });

  it("never processes a key concurrently with itself and re-runs it once if added while processing", async () => {
    const queue = new WorkQueue();
    const gate = deferred();
    let active = 0;
    let maxActive = 0;
    let calls = 0;
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        calls++;
        active++;
        maxActive = Math.max(maxActive, active);
        if (calls === 1) await gate.promise;
        active--;
        return DONE;
      },
      { signal: controller.signal, workers: 4 },
    );

    queue.add("a");
    await sleep(5);
    expect(calls).toBe(1);
    // Added three times while processing: marked dirty, not queued for another worker.
    queue.add("a");
    queue.add("a");
    queue.add("a");
    expect(queue.length).toBe(0);
    await sleep(5);
    expect(calls).toBe(1);

    gate.resolve();
    await queue.whenIdle();
    expect(calls).toBe(2);
    expect(maxActive).toBe(1);
    controller.abort();
    await running;
  });

  it("bounds concurrency to the number of workers", async () => {
    const queue = new WorkQueue();
    let active = 0;
    let maxActive = 0;
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(3);
        active--;
        return DONE;
      },
      { signal: controller.signal, workers: 3 },
    );
    for (let i = 0; i < 12; i++) queue.add(`k${i}`);
    await queue.whenIdle();
    controller.abort();
    await running;
    expect(maxActive).toBe(3);
  });

  it("defaults to four workers", async () => {
    const queue = new WorkQueue();
    const gate = deferred();
    let active = 0;
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        active++;
        await gate.promise;
        return DONE;
      },
      { signal: controller.signal },
    );
    for (let i = 0; i < 10; i++) queue.add(`k${i}`);
    await sleep(5);
    expect(active).toBe(4);
    expect(queue.length).toBe(6);
    gate.resolve();
    await queue.whenIdle();
    controller.abort();
    await running;
  });
});

describe("WorkQueue results and backoff", () => {
  it("grows the per-key backoff exponentially from 5 ms and caps it", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue({ maxDelayMs: 40 });
    const starts: number[] = [];
    const controller = new AbortController();
    const running = queue.run(
      () => {
        starts.push(Date.now());
        return Promise.resolve({ kind: "retry", error: new Error("boom") });
      },
      { signal: controller.signal, workers: 1 },
    );
    queue.add("k");
    await vi.advanceTimersByTimeAsync(1000);
    const gaps = starts.slice(1, 8).map((t, i) => t - (starts[i] as number));
    expect(gaps).toEqual([5, 10, 20, 40, 40, 40, 40]);
    expect(queue.retries("k")).toBe(starts.length);
    controller.abort();
    await running;
  });

  it("forget resets the failure count so the next failure starts from the base delay", () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addRateLimited("k");
    queue.addRateLimited("k");
    queue.addRateLimited("k");
    expect(queue.retries("k")).toBe(3);
    queue.forget("k");
    expect(queue.retries("k")).toBe(0);
    expect(queue.retries("other")).toBe(0);
  });

  it("addRateLimited waits for the backoff before the key becomes ready", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addRateLimited("k");
    expect(queue.length).toBe(0);
    expect(queue.isIdle()).toBe(false);
    await vi.advanceTimersByTimeAsync(4);
    expect(queue.length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.length).toBe(1);
  });

  it("applies the overall token bucket as the max with the per-key backoff", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue({ qps: 1, burst: 2, baseDelayMs: 1 });
    queue.addRateLimited("a"); // token 1 of the burst
    queue.addRateLimited("b"); // token 2 of the burst
    queue.addRateLimited("c"); // bucket empty: 1 s
    queue.addRateLimited("d"); // 2 s
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.length).toBe(2);
    await vi.advanceTimersByTimeAsync(998);
    expect(queue.length).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(queue.length).toBe(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(queue.length).toBe(4);
  });

  it("retries a handler that throws, like a retry result", async () => {
    vi.useFakeTimers();
    const kinds: string[] = [];
    const queue = new WorkQueue({ observer: { onResult: (_key, kind) => kinds.push(kind) } });
    let calls = 0;
    const controller = new AbortController();
    const running = queue.run(
      () => {
        calls++;
        if (calls === 1) throw new Error("sync throw");
        if (calls === 2) return Promise.reject(new Error("async throw"));
        return Promise.resolve(DONE);
      },
      { signal: controller.signal },
    );
    queue.add("k");
    await vi.advanceTimersByTimeAsync(100);
    expect(calls).toBe(3);
    expect(kinds).toEqual(["retry", "retry", "done"]);
    expect(queue.retries("k")).toBe(0);
    expect(queue.isIdle()).toBe(true);
    controller.abort();
    await running;
  });

  it("honours retryAfterMs as a lower bound on the retry delay", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    const starts: number[] = [];
    const controller = new AbortController();
    const running = queue.run(
      () => {
        starts.push(Date.now());
        return Promise.resolve(
          starts.length === 1 ? { kind: "retry", error: new Error("429"), retryAfterMs: 500 } : DONE,
        );
      },
      { signal: controller.signal },
    );
    const t0 = Date.now();
    queue.add("k");
    await vi.advanceTimersByTimeAsync(499);
    expect(starts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(starts).toEqual([t0, t0 + 500]);
    controller.abort();
    await running;
  });

  it("requeue-after brings the key back after the delay and resets its failures", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addRateLimited("k"); // a failure to be forgotten
    let calls = 0;
    const controller = new AbortController();
    const running = queue.run(
      () => {
        calls++;
        return Promise.resolve(calls === 1 ? { kind: "requeue-after", ms: 1000 } : DONE);
      },
      { signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(5);
    expect(calls).toBe(1);
    expect(queue.retries("k")).toBe(0);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    controller.abort();
    await running;
  });

  it("does not retry a terminal result and forgets the key", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addRateLimited("k");
    let calls = 0;
    const controller = new AbortController();
    const running = queue.run(
      () => {
        calls++;
        return Promise.resolve({ kind: "terminal", error: new Error("bad config") });
      },
      { signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toBe(1);
    expect(queue.retries("k")).toBe(0);
    expect(queue.isIdle()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    controller.abort();
    await running;
  });

  it("treats an unusable handler result as a retry", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    let calls = 0;
    const controller = new AbortController();
    const running = queue.run(
      () => {
        calls++;
        return Promise.resolve((calls === 1 ? undefined : DONE) as unknown as HandlerResult);
      },
      { signal: controller.signal },
    );
    queue.add("k");
    await vi.advanceTimersByTimeAsync(10);
    expect(calls).toBe(2);
    controller.abort();
    await running;
  });

  it("keeps the earliest deadline when a key is delayed twice", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    queue.addAfter("k", 1000);
    queue.addAfter("k", 100);
    queue.addAfter("k", 5000);
    await vi.advanceTimersByTimeAsync(100);
    expect(queue.length).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("adds at once for a zero or negative delay", () => {
    const queue = new WorkQueue();
    queue.addAfter("a", 0);
    queue.addAfter("b", -5);
    expect(queue.length).toBe(2);
  });
});

describe("WorkQueue stop and idle", () => {
  it("on abort, drains in-flight handlers, starts nothing new and clears its timers", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    const gate = deferred();
    const started: string[] = [];
    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        started.push(key);
        await gate.promise;
        return { kind: "retry", error: new Error("would retry") };
      },
      { signal: controller.signal, workers: 2 },
    );
    for (const key of ["a", "b", "c", "d"]) queue.add(key);
    queue.addAfter("later", 10_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(["a", "b"]);

    controller.abort();
    expect(vi.getTimerCount()).toBe(0);
    let resolved = false;
    void running.then(() => (resolved = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(resolved).toBe(false); // still waiting for a and b

    gate.resolve();
    await running;
    expect(started).toEqual(["a", "b"]);
    // The in-flight retries and later adds are dropped rather than scheduled.
    queue.add("e");
    queue.addAfter("f", 10);
    expect(queue.length).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(queue.isShutDown).toBe(true);
    expect(queue.isIdle()).toBe(true);
    await expect(queue.run(() => Promise.resolve(DONE), { signal: new AbortController().signal })).rejects.toThrow(
      /shut down/,
    );
  });

  it("resolves at once for an already aborted signal", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    const handler = vi.fn(() => Promise.resolve(DONE));
    await queue.run(handler, { signal: AbortSignal.abort() });
    expect(handler).not.toHaveBeenCalled();
  });

  it("refuses to run twice at once and rejects bad worker counts", async () => {
    const queue = new WorkQueue();
    const controller = new AbortController();
    const running = queue.run(() => Promise.resolve(DONE), { signal: controller.signal });
    await expect(queue.run(() => Promise.resolve(DONE), { signal: controller.signal })).rejects.toThrow(
      /already running/,
    );
    await expect(queue.run(() => Promise.resolve(DONE), { signal: controller.signal, workers: 0 })).rejects.toThrow(
      RangeError,
    );
    controller.abort();
    await running;
  });

  it("whenIdle waits for queued, delayed and in-flight keys", async () => {
    vi.useFakeTimers();
    const queue = new WorkQueue();
    await queue.whenIdle(); // already idle

    let idle = false;
    queue.add("a");
    queue.addAfter("b", 1000);
    const waiting = queue.whenIdle().then(() => (idle = true));
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        await sleep(10);
        return DONE;
      },
      { signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(5);
    expect(idle).toBe(false); // a in flight
    await vi.advanceTimersByTimeAsync(500);
    expect(idle).toBe(false); // b delayed
    await vi.advanceTimersByTimeAsync(500);
    expect(idle).toBe(false); // b in flight (due at 1000, handler takes 10 ms)
    await vi.advanceTimersByTimeAsync(10);
    await waiting;
    expect(idle).toBe(true);
    controller.abort();
    await running;
  });

  it("whenIdle resolves after a stop once in-flight work finishes", async () => {
    const queue = new WorkQueue();
    const gate = deferred();
    const controller = new AbortController();
    const running = queue.run(
      async () => {
        await gate.promise;
        return DONE;
      },
      { signal: controller.signal, workers: 1 },
    );
    queue.add("a");
    queue.add("b");
    queue.addAfter("c", 60_000);
    const idle = queue.whenIdle();
    controller.abort();
    gate.resolve();
    await idle;
    await running;
    expect(queue.isIdle()).toBe(true);
  });
});

describe("WorkQueue observer", () => {
  it("reports depth, latency and results", async () => {
    vi.useFakeTimers();
    const depths: number[] = [];
    const latencies: [string, number][] = [];
    const results: [string, string, number][] = [];
    const observer: QueueObserver = {
      onDepth: (n) => depths.push(n),
      onLatency: (key, ms) => latencies.push([key, ms]),
      onResult: (key, kind, ms) => results.push([key, kind, ms]),
    };
    const queue = new WorkQueue({ observer });
    queue.add("a");
    queue.add("b");
    expect(depths).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(30);

    const controller = new AbortController();
    const running = queue.run(
      async (key) => {
        await sleep(7);
        return key === "a" ? DONE : { kind: "terminal", error: new Error("no") };
      },
      { signal: controller.signal, workers: 1 },
    );
    await vi.advanceTimersByTimeAsync(20);
    expect(depths).toEqual([1, 2, 1, 0]);
    expect(latencies).toEqual([
      ["a", 30],
      ["b", 37],
    ]);
    expect(results).toEqual([
      ["a", "done", 7],
      ["b", "terminal", 7],
    ]);
    controller.abort();
    await running;
  });

  it("keeps working when an observer throws", async () => {
    const queue = new WorkQueue({
      observer: {
        onDepth: () => {
          throw new Error("metrics broke");
        },
        onResult: () => {
          throw new Error("metrics broke");
        },
      },
    });
    const seen: string[] = [];
    const controller = new AbortController();
    const running = queue.run(
      (key) => {
        seen.push(key);
        return Promise.resolve(DONE);
      },
      { signal: controller.signal, workers: 1 },
    );
    queue.add("a");
    queue.add("b");
    await queue.whenIdle();
    controller.abort();
    await running;
    expect(seen).toEqual(["a", "b"]);
  });
});

describe("WorkQueue options", () => {
  it.each([
    [{ baseDelayMs: 0 }, /baseDelayMs/],
    [{ maxDelayMs: -1 }, /maxDelayMs/],
    [{ qps: Number.NaN }, /qps/],
    [{ burst: 0.5 }, /burst/],
  ])("rejects %o", (options, message) => {
    expect(() => new WorkQueue(options)).toThrow(message);
  });
});
