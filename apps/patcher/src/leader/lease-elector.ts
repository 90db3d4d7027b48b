/**
 * Leader election on a `coordination.k8s.io/v1` Lease, modelled on client-go's `leaderelection` package.
 *
 * Protocol (every replica runs the same loop):
 * - A follower reads the Lease every `retryPeriod` (with jitter). It takes the Lease when it is absent
 *   (create), released (empty holderIdentity) or expired (the record has not changed for
 *   `leaseDurationSeconds` by the follower's own clock), by replacing it with the resourceVersion it
 *   read: optimistic concurrency makes exactly one of several contenders win; the others get 409
 *   Conflict and read again.
 * - The leader renews every `retryPeriod`, again with the resourceVersion it last wrote. Its own
 *   deadline is the time it stamped into its last successful renewal plus `renewDeadline`; when that
 *   passes without another successful renewal, it aborts `leaderSignal` from a timer (not from the renew
 *   loop, so a hanging request cannot delay it). Because `renewDeadline < leaseDuration`, that happens at
 *   least `leaseDuration - renewDeadline` before any follower may consider the Lease expired.
 * - On cancellation of `run()`'s signal the leader aborts `leaderSignal`, keeps renewing until the work
 *   started by `onStartedLeading` has settled, then releases the Lease (holderIdentity "",
 *   leaseDurationSeconds 1) so a follower takes over at its next poll (client-go's ReleaseOnCancel).
 *
 * Clocks: as in client-go, a follower never reads the holder's clock. It records, on its own clock,
 * when it last saw the Lease record change (holder, renewTime or resourceVersion), and takes the Lease
 * only when `leaseDuration` has passed since then without a change. A holder whose clock runs behind
 * or ahead therefore neither loses the Lease while it renews nor keeps it after it stops.
 *
 * MicroTime: `spec.renewTime`/`spec.acquireTime` are MicroTime. The API server parses them with the
 * layout "2006-01-02T15:04:05.000000Z07:00" and answers 400 BadRequest to the millisecond form a plain
 * `Date` serialises to ("cannot parse \".035Z\" as \".000000\"", even for ".000Z"). Every time this module
 * writes is a {@link MicroTime} (a `V1MicroTime` whose `toISOString()` has six fraction digits). On
 * read, client-node 2.0.1 does NOT turn these fields into Dates: they arrive as the server's strings
 * despite the `V1MicroTime` type, so they are parsed with {@link parseMicroTime}.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  ApiException,
  CoordinationV1Api,
  Observable,
  V1MicroTime,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
  type V1LeaseSpec,
} from "@kubernetes/client-node";

// ---------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------

/** Structured logger; `@imagepullsecret-patcher/core`'s Logger satisfies it. */
export interface LeaderLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Hooks for metrics. Called synchronously; exceptions are logged and otherwise ignored. */
export interface LeaderObserver {
  /** The holder named in the Lease changed (undefined: nobody holds it, e.g. after a release). */
  onLeaderChange?(identity: string | undefined): void;
  /** This replica started (true) or stopped (false) leading; false fires when `leaderSignal` aborts. */
  onTransition?(isLeader: boolean): void;
}

/** Time source and timers; injectable for tests. */
export interface ElectorClock {
  /** Wall-clock milliseconds since the epoch (compared with Lease renewTime written by other replicas). */
  now(): number;
  /** Calls `callback` after `ms`; returns a function that cancels it. */
  setTimeout(callback: () => void, ms: number): () => void;
}

/** The Lease operations the elector needs; the default talks to the API server through `kubeConfig`. */
export interface LeaseClient {
  /** Rejects with an ApiException (code 404) when the Lease does not exist. */
  read(namespace: string, name: string, signal: AbortSignal): Promise<V1Lease>;
  create(namespace: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
  /** Must fail with 409 when `lease.metadata.resourceVersion` is not the current one. */
  replace(namespace: string, name: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
}

export interface LeaseElectorOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This replica's identity in `spec.holderIdentity`; default `<hostname>_<8 random hex>`. */
  identity?: string;
  /** How long followers wait after the holder's last renewal before taking over (default 15 s). */
  leaseDurationMs?: number;
  /** How long the leader keeps trying to renew before it steps down (default 10 s; < leaseDuration). */
  renewDeadlineMs?: number;
  /** Interval between renewals and between acquisition attempts (default 2 s; < renewDeadline). */
  retryPeriodMs?: number;
  /** Followers wait retryPeriod × (1 + jitterFactor × random) between attempts (default 1.2, as client-go). */
  jitterFactor?: number;
  /** Per-request timeout (default renewDeadline); renewals are additionally cut off at the renew deadline. */
  requestTimeoutMs?: number;
  /** Release the Lease when `run()`'s signal aborts while leading (default true, like ReleaseOnCancel). */
  releaseOnCancel?: boolean;
  logger?: LeaderLogger;
  observer?: LeaderObserver;
  clock?: ElectorClock;
  /** Random source in [0, 1) for jitter; injectable for tests. */
  random?: () => number;
  /** Replaces the Kubernetes client (tests); `kubeConfig` is then unused. */
  client?: LeaseClient;
}

export interface LeaderCallbacks {
  /**
   * Called when this replica becomes leader. `leaderSignal` aborts when leadership ends (lost, or
   * `run()` cancelled); the work must stop then. A returned promise is awaited before the Lease is
   * released on cancellation, and before this replica may lead again after losing the Lease. If it
   * rejects while still leading, the elector steps down, releases the Lease and `run()` rejects.
   */
  onStartedLeading(leaderSignal: AbortSignal): Promise<void> | void;
  /** Called after `leaderSignal` has aborted (and, on cancellation, after the release attempt). */
  onStoppedLeading(): void;
}

export type ElectorState = "leader" | "follower" | "unknown";

export interface ElectionTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  jitterFactor: number;
}

export const DEFAULT_TIMINGS: Readonly<ElectionTimings> = Object.freeze({
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
  jitterFactor: 1.2,
});

/** An error from a Lease operation, naming the Lease and the operation; never contains credentials. */
export class LeaseElectionError extends Error {
  override readonly name = "LeaseElectionError";
  /** "namespace/name" */
  readonly lease: string;
  readonly operation: string;
  /** HTTP status when the API server answered. */
  readonly status: number | undefined;
  constructor(lease: string, operation: string, detail: string, options?: { cause?: unknown; status?: number }) {
    super(`lease ${lease}: ${operation}: ${detail}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.lease = lease;
    this.operation = operation;
    this.status = options?.status;
  }
}

// ---------------------------------------------------------------------------------------------------
// MicroTime
// ---------------------------------------------------------------------------------------------------

const MICRO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** RFC 3339 with exactly six fraction digits, the only form the API server accepts for MicroTime. */
export function formatMicroTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // "2026-11-29T14:39:09.035Z"
  return `${iso.slice(0, -1)}000Z`;
}

/**
 * A Date that serialises as a MicroTime (six fraction digits), so client-node's JSON encoding of a
 * Lease is accepted. `text` keeps a server-provided value verbatim (no microsecond loss on rewrite).
 */
export class MicroTime extends V1MicroTime {
  readonly #text: string;
  constructor(ms: number, text?: string) {
    super(ms);
    this.#text = text ?? formatMicroTime(ms);
  }
  override toISOString(): string {
    return this.#text;
  }
  override toJSON(): string {
    return this.#text;
  }
}

/**
 * Milliseconds since the epoch of a MicroTime as client-node returns it (a string at runtime, typed
 * as a Date) or as a Date. Sub-millisecond parts round up, so an expiry is never computed early.
 */
export function parseMicroTime(value: unknown): number | undefined {
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (typeof value !== "string") return undefined;
  const m = MICRO_TIME.exec(value);
  if (!m) return undefined;
  const fraction = m[2] ?? "";
  const ms = Date.parse(`${m[1]}.${fraction.padEnd(3, "0").slice(0, 3)}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  return /[1-9]/.test(fraction.slice(3)) ? ms + 1 : ms;
}

/** A value for a MicroTime field: keeps a well-formed server string verbatim, else re-encodes. */
export function toMicroTime(value: unknown, fallbackMs: number): MicroTime {
  if (typeof value === "string" && /\.\d{6}(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = parseMicroTime(value);
    if (ms !== undefined) return new MicroTime(ms, value);
  }
  return new MicroTime(parseMicroTime(value) ?? fallbackMs);
}

// ---------------------------------------------------------------------------------------------------
// Pure timing and decision logic
// ---------------------------------------------------------------------------------------------------

/** Fills defaults and checks leaseDuration > renewDeadline > retryPeriod > 0. */
export function resolveTimings(options: Partial<ElectionTimings> = {}): ElectionTimings {
  const t: ElectionTimings = {
    leaseDurationMs: options.leaseDurationMs ?? DEFAULT_TIMINGS.leaseDurationMs,
    renewDeadlineMs: options.renewDeadlineMs ?? DEFAULT_TIMINGS.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs ?? DEFAULT_TIMINGS.retryPeriodMs,
    jitterFactor: options.jitterFactor ?? DEFAULT_TIMINGS.jitterFactor,
  };
  for (const key of ["leaseDurationMs", "renewDeadlineMs", "retryPeriodMs"] as const) {
    if (!Number.isFinite(t[key]) || t[key] <= 0) throw new RangeError(`leader election: ${key} must be a positive number, got ${t[key]}`);
  }
  if (!Number.isFinite(t.jitterFactor) || t.jitterFactor < 0) {
    throw new RangeError(`leader election: jitterFactor must be >= 0, got ${t.jitterFactor}`);
  }
  if (t.leaseDurationMs <= t.renewDeadlineMs) {
    throw new RangeError(
      `leader election: leaseDurationMs (${t.leaseDurationMs}) must be greater than renewDeadlineMs (${t.renewDeadlineMs}), or a deposed leader could still be acting when another takes over`,
    );
  }
  if (t.renewDeadlineMs <= t.retryPeriodMs) {
    throw new RangeError(
      `leader election: renewDeadlineMs (${t.renewDeadlineMs}) must be greater than retryPeriodMs (${t.retryPeriodMs}), or a single failed renewal would depose the leader`,
    );
  }
  return t;
}

/** `spec.leaseDurationSeconds` is whole seconds; rounding up only makes followers wait longer (safe). */
export function leaseDurationSeconds(leaseDurationMs: number): number {
  return Math.max(1, Math.ceil(leaseDurationMs / 1000));
}

/** The parts of a Lease the decision needs, with times in epoch milliseconds. */
export interface LeaseView {
  /** undefined when the Lease names no holder ("" or absent). */
  holderIdentity: string | undefined;
  renewTimeMs: number | undefined;
  acquireTimeMs: number | undefined;
  leaseDurationMs: number | undefined;
  leaseTransitions: number;
  /**
   * Local time when this replica last saw the Lease record change (holder, renewTime or
   * resourceVersion); the only time expiry is computed from.
   */
  observedAtMs: number;
}

export function leaseView(lease: V1Lease, observedAtMs: number): LeaseView {
  const spec = lease.spec ?? {};
  const seconds = spec.leaseDurationSeconds;
  return {
    holderIdentity: spec.holderIdentity ? spec.holderIdentity : undefined,
    renewTimeMs: parseMicroTime(spec.renewTime),
    acquireTimeMs: parseMicroTime(spec.acquireTime),
    leaseDurationMs: typeof seconds === "number" && seconds > 0 ? seconds * 1000 : undefined,
    leaseTransitions: spec.leaseTransitions ?? 0,
    observedAtMs,
  };
}

/**
 * When followers may take the Lease: the duration the holder wrote (ours if absent) after this
 * replica last saw the record change, by its own clock. The holder's renewTime is never compared
 * with our clock (client-go does the same), so clock skew between replicas cannot depose a leader
 * that is still renewing.
 */
export function leaseExpiresAt(view: LeaseView, defaultLeaseDurationMs: number): number {
  return view.observedAtMs + (view.leaseDurationMs ?? defaultLeaseDurationMs);
}

export type AcquireDecision =
  | { action: "create" }
  | { action: "renew" }
  | { action: "takeover"; reason: "released" | "expired"; previousHolder: string | undefined }
  | { action: "wait"; holder: string; expiresAtMs: number };

/** What a candidate does with the Lease it just read (undefined: it does not exist). */
export function decideAcquire(view: LeaseView | undefined, identity: string, nowMs: number, defaultLeaseDurationMs: number): AcquireDecision {
  if (!view) return { action: "create" };
  if (view.holderIdentity === identity) return { action: "renew" };
  if (view.holderIdentity === undefined) return { action: "takeover", reason: "released", previousHolder: undefined };
  const expiresAtMs = leaseExpiresAt(view, defaultLeaseDurationMs);
  if (nowMs >= expiresAtMs) return { action: "takeover", reason: "expired", previousHolder: view.holderIdentity };
  return { action: "wait", holder: view.holderIdentity, expiresAtMs };
}

/**
 * How long a follower sleeps before its next attempt: retryPeriod with jitter, but it wakes shortly
 * after the Lease it saw would expire rather than up to a whole jittered period later.
 */
export function acquireDelayMs(args: {
  retryPeriodMs: number;
  jitterFactor: number;
  random: number;
  nowMs: number;
  expiresAtMs?: number;
}): number {
  const jittered = args.retryPeriodMs * (1 + args.jitterFactor * args.random);
  if (args.expiresAtMs === undefined) return jittered;
  // Spread contenders a little (up to 10% of retryPeriod) past the expiry.
  const untilExpiry = args.expiresAtMs - args.nowMs + args.retryPeriodMs * 0.1 * args.random;
  return Math.max(0, Math.min(jittered, untilExpiry));
}

/** The moment a leader whose last successful renewal stamped `lastRenewMs` must stop acting. */
export function stepDownAt(lastRenewMs: number, renewDeadlineMs: number): number {
  return lastRenewMs + renewDeadlineMs;
}

/**
 * The spec a candidate writes to acquire or renew: renewTime now; acquireTime and leaseTransitions
 * kept when it already holds the Lease, else acquireTime now and transitions + 1 (0 on creation).
 */
export function holderSpec(previous: V1LeaseSpec | undefined, identity: string, nowMs: number, durationSeconds: number): V1LeaseSpec {
  const now = new MicroTime(nowMs);
  if (!previous) {
    return { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
  }
  const renewing = previous.holderIdentity === identity;
  return {
    ...previous,
    holderIdentity: identity,
    leaseDurationSeconds: durationSeconds,
    acquireTime: renewing ? toMicroTime(previous.acquireTime, nowMs) : now,
    renewTime: now,
    leaseTransitions: (previous.leaseTransitions ?? 0) + (renewing ? 0 : 1),
  };
}

/** The spec a leader writes to give the Lease up at once (as client-go's release). */
export function releasedSpec(previous: V1LeaseSpec | undefined, nowMs: number): V1LeaseSpec {
  const now = new MicroTime(nowMs);
  return {
    ...previous,
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: previous?.leaseTransitions ?? 0,
  };
}

/** What identifies a change of the Lease record: holder, renewTime and resourceVersion. */
function recordKey(lease: V1Lease): string {
  const spec = lease.spec ?? {};
  const renew = parseMicroTime(spec.renewTime);
  return JSON.stringify([lease.metadata?.resourceVersion ?? null, spec.holderIdentity ?? "", renew ?? null]);
}

/** State for a readiness probe: leader; follower while the Lease was read within a lease duration. */
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

/** A short, credential-free description of a failed request. */
export function describeError(err: unknown): { detail: string; status: number | undefined } {
  if (err instanceof ApiException) {
    const status = (err as ApiException<unknown>).code;
    let message: string | undefined;
    let reason: string | undefined;
    const body: unknown = (err as ApiException<unknown>).body;
    try {
      const parsed: unknown = typeof body === "string" ? JSON.parse(body) : body;
      if (parsed && typeof parsed === "object") {
        const o = parsed as { message?: unknown; reason?: unknown };
        if (typeof o.message === "string") message = o.message;
        if (typeof o.reason === "string") reason = o.reason;
      }
    } catch {
      // not JSON: leave it out (it could be anything, e.g. an HTML page from a proxy)
    }
    const text = message ? `: ${message.length > 300 ? `${message.slice(0, 300)}…` : message}` : "";
    return { detail: `HTTP ${status}${reason ? ` ${reason}` : ""}${text}`, status };
  }
  if (err instanceof Error) {
    const cause = err.cause;
    let causeText = "";
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      causeText = ` (${typeof code === "string" ? `${code}: ` : ""}${cause.message})`;
    }
    return { detail: `${err.name}: ${err.message}${causeText}`, status: undefined };
  }
  return { detail: String(err), status: undefined };
}

// ---------------------------------------------------------------------------------------------------
// Kubernetes client
// ---------------------------------------------------------------------------------------------------

function signalMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (context: RequestContext) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
}

/** A LeaseClient over CoordinationV1Api whose requests honour an AbortSignal. */
export function kubeLeaseClient(kubeConfig: KubeConfig): LeaseClient {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const options = (signal: AbortSignal): ConfigurationOptions => ({
    middleware: [signalMiddleware(signal)],
    middlewareMergeStrategy: "append",
  });
  return {
    read: (namespace, name, signal) => api.readNamespacedLease({ namespace, name }, options(signal)),
    create: (namespace, body, signal) => api.createNamespacedLease({ namespace, body }, options(signal)),
    replace: (namespace, name, body, signal) => api.replaceNamespacedLease({ namespace, name, body }, options(signal)),
  };
}

export const systemClock: ElectorClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

export function defaultIdentity(): string {
  return `${hostname()}_${randomBytes(4).toString("hex")}`;
}

const noopLogger: LeaderLogger = { debug() {}, info() {}, warn() {}, error() {} };

// ---------------------------------------------------------------------------------------------------
// The elector
// ---------------------------------------------------------------------------------------------------

type AttemptResult =
  | { kind: "acquired"; sentAtMs: number }
  | { kind: "wait"; expiresAtMs: number }
  | { kind: "conflict" }
  | { kind: "error"; error: LeaseElectionError };

type RenewResult = { kind: "renewed"; sentAtMs: number } | { kind: "lost"; holder: string | undefined } | { kind: "error"; error: LeaseElectionError };

type LeadOutcome = { kind: "lost"; reason: string } | { kind: "cancelled" } | { kind: "failed"; error: unknown };

/** The `reason` of an aborted `leaderSignal`; its message says why leadership ended. */
export class LeadershipEnded extends Error {
  override readonly name = "LeadershipEnded";
}

export class LeaseElector {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly timings: Readonly<ElectionTimings>;
  readonly #client: LeaseClient;
  readonly #log: LeaderLogger;
  readonly #observer: LeaderObserver;
  readonly #clock: ElectorClock;
  readonly #random: () => number;
  readonly #releaseOnCancel: boolean;
  readonly #requestTimeoutMs: number;
  readonly #durationSeconds: number;
  readonly #ref: string;

  #running = false;
  #isLeader = false;
  #currentLeader: string | undefined;
  #leaseTransitions: number | undefined;
  /** The Lease as last read or written (its resourceVersion is what the next write must match). */
  #lease: V1Lease | undefined;
  /** The Lease record as last seen changed, and when (local clock) that change was first seen. */
  #observedVersion: { key: string; atMs: number } | undefined;
  #lastObservedMs: number | undefined;
  #failureStreak = 0;

  constructor(options: LeaseElectorOptions) {
    if (!options.namespace) throw new TypeError("leader election: namespace is required");
    if (!options.name) throw new TypeError("leader election: name is required");
    this.namespace = options.namespace;
    this.name = options.name;
    this.identity = options.identity ?? defaultIdentity();
    if (!this.identity) throw new TypeError("leader election: identity must not be empty");
    this.timings = Object.freeze(resolveTimings(options));
    this.#requestTimeoutMs = options.requestTimeoutMs ?? this.timings.renewDeadlineMs;
    if (!Number.isFinite(this.#requestTimeoutMs) || this.#requestTimeoutMs <= 0) {
      throw new RangeError(`leader election: requestTimeoutMs must be a positive number, got ${this.#requestTimeoutMs}`);
    }
    this.#durationSeconds = leaseDurationSeconds(this.timings.leaseDurationMs);
    this.#client = options.client ?? kubeLeaseClient(options.kubeConfig);
    this.#log = options.logger ?? noopLogger;
    this.#observer = options.observer ?? {};
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#releaseOnCancel = options.releaseOnCancel ?? true;
    this.#ref = `${this.namespace}/${this.name}`;
  }

  /** True between onStartedLeading and the abort of its leaderSignal. */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** The holder named in the Lease as last seen (undefined: none, or not read yet). */
  get currentLeader(): string | undefined {
    return this.#currentLeader;
  }

  /** `spec.leaseTransitions` as last seen. */
  get leaseTransitions(): number | undefined {
    return this.#leaseTransitions;
  }

  /** For a readiness probe: "unknown" when not running or the Lease could not be read for a lease duration. */
  get state(): ElectorState {
    return electorState({
      running: this.#running,
      isLeader: this.#isLeader,
      lastObservedMs: this.#lastObservedMs,
      nowMs: this.#clock.now(),
      leaseDurationMs: this.timings.leaseDurationMs,
    });
  }

  /**
   * Campaigns until `signal` aborts: acquire, lead while renewals succeed, step down and campaign
   * again when they do not. Resolves after `signal` aborts (and the Lease was released if held);
   * rejects only when `onStartedLeading` fails or `run` is called while already running.
   */
  async run(signal: AbortSignal, callbacks: LeaderCallbacks): Promise<void> {
    if (this.#running) throw new Error(`leader election for lease ${this.#ref}: run() is already active`);
    this.#running = true;
    this.#log.info({ lease: this.#ref, identity: this.identity, ...this.timings }, "leader election started");
    try {
      while (!signal.aborted) {
        const acquired = await this.#acquire(signal);
        if (!acquired) break;
        if (signal.aborted) {
          // Cancelled just as we won: hand the Lease straight back without starting any work.
          if (this.#releaseOnCancel) await this.#release();
          break;
        }
        await this.#lead(signal, callbacks, acquired.sentAtMs);
      }
    } finally {
      this.#running = false;
      this.#setLeader(false);
      this.#log.info({ lease: this.#ref, identity: this.identity }, "leader election stopped");
    }
  }

  // --- acquisition -----------------------------------------------------------------------------

  async #acquire(signal: AbortSignal): Promise<{ sentAtMs: number } | undefined> {
    let conflicts = 0;
    while (!signal.aborted) {
      const result = await this.#tryAcquire(signal);
      // Won just as we were cancelled: report it anyway, so that run() hands the Lease straight back.
      if (signal.aborted) return result.kind === "acquired" ? result : undefined;
      let delay: number;
      switch (result.kind) {
        case "acquired":
          this.#failureStreak = 0;
          if (this.#clock.now() >= stepDownAt(result.sentAtMs, this.timings.renewDeadlineMs)) {
            // The write took longer than the renew deadline: already past our own deadline. Try again
            // (the Lease now names us, so the next attempt renews it at once).
            this.#log.warn({ lease: this.#ref, identity: this.identity }, "acquired the lease too late to lead safely; renewing first");
            delay = 0;
            break;
          }
          return result;
        case "conflict":
          // Someone else wrote the Lease between our read and our write: read again at once, once.
          delay = conflicts++ === 0 ? 0 : this.#jittered();
          break;
        case "wait":
          conflicts = 0;
          this.#failureStreak = 0;
          delay = acquireDelayMs({ ...this.timings, random: this.#random(), nowMs: this.#clock.now(), expiresAtMs: result.expiresAtMs });
          break;
        case "error":
          conflicts = 0;
          this.#reportFailure(result.error, "cannot acquire the lease");
          delay = this.#jittered();
          break;
      }
      await this.#sleep(delay, signal);
    }
    return undefined;
  }

  async #tryAcquire(signal: AbortSignal): Promise<AttemptResult> {
    let lease: V1Lease | undefined;
    try {
      lease = await this.#call("read", signal, this.#requestTimeoutMs, (s) => this.#client.read(this.namespace, this.name, s));
    } catch (err) {
      const error = err as LeaseElectionError;
      if (error.status !== 404) return { kind: "error", error };
      lease = undefined;
    }
    const nowMs = this.#clock.now();
    if (lease) this.#observe(lease, nowMs);
    else this.#observeAbsent(nowMs);
    const view = lease ? leaseView(lease, this.#observedVersion?.atMs ?? nowMs) : undefined;
    const decision = decideAcquire(view, this.identity, nowMs, this.timings.leaseDurationMs);
    if (decision.action === "wait") {
      this.#log.debug({ lease: this.#ref, holder: decision.holder, expiresInMs: decision.expiresAtMs - nowMs }, "lease is held by another replica");
      return { kind: "wait", expiresAtMs: decision.expiresAtMs };
    }
    const sentAtMs = this.#clock.now();
    try {
      if (decision.action === "create") {
        const body: V1Lease = {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.name, namespace: this.namespace },
          spec: holderSpec(undefined, this.identity, sentAtMs, this.#durationSeconds),
        };
        const created = await this.#call("create", signal, this.#requestTimeoutMs, (s) => this.#client.create(this.namespace, body, s));
        this.#observe(created, this.#clock.now());
      } else {
        const body = this.#withSpec(lease, holderSpec(lease?.spec, this.identity, sentAtMs, this.#durationSeconds));
        const replaced = await this.#call("replace", signal, this.#requestTimeoutMs, (s) => this.#client.replace(this.namespace, this.name, body, s));
        this.#observe(replaced, this.#clock.now());
      }
    } catch (err) {
      const error = err as LeaseElectionError;
      // 409: created or written by someone else since our read. 404 on replace: deleted meanwhile.
      if (error.status === 409 || error.status === 404) return { kind: "conflict" };
      return { kind: "error", error };
    }
    const fields: Record<string, unknown> = { lease: this.#ref, identity: this.identity, transitions: this.#leaseTransitions };
    if (decision.action === "takeover") {
      fields.reason = decision.reason;
      if (decision.previousHolder) fields.previousHolder = decision.previousHolder;
    }
    this.#log.info(fields, decision.action === "create" ? "created the lease and became leader" : "acquired the lease");
    return { kind: "acquired", sentAtMs };
  }

  // --- leading ---------------------------------------------------------------------------------

  async #lead(runSignal: AbortSignal, callbacks: LeaderCallbacks, acquiredAtMs: number): Promise<void> {
    const leaderController = new AbortController();
    const stop = new AbortController(); // ends the renew loop
    let outcome: LeadOutcome | undefined;
    let lastRenewMs = acquiredAtMs;
    let cancelDeadline = (): void => {};
    let workSettled = false;

    const endLeading = (why: string): void => {
      if (leaderController.signal.aborted) return;
      this.#setLeader(false);
      leaderController.abort(new LeadershipEnded(`leadership of lease ${this.#ref} ended: ${why}`));
    };
    const lose = (reason: string): void => {
      if (outcome?.kind === "lost" || outcome?.kind === "failed") return;
      outcome = { kind: "lost", reason };
      cancelDeadline();
      endLeading(reason);
      stop.abort();
      this.#log.warn({ lease: this.#ref, identity: this.identity, reason }, "lost leadership; stepping down");
    };
    const armDeadline = (): void => {
      cancelDeadline();
      // Fires from a timer so that a hanging request cannot hold it back.
      cancelDeadline = this.#clock.setTimeout(
        () => lose(`could not renew for ${this.timings.renewDeadlineMs} ms (renew deadline)`),
        stepDownAt(lastRenewMs, this.timings.renewDeadlineMs) - this.#clock.now(),
      );
    };

    this.#setLeader(true);
    armDeadline();

    let work: Promise<void>;
    try {
      work = Promise.resolve(callbacks.onStartedLeading(leaderController.signal));
    } catch (err) {
      work = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const workDone = work.then(
      () => {
        workSettled = true;
        if (outcome?.kind === "cancelled") stop.abort();
      },
      (err: unknown) => {
        workSettled = true;
        if (!leaderController.signal.aborted) {
          outcome = { kind: "failed", error: err };
          cancelDeadline();
          endLeading("onStartedLeading failed");
          stop.abort();
          this.#log.error({ lease: this.#ref, identity: this.identity, error: describeError(err).detail }, "leader work failed; stepping down");
        } else {
          if (outcome?.kind === "cancelled") stop.abort();
          this.#log.debug({ lease: this.#ref, error: describeError(err).detail }, "leader work ended with an error after leadership ended");
        }
      },
    );

    const onCancel = (): void => {
      if (outcome) return;
      outcome = { kind: "cancelled" };
      endLeading("election cancelled");
      // Keep renewing until the work has stopped, then release.
      if (workSettled) stop.abort();
      else this.#log.info({ lease: this.#ref }, "cancelled while leading; waiting for the leader work to stop before releasing the lease");
    };
    runSignal.addEventListener("abort", onCancel, { once: true });
    if (runSignal.aborted) onCancel();

    try {
      while (!stop.signal.aborted) {
        await this.#sleep(this.timings.retryPeriodMs, stop.signal);
        if (stop.signal.aborted) break;
        const timeLeft = stepDownAt(lastRenewMs, this.timings.renewDeadlineMs) - this.#clock.now();
        if (timeLeft <= 0) {
          lose(`could not renew for ${this.timings.renewDeadlineMs} ms (renew deadline)`);
          break;
        }
        const result = await this.#renew(stop.signal, Math.min(this.#requestTimeoutMs, timeLeft));
        // Stopped meanwhile (lost, failed, or cancelled and the work has stopped): nothing left to do.
        if (stop.signal.aborted) break;
        switch (result.kind) {
          case "renewed":
            this.#failureStreak = 0;
            lastRenewMs = result.sentAtMs;
            armDeadline();
            this.#log.debug({ lease: this.#ref, identity: this.identity, renewTime: formatMicroTime(result.sentAtMs) }, "renewed the lease");
            break;
          case "lost":
            lose(result.holder ? `the lease is now held by ${result.holder}` : "the lease was taken away");
            break;
          case "error":
            this.#reportFailure(result.error, "cannot renew the lease", { renewDeadlineInMs: stepDownAt(lastRenewMs, this.timings.renewDeadlineMs) - this.#clock.now() });
            break;
        }
      }
    } finally {
      runSignal.removeEventListener("abort", onCancel);
      cancelDeadline();
    }

    const final = outcome ?? { kind: "cancelled" as const };
    endLeading(final.kind);
    if (final.kind === "failed" || (final.kind === "cancelled" && this.#releaseOnCancel)) await this.#release();
    this.#safe("onStoppedLeading", () => callbacks.onStoppedLeading());
    // Never let a new term start while the previous term's work is still running.
    await workDone;
    if (final.kind === "failed") {
      const { detail } = describeError(final.error);
      throw new LeaseElectionError(this.#ref, "onStartedLeading", `leader work failed: ${detail}`, { cause: final.error });
    }
  }

  async #renew(signal: AbortSignal, timeoutMs: number): Promise<RenewResult> {
    const deadline = this.#clock.now() + timeoutMs;
    const remaining = (): number => Math.max(1, deadline - this.#clock.now());
    let lease = this.#lease;
    // Fast path: write over the version we last wrote; on conflict read once and retry.
    for (let attempt = 0; attempt < 2; attempt++) {
      const sentAtMs = this.#clock.now();
      try {
        if (lease) {
          const body = this.#withSpec(lease, holderSpec(lease.spec, this.identity, sentAtMs, this.#durationSeconds));
          const replaced = await this.#call("renew", signal, remaining(), (s) => this.#client.replace(this.namespace, this.name, body, s));
          this.#observe(replaced, this.#clock.now());
        } else {
          // The Lease was deleted under us: recreate it (fails with 409 if someone else was faster).
          const body: V1Lease = {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: this.name, namespace: this.namespace },
            spec: holderSpec(undefined, this.identity, sentAtMs, this.#durationSeconds),
          };
          const created = await this.#call("recreate", signal, remaining(), (s) => this.#client.create(this.namespace, body, s));
          this.#observe(created, this.#clock.now());
        }
        return { kind: "renewed", sentAtMs };
      } catch (err) {
        const error = err as LeaseElectionError;
        if (attempt > 0 || (error.status !== 409 && error.status !== 404)) return { kind: "error", error };
      }
      try {
        lease = await this.#call("read", signal, remaining(), (s) => this.#client.read(this.namespace, this.name, s));
        this.#observe(lease, this.#clock.now());
      } catch (err) {
        const error = err as LeaseElectionError;
        if (error.status !== 404) return { kind: "error", error };
        this.#observeAbsent(this.#clock.now());
        lease = undefined;
      }
      const holder = lease?.spec?.holderIdentity || undefined;
      if (lease && holder !== this.identity) return { kind: "lost", holder };
    }
    return { kind: "error", error: new LeaseElectionError(this.#ref, "renew", "conflicting writes") };
  }

  /** Gives the Lease up if it still names us, so a follower can take it at once. */
  async #release(): Promise<void> {
    let lease = this.#lease;
    const controller = new AbortController(); // release is not tied to the (aborted) run signal
    for (let attempt = 0; attempt < 2 && lease; attempt++) {
      if (lease.spec?.holderIdentity !== this.identity) return;
      const body = this.#withSpec(lease, releasedSpec(lease.spec, this.#clock.now()));
      try {
        const released = await this.#call("release", controller.signal, this.#requestTimeoutMs, (s) =>
          this.#client.replace(this.namespace, this.name, body, s),
        );
        this.#observe(released, this.#clock.now());
        this.#log.info({ lease: this.#ref, identity: this.identity }, "released the lease");
        return;
      } catch (err) {
        const error = err as LeaseElectionError;
        if (error.status !== 409 || attempt > 0) {
          if (error.status === 404) return;
          this.#log.warn({ lease: this.#ref, identity: this.identity, error: error.message }, "could not release the lease; it will expire instead");
          return;
        }
      }
      // Our cached version is stale (e.g. an aborted renewal was committed after all): read and retry.
      try {
        lease = await this.#call("read", controller.signal, this.#requestTimeoutMs, (s) => this.#client.read(this.namespace, this.name, s));
        this.#observe(lease, this.#clock.now());
      } catch (err) {
        this.#log.warn({ lease: this.#ref, identity: this.identity, error: (err as Error).message }, "could not release the lease; it will expire instead");
        return;
      }
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  #withSpec(lease: V1Lease | undefined, spec: V1LeaseSpec): V1Lease {
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      ...lease,
      metadata: { ...lease?.metadata, name: this.name, namespace: this.namespace },
      spec,
    };
  }

  /** Runs one request with a timeout (and `parent`'s cancellation); failures become LeaseElectionErrors. */
  async #call<T>(operation: string, parent: AbortSignal, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timedOut = false;
    const onParentAbort = (): void => controller.abort(parent.reason);
    parent.addEventListener("abort", onParentAbort, { once: true });
    if (parent.aborted) controller.abort(parent.reason);
    const cancelTimer = this.#clock.setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${Math.round(timeoutMs)} ms`));
    }, timeoutMs);
    try {
      return await fn(controller.signal);
    } catch (err) {
      if (timedOut) throw new LeaseElectionError(this.#ref, operation, `timed out after ${Math.round(timeoutMs)} ms`, { cause: err });
      if (controller.signal.aborted) throw new LeaseElectionError(this.#ref, operation, "aborted", { cause: err });
      const { detail, status } = describeError(err);
      throw new LeaseElectionError(this.#ref, operation, detail, { cause: err, ...(status === undefined ? {} : { status }) });
    } finally {
      cancelTimer();
      parent.removeEventListener("abort", onParentAbort);
    }
  }

  #observe(lease: V1Lease, nowMs: number): void {
    this.#lease = lease;
    this.#lastObservedMs = nowMs;
    const key = recordKey(lease);
    if (this.#observedVersion?.key !== key) this.#observedVersion = { key, atMs: nowMs };
    this.#leaseTransitions = lease.spec?.leaseTransitions ?? 0;
    this.#setCurrentLeader(lease.spec?.holderIdentity || undefined);
  }

  #observeAbsent(nowMs: number): void {
    this.#lease = undefined;
    this.#observedVersion = undefined;
    this.#lastObservedMs = nowMs;
    this.#setCurrentLeader(undefined);
  }

  #setCurrentLeader(identity: string | undefined): void {
    if (identity === this.#currentLeader) return;
    this.#currentLeader = identity;
    if (identity !== undefined && identity !== this.identity) {
      this.#log.info({ lease: this.#ref, leader: identity }, "new leader observed");
    }
    this.#safe("onLeaderChange", () => this.#observer.onLeaderChange?.(identity));
  }

  #setLeader(isLeader: boolean): void {
    if (isLeader === this.#isLeader) return;
    this.#isLeader = isLeader;
    if (isLeader) this.#setCurrentLeader(this.identity);
    this.#safe("onTransition", () => this.#observer.onTransition?.(isLeader));
  }

  #reportFailure(error: LeaseElectionError, message: string, extra: Record<string, unknown> = {}): void {
    this.#failureStreak++;
    const fields = { lease: this.#ref, identity: this.identity, error: error.message, failures: this.#failureStreak, ...extra };
    // First failure of a streak (and every tenth) at warn; the rest at debug.
    if (this.#failureStreak === 1 || this.#failureStreak % 10 === 0) this.#log.warn(fields, message);
    else this.#log.debug(fields, message);
  }

  #safe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ lease: this.#ref, hook: what, error: describeError(err).detail }, "leader election hook threw");
    }
  }

  #jittered(): number {
    return acquireDelayMs({ ...this.timings, random: this.#random(), nowMs: this.#clock.now() });
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        cancel();
        signal.removeEventListener("abort", done);
        resolve();
      };
      const cancel = this.#clock.setTimeout(done, Math.max(0, ms));
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
