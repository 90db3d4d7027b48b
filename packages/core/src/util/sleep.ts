import { setTimeout as delay } from "node:timers/promises";
import { clampTimerMs, type Clock } from "./clock.js";

/**
 * Waits `ms`, or less if `signal` aborts. Resolves either way: callers check `signal.aborted`
 * afterwards, which keeps shutdown paths free of AbortError handling.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return;
  try {
    await delay(clampTimerMs(ms), undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}

/** {@link sleep} on an injected clock, so tests can move time by hand (util's ManualClock). */
export function sleepOn(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, Math.max(0, ms));
    signal.addEventListener("abort", done, { once: true });
  });
}
