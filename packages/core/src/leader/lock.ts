/**
 * What the elector stores in the cluster, and the three operations it needs on it. The elector only
 * knows this interface; `LeaseLock` implements it on a `coordination.k8s.io/v1` Lease, and
 * `InMemoryLock` in memory for tests.
 */

/** Who holds the lock and since when. Times are epoch milliseconds as written by the holder's clock. */
export interface LeaderElectionRecord {
  /** The holder; "" when nobody holds it (released). */
  readonly holderIdentity: string;
  /** How long followers wait, after they last saw the record change, before taking over. */
  readonly leaseDurationSeconds?: number | undefined;
  readonly acquireTimeMs?: number | undefined;
  readonly renewTimeMs?: number | undefined;
  /** How many times the holder changed. */
  readonly leaderTransitions: number;
}

/** A record as stored, with the version a write must match (for a Lease, its resourceVersion). */
export interface VersionedRecord {
  readonly record: LeaderElectionRecord;
  /** Opaque: compared for equality and handed back to {@link ResourceLock.update}, nothing else. */
  readonly version: string;
}

/**
 * Storage for one leader-election record, with optimistic concurrency. Failures are thrown as the
 * Kubernetes client throws them (an `ApiException`), so that core's `classifyApiError` reads them:
 * a 409 when the record exists (create) or changed since `version` was read (update), a 404 when it
 * is gone (update). Every operation honours its `signal`.
 */
export interface ResourceLock {
  /** For logs and errors, e.g. `lease ns/name`. */
  describe(): string;
  /** The stored record, or undefined when there is none. */
  get(signal: AbortSignal): Promise<VersionedRecord | undefined>;
  create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord>;
  /** Writes `record` only if the stored version is still `version`. */
  update(record: LeaderElectionRecord, version: string, signal: AbortSignal): Promise<VersionedRecord>;
}
