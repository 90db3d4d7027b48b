import type { PatchStrategy, SourceProvider, SourceValue, TargetSelector } from "../plugins/contracts.js";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import type { CoreInformers } from "../kube/core-informers.js";
import type { EventSink } from "../kube/events.js";
import type { ReflectorObserver } from "../kube/reflector.js";
import type { QueueObserver } from "../queue/work-queue.js";
import type { ClusterWriter, WriteObserver } from "./apply.js";
import type { ConflictPolicy, Outcome } from "./plan.js";

/** One credential going to one set of namespaces. */
export interface Mapping {
  readonly name: string;
  /** Name of the copies this mapping writes. */
  readonly secretName: string;
  readonly source: SourceProvider;
  readonly selector: TargetSelector;
  readonly strategy: PatchStrategy;
  readonly conflictPolicy: ConflictPolicy;
  /** Pods created in the selected namespaces get the copy in `spec.imagePullSecrets` by admission. */
  readonly podAdmission?: boolean | undefined;
}

/** Hooks for metrics; all optional. */
export interface EngineObserver extends WriteObserver, ReflectorObserver, QueueObserver {
  onReconcile?(mapping: string, outcome: Outcome | "error", durationMs: number): void;
  onConflict?(mapping: string, namespace: string): void;
}

/** Settings of an {@link Engine}; only `kubeConfig` and `mappings` are required. */
export interface EngineOptions {
  kubeConfig: KubeConfig;
  mappings: readonly Mapping[];
  logger?: Logger | undefined;
  /** Distinguishes installations sharing a cluster; each only cleans up its own copies. */
  instance?: string | undefined;
  /** Concurrent reconciles. */
  workers?: number | undefined;
  /** Re-evaluates every key from cache this often, to catch anything an event missed. 0 disables. */
  resyncIntervalMs?: number | undefined;
  /** Client-side write rate limit. */
  clientQps?: number | undefined;
  clientBurst?: number | undefined;
  /** Keep copies and entries of a mapping removed from config. */
  retainOnMappingRemoval?: boolean | undefined;
  /** Write Kubernetes Events on conflicts and failures. */
  recordEvents?: boolean | undefined;
  /** Watchdog: relist a watch that delivered nothing for this long. */
  watchInactivityTimeoutMs?: number | undefined;
  /**
   * Checks a new credential before it fans out (for example a registry login probe). Until a
   * value passes, the last value that passed keeps being used; a failure is logged and shown in
   * {@link Engine.status}.
   */
  verifyCredential?:
    ((value: SourceValue, mapping: string) => Promise<{ ok: boolean; problem?: string | undefined }>) | undefined;
  observer?: EngineObserver | undefined;
  /**
   * Asked before every write; when it answers false the write is not sent (for example: this
   * process lost the leader lease and must not write any more, even mid-reconcile).
   */
  canWrite?: (() => boolean) | undefined;
  /** Where writes go; defaults to the cluster of `kubeConfig`. */
  writer?: ClusterWriter | undefined;
  /**
   * `runOnce`: how long a key may keep failing with retryable errors before the pass gives up on
   * it, and how long to wait for sources' first values. Default 30 s each.
   */
  onceRetryBudgetMs?: number | undefined;
  onceSourceWaitMs?: number | undefined;
  /** `runOnce` and `planAll`: how long caches may take to list. Default 60 s. */
  onceSyncTimeoutMs?: number | undefined;
  /** @internal The caches the engine reads; defaults to reflectors on the cluster of `kubeConfig`. */
  informers?: CoreInformers | undefined;
  /** @internal Where Events go; defaults to the cluster of `kubeConfig`. */
  eventSink?: EventSink | undefined;
}

/** The last outcome of one (mapping, namespace) key. */
export interface KeyStatus {
  mapping: string;
  namespace: string;
  /** Name of the copy the key is about (a removed mapping's, or a mapping's former name). */
  secretName?: string | undefined;
  outcome: Outcome | "error";
  reason: string;
  at: Date;
}

/** Per-mapping counts for `status`, metrics and readiness. */
export interface MappingStatus {
  name: string;
  source: string;
  sourceState: string;
  sourceError?: string | undefined;
  /** Why the newest credential is held back, when `verifyCredential` refused it. */
  verificationError?: string | undefined;
  inScope: number;
  inSync: number;
  conflicting: number;
  failing: number;
  waiting: number;
  /** Selected namespaces skipped on purpose, e.g. the one holding a configured source Secret. */
  skipped: number;
  /** Why, one line per distinct reason (few: a skipped namespace is rare). */
  skippedReasons: string[];
}

/** Sizes of the engine's internal maps, to show they stay bounded by what is in the cluster. */
export interface TrackedCounts {
  keyStatuses: number;
  retiredMappings: number;
  expectations: number;
  verifications: number;
  copyWatches: number;
  serviceAccountNamespaces: number;
}
