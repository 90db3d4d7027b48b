import { setTimeout as delay } from "node:timers/promises";
import { clampTimerMs } from "./clock.js";

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
