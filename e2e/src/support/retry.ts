import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** Whether a failure is worth another try; any other failure is thrown at once. */
  retryable: (err: unknown) => boolean;
  /** Pause after the failed try number `attempt` (1-based). */
  delayMs: (attempt: number) => number;
}

/** Runs `work` until it succeeds, a failure is not retryable, or the attempts are used up. */
export async function withRetry<T>(work: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (!policy.retryable(err) || attempt >= policy.attempts) throw err;
      await sleep(policy.delayMs(attempt));
    }
  }
}
