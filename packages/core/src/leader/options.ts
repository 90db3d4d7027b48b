import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { silentLogger, type Logger } from "../logging/logger.js";
import { systemClock, type Clock } from "../util/clock.js";
import { leaseDurationSeconds, resolveTimings, type ElectionTimings } from "./decisions.js";
import type { ResourceLock } from "./lock.js";

/** Hooks for metrics. Called synchronously; exceptions are logged and otherwise ignored. */
export interface LeaderObserver {
  /** The holder named in the lock changed (undefined: nobody holds it, e.g. after a release). */
  onLeaderChange?(identity: string | undefined): void;
  /** This replica started (true) or stopped (false) leading; false fires just before `leaderSignal` aborts. */
  onTransition?(isLeader: boolean): void;
}

export interface LeaderElectorOptions {
  /** Where the record lives: `new LeaseLock({ kubeConfig, namespace, name })` for a Lease. */
  readonly lock: ResourceLock;
  /** This replica's identity in the record; default `<hostname>_<8 random hex>`. */
  readonly identity?: string | undefined;
  /** How long followers wait after the holder's last renewal before taking over (default 15 s). */
  readonly leaseDurationMs?: number | undefined;
  /** How long the leader keeps trying to renew before it steps down (default 10 s; < leaseDuration). */
  readonly renewDeadlineMs?: number | undefined;
  /** Interval between renewals and between acquisition attempts (default 2 s; < renewDeadline). */
  readonly retryPeriodMs?: number | undefined;
  /** Followers wait retryPeriod × (1 + jitterFactor × random) between attempts (default 1.2, as client-go). */
  readonly jitterFactor?: number | undefined;
  /** Per-request timeout (default renewDeadline); renewals are also cut off at the renew deadline. */
  readonly requestTimeoutMs?: number | undefined;
  /** Release the lock when `run()`'s signal aborts while leading (default true, client-go's ReleaseOnCancel). */
  readonly releaseOnCancel?: boolean | undefined;
  readonly logger?: Logger | undefined;
  readonly observer?: LeaderObserver | undefined;
  /** Time and timers (tests: util's ManualClock). */
  readonly clock?: Clock | undefined;
  /** Random source in [0, 1) for jitter; injectable for tests. */
  readonly random?: (() => number) | undefined;
}

export interface LeaderCallbacks {
  /**
   * Called when this replica becomes leader. `leaderSignal` aborts when leadership ends (lost, or
   * `run()` cancelled); the work must stop then. A returned promise is awaited before the lock is
   * released on cancellation, and before this replica may lead again after losing the lock. If it
   * rejects while still leading, the elector steps down, releases the lock and `run()` rejects.
   */
  onStartedLeading(leaderSignal: AbortSignal): Promise<void> | void;
  /** Called after `leaderSignal` has aborted (and, on cancellation, after the release attempt). */
  onStoppedLeading(): void;
}

/** The options with defaults filled in and checked. */
export interface ElectorSettings {
  readonly identity: string;
  readonly timings: Readonly<ElectionTimings>;
  readonly requestTimeoutMs: number;
  /** The lease duration as written into the record (whole seconds). */
  readonly durationSeconds: number;
  readonly releaseOnCancel: boolean;
  readonly logger: Logger;
  readonly observer: LeaderObserver;
  readonly clock: Clock;
  readonly random: () => number;
}

/** `<hostname>_<8 random hex>`: unique per process, readable in `kubectl get lease`. */
export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString("hex")}`;
}

export function resolveElectorSettings(options: LeaderElectorOptions): ElectorSettings {
  const identity = options.identity ?? defaultIdentity();
  if (!identity) throw new TypeError("leader election: identity must not be empty");
  const timings = Object.freeze(resolveTimings(options));
  const requestTimeoutMs = options.requestTimeoutMs ?? timings.renewDeadlineMs;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0) {
    throw new RangeError(`leader election: requestTimeoutMs must be a positive number, got ${requestTimeoutMs}`);
  }
  return {
    identity,
    timings,
    requestTimeoutMs,
    durationSeconds: leaseDurationSeconds(timings.leaseDurationMs),
    releaseOnCancel: options.releaseOnCancel ?? true,
    logger: options.logger ?? silentLogger,
    observer: options.observer ?? {},
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
}
