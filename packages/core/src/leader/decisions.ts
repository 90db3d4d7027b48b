/**
 * The pure part of leader election: timings, when a follower may take the lock, how long it waits,
 * when a leader must step down, and the records it writes. No I/O and no clock reads: every time
 * is an argument.
 */
import { backoffDelay } from "../util/backoff.js";
import type { LeaderElectionRecord, VersionedRecord } from "./lock.js";

export interface ElectionTimings {
  /** How long followers wait after they last saw the record change before taking over. */
  leaseDurationMs: number;
  /** How long the leader keeps trying to renew before it steps down (< leaseDuration). */
  renewDeadlineMs: number;
  /** Interval between renewals and between acquisition attempts (< renewDeadline). */
  retryPeriodMs: number;
  /** Followers wait retryPeriod × (1 + jitterFactor × random) between attempts. */
  jitterFactor: number;
}

/** client-go's defaults. */
export const DEFAULT_ELECTION_TIMINGS: Readonly<ElectionTimings> = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  jitterFactor: 1.2,
});

export type ElectorState = "leader" | "follower" | "unknown";

/** Fills defaults and checks leaseDuration > renewDeadline > retryPeriod > 0. */
export function resolveTimings(
  options: { readonly [K in keyof ElectionTimings]?: number | undefined } = {},
): ElectionTimings {
  const t: ElectionTimings = {
    leaseDurationMs: options.leaseDurationMs ?? DEFAULT_ELECTION_TIMINGS.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs ?? DEFAULT_ELECTION_TIMINGS.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs ?? DEFAULT_ELECTION_TIMINGS.retryPeriodMs,
    jitterFactor: options.jitterFactor ?? DEFAULT_ELECTION_TIMINGS.jitterFactor,
  };
  for (const key of ["leaseDurationMs", "renewDeadlineMs", "retryPeriodMs"] as const) {
    if (!Number.isFinite(t[key]) || t[key] <= 0) {
      throw new RangeError(`leader election: ${key} must be a positive number, got ${t[key]}`);
    }
  }
  if (!Number.isFinite(t.jitterFactor) || t.jitterFactor < 0) {
    throw new RangeError(`leader election: jitterFactor must be >= 0, got ${t.jitterFactor}`);
  }
  if (t.leaseDurationMs <= t.renewDeadlineMs) {
    throw new RangeError(
      `leader election: leaseDurationMs (${t.leaseDurationMs}) must be greater than renewDeadlineMs ` +
        `(${t.renewDeadlineMs}), or a deposed leader could still be acting when another takes over`,
    );
  }
  if (t.renewDeadlineMs <= t.retryPeriodMs) {
    throw new RangeError(
      `leader election: renewDeadlineMs (${t.renewDeadlineMs}) must be greater than retryPeriodMs ` +
        `(${t.retryPeriodMs}), or a single failed renewal would depose the leader`,
    );
  }
  return t;
}

/** The written lease duration is whole seconds; rounding up only makes followers wait longer (safe). */
export function leaseDurationSeconds(leaseDurationMs: number): number {
  return Math.max(1, Math.ceil(leaseDurationMs / 1000));
}

/** A record as this replica saw it, and when (by its own clock) it last saw it change. */
export interface ObservedRecord {
  readonly record: LeaderElectionRecord;
  /** The only time expiry is computed from. */
  readonly changedAtMs: number;
}

/**
 * When followers may take the lock: the duration the holder wrote (ours if absent) after this
 * replica last saw the record change, by its own clock. The holder's renewTime is never compared
 * with our clock (client-go does the same), so clock skew between replicas cannot depose a leader
 * that is still renewing, nor let a stopped one keep the lock.
 */
export function leaseExpiresAt(observed: ObservedRecord, defaultLeaseDurationMs: number): number {
  const seconds = observed.record.leaseDurationSeconds;
  return observed.changedAtMs + (seconds === undefined ? defaultLeaseDurationMs : seconds * 1000);
}

export type AcquireDecision =
  | { action: "create" }
  | { action: "renew" }
  | { action: "takeover"; reason: "released" | "expired"; previousHolder: string | undefined }
  | { action: "wait"; holder: string; expiresAtMs: number };

/** What a candidate does with the record it just read (undefined: there is none). */
export function decideAcquire(
  observed: ObservedRecord | undefined,
  identity: string,
  nowMs: number,
  defaultLeaseDurationMs: number,
): AcquireDecision {
  if (!observed) return { action: "create" };
  const holder = observed.record.holderIdentity;
  if (holder === identity) return { action: "renew" };
  if (holder === "") return { action: "takeover", reason: "released", previousHolder: undefined };
  const expiresAtMs = leaseExpiresAt(observed, defaultLeaseDurationMs);
  if (nowMs >= expiresAtMs) return { action: "takeover", reason: "expired", previousHolder: holder };
  return { action: "wait", holder, expiresAtMs };
}

/**
 * retryPeriod stretched by up to `jitterFactor` (client-go's wait.Jitter), so that replicas that
 * started together do not poll together. Drawn through util's backoffDelay: a constant "backoff"
 * whose jitter spans [retryPeriod, retryPeriod × (1 + jitterFactor)].
 */
export function jitteredRetryMs(timings: ElectionTimings, random: () => number): number {
  const maxMs = timings.retryPeriodMs * (1 + timings.jitterFactor);
  const jitter = timings.jitterFactor / (1 + timings.jitterFactor);
  // backoffDelay jitters downwards from maxMs; flipping `random` keeps "0 means retryPeriod".
  return backoffDelay({ initialMs: maxMs, maxMs, factor: 1, jitter }, 1, () => 1 - random());
}

/**
 * How long a follower that saw the lock held until `expiresAtMs` sleeps: a jittered retry period,
 * but it wakes shortly after that expiry rather than up to a whole jittered period later.
 */
export function acquireDelayMs(
  timings: ElectionTimings,
  random: () => number,
  nowMs: number,
  expiresAtMs: number,
): number {
  const jittered = jitteredRetryMs(timings, random);
  // Spread contenders a little (up to 10% of retryPeriod) past the expiry.
  const untilExpiry = expiresAtMs - nowMs + timings.retryPeriodMs * 0.1 * random();
  return Math.max(0, Math.min(jittered, untilExpiry));
}

/** The moment a leader whose last successful renewal was sent at `lastRenewMs` must stop acting. */
export function stepDownAt(lastRenewMs: number, renewDeadlineMs: number): number {
  return lastRenewMs + renewDeadlineMs;
}

/**
 * The record a candidate writes to acquire or renew: renewTime now; acquireTime and transitions kept
 * when it already holds the lock, else acquireTime now and transitions + 1 (0 on creation).
 */
export function holderRecord(
  previous: LeaderElectionRecord | undefined,
  identity: string,
  nowMs: number,
  durationSeconds: number,
): LeaderElectionRecord {
  const base = { holderIdentity: identity, leaseDurationSeconds: durationSeconds, renewTimeMs: nowMs };
  if (!previous) return { ...base, acquireTimeMs: nowMs, leaderTransitions: 0 };
  if (previous.holderIdentity === identity) {
    return { ...base, acquireTimeMs: previous.acquireTimeMs ?? nowMs, leaderTransitions: previous.leaderTransitions };
  }
  return { ...base, acquireTimeMs: nowMs, leaderTransitions: previous.leaderTransitions + 1 };
}

/** The record a leader writes to give the lock up at once (client-go's release). */
export function releasedRecord(previous: LeaderElectionRecord | undefined, nowMs: number): LeaderElectionRecord {
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTimeMs: nowMs,
    renewTimeMs: nowMs,
    leaderTransitions: previous?.leaderTransitions ?? 0,
  };
}

/** What identifies a change of the record: its version, holder and renewTime. */
export function recordKey(current: VersionedRecord): string {
  const { record, version } = current;
  return JSON.stringify([version, record.holderIdentity, record.renewTimeMs ?? null]);
}

/** For a readiness probe: leader; follower while the lock was read within a lease duration. */
export function electorState(args: {
  running: boolean;
  isLeader: boolean;
  lastObservedMs: number | undefined;
  nowMs: number;
  leaseDurationMs: number;
}): ElectorState {
  if (args.isLeader) return "leader";
  if (!args.running || args.lastObservedMs === undefined) return "unknown";
  return args.nowMs - args.lastObservedMs <= args.leaseDurationMs ? "follower" : "unknown";
}
