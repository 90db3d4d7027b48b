/**
 * The {@link ResourceLock} on a `coordination.k8s.io/v1` Lease.
 *
 * MicroTime: `spec.renewTime`/`spec.acquireTime` are MicroTime. The API server parses them with the
 * layout "2006-01-02T15:04:05.000000Z07:00" and answers 400 BadRequest to the millisecond form a plain
 * `Date` serialises to ("cannot parse \".035Z\" as \".000000\"", even for ".000Z"). Every time written
 * here is a {@link MicroTime} (a `V1MicroTime` whose `toISOString()` has six fraction digits). On read,
 * client-node 2.0.1 does NOT turn these fields into Dates: they arrive as the server's strings despite
 * the `V1MicroTime` type, so they are parsed with {@link parseMicroTime}.
 */
import {
  CoordinationV1Api,
  Observable,
  V1MicroTime,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type V1Lease,
} from "@kubernetes/client-node";
import { classifyApiError } from "../kube/errors.js";
import type { LeaderElectionRecord, ResourceLock, VersionedRecord } from "./lock.js";

const MICRO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const SIX_DIGITS = /\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

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

/** The MicroTime to write for `ms`: the stored text verbatim when it already says `ms`, else re-encoded. */
export function toMicroTime(ms: number, stored?: unknown): MicroTime {
  if (typeof stored === "string" && SIX_DIGITS.test(stored) && parseMicroTime(stored) === ms)
    return new MicroTime(ms, stored);
  return new MicroTime(ms);
}

/** The record a Lease holds, with its resourceVersion as the version. */
export function recordOfLease(lease: V1Lease): VersionedRecord {
  const spec = lease.spec ?? {};
  const seconds = spec.leaseDurationSeconds;
  return {
    record: {
      holderIdentity: spec.holderIdentity ?? "",
      leaseDurationSeconds: typeof seconds === "number" && seconds > 0 ? seconds : undefined,
      acquireTimeMs: parseMicroTime(spec.acquireTime),
      renewTimeMs: parseMicroTime(spec.renewTime),
      leaderTransitions: spec.leaseTransitions ?? 0,
    },
    version: lease.metadata?.resourceVersion ?? "",
  };
}

/**
 * The Lease to write for `record`: over `previous` (the Lease at the version being replaced, if
 * any), so its resourceVersion is the write's precondition and spec fields the elector does not
 * manage (strategy, preferredHolder) survive.
 */
export function leaseBody(
  at: { namespace: string; name: string },
  record: LeaderElectionRecord,
  previous?: V1Lease,
): V1Lease {
  const spec = previous?.spec;
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { ...previous?.metadata, name: at.name, namespace: at.namespace },
    spec: {
      ...spec,
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime:
        record.acquireTimeMs === undefined ? undefined : toMicroTime(record.acquireTimeMs, spec?.acquireTime),
      renewTime: record.renewTimeMs === undefined ? undefined : toMicroTime(record.renewTimeMs, spec?.renewTime),
      leaseTransitions: record.leaderTransitions,
    },
  };
}

/** Request options that make one client-node call honour `signal`. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}

/** The Lease calls the lock makes; tests pass a fake. */
export type LeaseApi = Pick<
  CoordinationV1Api,
  "readNamespacedLease" | "createNamespacedLease" | "replaceNamespacedLease"
>;

export type LeaseLockOptions = { readonly namespace: string; readonly name: string } & (
  { readonly kubeConfig: KubeConfig } | { readonly api: LeaseApi }
);

/** A leader-election lock on the Lease `namespace/name`; needs get, create and update on Leases. */
export class LeaseLock implements ResourceLock {
  readonly namespace: string;
  readonly name: string;
  readonly #api: LeaseApi;
  /** The Lease as last read or written: the base of the next update at its version. */
  #last: V1Lease | undefined;

  constructor(options: LeaseLockOptions) {
    if (!options.namespace) throw new TypeError("leader election: the Lease namespace is required");
    if (!options.name) throw new TypeError("leader election: the Lease name is required");
    this.namespace = options.namespace;
    this.name = options.name;
    this.#api = "api" in options ? options.api : options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  describe(): string {
    return `lease ${this.namespace}/${this.name}`;
  }

  async get(signal: AbortSignal): Promise<VersionedRecord | undefined> {
    try {
      return this.#keep(
        await this.#api.readNamespacedLease({ namespace: this.namespace, name: this.name }, withSignal(signal)),
      );
    } catch (err) {
      if (classifyApiError(err).kind !== "not-found") throw err;
      this.#last = undefined;
      return undefined;
    }
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord> {
    const body = leaseBody(this, record);
    return this.#keep(await this.#api.createNamespacedLease({ namespace: this.namespace, body }, withSignal(signal)));
  }

  async update(record: LeaderElectionRecord, version: string, signal: AbortSignal): Promise<VersionedRecord> {
    const base =
      this.#last?.metadata?.resourceVersion === version ? this.#last : { metadata: { resourceVersion: version } };
    const body = leaseBody(this, record, base);
    const request = { namespace: this.namespace, name: this.name, body };
    return this.#keep(await this.#api.replaceNamespacedLease(request, withSignal(signal)));
  }

  #keep(lease: V1Lease): VersionedRecord {
    this.#last = lease;
    return recordOfLease(lease);
  }
}
