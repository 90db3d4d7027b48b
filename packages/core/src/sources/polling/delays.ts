import { backoffDelay as jitteredBackoff } from "../../util/backoff.js";
import { MAX_TIMER_MS } from "../../util/clock.js";

/** Fraction of the remaining lifetime after which a value with `expiresAt` is refreshed. */
export const EXPIRY_REFRESH_FRACTION = 0.8;
/** Up to this fraction of the remaining lifetime is taken off at random, so replicas spread out. */
export const EXPIRY_JITTER_FRACTION = 0.1;
/** A value with `expiresAt` is refreshed at the latest this long before it expires. */
export const EXPIRY_SAFETY_MARGIN_MS = 30_000;
export const DEFAULT_INITIAL_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 60_000;
export const DEFAULT_MIN_DELAY_MS = 1_000;

/** `ms` rounded, at least `minDelayMs`, and short enough for a timer. */
export function clampDelay(ms: number, minDelayMs: number): number {
  if (!Number.isFinite(ms)) return MAX_TIMER_MS;
  return Math.min(MAX_TIMER_MS, Math.max(minDelayMs, Math.round(ms)));
}

/**
 * Delay until the next refresh after a success: `refreshIntervalMs`, or earlier for a value that
 * expires: at 80 % of its remaining lifetime minus up to 10 % jitter, and never later than 30 s
 * before it expires (but not sooner than `minDelayMs`).
 */
export function refreshDelay(input: {
  now: number;
  refreshIntervalMs: number;
  expiresAt?: Date | undefined;
  random: () => number;
  minDelayMs?: number | undefined;
}): number {
  let delay = input.refreshIntervalMs;
  if (input.expiresAt) {
    const remaining = input.expiresAt.getTime() - input.now;
    const early = remaining * (EXPIRY_REFRESH_FRACTION - EXPIRY_JITTER_FRACTION * input.random());
    delay = Math.min(delay, early, remaining - EXPIRY_SAFETY_MARGIN_MS);
  }
  return clampDelay(delay, input.minDelayMs ?? DEFAULT_MIN_DELAY_MS);
}

/**
 * Delay before retry number `failures` (1 for the first failure): `initial * 2^(failures-1)` capped
 * at `max`, minus up to 10 % jitter. The polling defaults over util's {@link jitteredBackoff}.
 */
export function backoffDelay(input: {
  failures: number;
  random: () => number;
  initialBackoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
}): number {
  const policy = {
    initialMs: input.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
    maxMs: input.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
  };
  return jitteredBackoff(policy, input.failures, input.random);
}
