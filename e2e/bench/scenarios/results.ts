// What each scenario reports. run.ts writes these as JSON; report.ts and checks.ts read them.
import type { WindowSummary } from "../audit-summary.ts";
import type { LoadInfo, RssWindow } from "../proc.ts";

/** Measured over every scenario's window, next to its own figures. */
export interface WindowFacts {
  rss: RssWindow | undefined;
  /** Average cores used by each process, and `machineBusyCores`. */
  cpuCores: Record<string, number>;
  /** Requests of other API clients in the window, by user and agent. */
  otherClients: Record<string, number>;
  loadBefore: LoadInfo;
  loadAfter: LoadInfo;
}

export interface SetupResult {
  count: number;
  createSeconds: number;
  defaultServiceAccountsSeconds: number;
  concurrency: number;
}

/** One of the 10 equal stretches of a cold start. */
export interface Segment {
  fromSeconds: number;
  toSeconds: number;
  namespacesPerSecond: number;
  writesPerSecond: number;
  patcherCores: number;
  apiserverCores: number;
  etcdCores: number;
  benchCores: number;
  machineBusyCores: number;
  goBuilds: number;
  patcherRssMB: number;
}

/** Seconds from the patcher's spawn to each step of a cold start; undefined when not seen. */
export interface ColdTimeline {
  startingLog: number | undefined;
  leaseAcquired: number | undefined;
  firstList: number | undefined;
  cachesSyncedLog: number | undefined;
  firstWrite: number | undefined;
  lastWriteCompleted: number | undefined;
  initialSyncCompleteLog: number | undefined;
  convergedByPoll: number;
}

/** The API server's write ceiling: a tight keep-alive client creating one Secret per namespace. */
export interface CeilingResult {
  writes: number;
  connections: number;
  inFlight: number;
  /** Distinct sockets the probe client used (≤ connections when keep-alive works). */
  socketsUsed: number;
  createSeconds: number;
  writesPerSecond: number;
  deletesPerSecond: number;
  requests: number;
}

/** Connections to the API server the last patcher process opened, by its own counter. */
export interface ConnectionsResult {
  /** undefined: the patcher does not serve the counter. */
  opened: number | undefined;
  /** workers + watches + a small constant, the bound the check holds it to. */
  bound: number;
  workers: number;
  watches: number;
  /** Sockets seen in /proc over the process's life (a cross-check; short-lived ones can be missed). */
  socketsSeen: number | undefined;
}

export interface ColdResult extends WindowFacts {
  label: string;
  settings: string;
  targets: number;
  expectedWrites: number;
  convergedSeconds: number;
  timeline: ColdTimeline;
  writesPerSecond: number;
  /** writesPerSecond over the ceiling measured in the same run. */
  ceilingRatio?: number | undefined;
  /** Connections the patcher counted at convergence. */
  connectionsOpened: number | undefined;
  rssAtMB: { modulesLoaded: number | undefined; cachesSynced: number | undefined; converged: number | undefined };
  summary: WindowSummary;
  /** Requests by verb (from summary.byKind). */
  byVerb: Record<string, number>;
  patcherReportedWrites: Record<string, number>;
  contentVerified: boolean;
  polls: { count: number; meanMs: number; maxMs: number };
  writeLatencyMs: { p50: number; p99: number; max: number };
  metricsAtEnd: Record<string, number>;
  segments: Segment[];
}

export interface ResetResult {
  deletedCopies: number;
  clearedServiceAccounts: number;
  seconds: number;
}

/** A throughput run: a cold start with other controller settings, after a reset. */
export interface ThroughputRun extends ColdResult {
  reset: ResetResult;
}

export interface IdleResult extends WindowFacts {
  minutes: number;
  requests: number;
  requestsPerMinute: number;
  byVerb: Record<string, number>;
  byKind: Record<string, number>;
  perMinute: Record<string, number>[];
  unexpectedRequests: number;
  unexpectedExamples: string[];
  nonLeaseWrites: number;
  patcherMetricsDelta: Record<string, number>;
}

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SlowNamespace {
  namespace: string;
  ms: number;
  requests: string[];
}

export interface LatencyResult extends WindowFacts {
  count: number;
  ratePerSecond: number;
  creationSeconds: number;
  notConverged: number;
  notConvergedExamples: string[];
  /** Times the benchmark's own watches saw. */
  watch: {
    fromServiceAccountMs: LatencyStats;
    fromNamespaceMs: LatencyStats;
    namespaceToServiceAccountMs: LatencyStats;
  };
  /** Times from the API server's audit timestamps. */
  audit: {
    fromServiceAccountMs: LatencyStats;
    fromNamespaceMs: LatencyStats;
    patcherReactionMs: LatencyStats;
    namespaceToServiceAccountMs: LatencyStats;
    samples: number;
  };
  slowest: SlowNamespace[];
  summary: WindowSummary;
}

export interface RotationResult extends WindowFacts {
  copies: number;
  convergedSeconds: number;
  firstWriteSeconds: number | undefined;
  lastWriteSeconds: number | undefined;
  writesPerSecond: number;
  secretUpdates: number;
  serviceAccountWrites: number;
  polls: number;
  summary: WindowSummary;
  patcherReportedWrites: Record<string, number>;
}

/** Every scenario's result, as far as the run got. */
/** One source kind's patcher: N copies written from that source, then idle (scenarios/sources.ts). */
export interface SourceMemoryResult {
  kind: string;
  copies: number;
  convergedSeconds: number;
  peakRssMB: number | undefined;
  hwmMB: number | undefined;
  peakAnonMB: number | undefined;
  /** Median RSS over the idle stretch after convergence. */
  idleRssMB: number | undefined;
  peakOverSecretMB?: number | undefined;
  idleOverSecretMB?: number | undefined;
}

export interface Results {
  setup?: SetupResult;
  ceiling?: CeilingResult;
  cold?: ColdResult;
  idle?: IdleResult;
  latency?: LatencyResult;
  rotation?: RotationResult;
  throughput?: ThroughputRun[];
  sources?: SourceMemoryResult[];
  /** The last patcher process at the end of the run. */
  atEnd?: { peakRssMB: number | undefined; connections: ConnectionsResult };
  /** Why the run stopped early. */
  error?: string;
}
