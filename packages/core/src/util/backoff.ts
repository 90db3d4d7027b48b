/** How a retry delay grows: `initialMs * factor^(attempt-1)`, capped at `maxMs`. */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number | undefined;
  /**
   * Fraction of the delay that is random, in [0, 1]; default 0.1. The delay is drawn from
   * `[base * (1 - jitter), base]`, so replicas that failed together do not retry together
   * (client-go's wait.Backoff jitters upwards instead; downwards keeps `maxMs` a true cap).
   */
  readonly jitter?: number | undefined;
}

/**
 * Delay before retry number `attempt` (1 for the first retry). `random` is uniform in [0, 1) and
 * injectable so tests are deterministic.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const factor = policy.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.1));
  const exponent = Math.min(Math.max(0, attempt - 1), 60);
  const base = Math.min(policy.maxMs, policy.initialMs * factor ** exponent);
  return Math.max(0, Math.round(base * (1 - jitter * random())));
}
