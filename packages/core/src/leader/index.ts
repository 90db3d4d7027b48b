// Leader election, split like client-go's tools/leaderelection: a lock interface and its Lease
// implementation, pure decisions, and the elector loop.
export { LeaderElector } from "./elector.js";
export { defaultIdentity, type LeaderCallbacks, type LeaderElectorOptions, type LeaderObserver } from "./options.js";
export { LeadershipEnded } from "./term.js";
export { LeaderElectionError } from "./lock-call.js";
export type { LeaderElectionRecord, ResourceLock, VersionedRecord } from "./lock.js";
export {
  LeaseLock,
  MicroTime,
  formatMicroTime,
  parseMicroTime,
  type LeaseApi,
  type LeaseLockOptions,
} from "./lease-lock.js";
export { InMemoryLock } from "./memory-lock.js";
export {
  DEFAULT_ELECTION_TIMINGS,
  decideAcquire,
  leaseExpiresAt,
  resolveTimings,
  type AcquireDecision,
  type ElectionTimings,
  type ElectorState,
  type ObservedRecord,
} from "./decisions.js";
