import { TokenBucket } from "../kube/token-bucket.js";

/**
 * The rate limit of Pod deletions: `perMinute` tokens a minute, all of them available at once after
 * a quiet spell. Callers use `tryTake()`: a deletion that finds the bucket empty is skipped, not
 * queued, and the kubelet's next back-off Event for that Pod asks again.
 */
export function deletionBudget(perMinute: number, now: () => number = Date.now): TokenBucket {
  return new TokenBucket(perMinute / 60, perMinute, now);
}
