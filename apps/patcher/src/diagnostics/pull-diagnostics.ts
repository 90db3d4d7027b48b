import type { CoreV1Event } from "@kubernetes/client-node";
import {
  classifyApiError,
  classifyPullFailure,
  deletionBudget,
  diagnosePod,
  podFacts,
  RecentPods,
  selects,
  sleep,
  type Diagnosis,
  type Logger,
  type PodFacts,
  type PullFailure,
  type SelectingMapping,
  type TokenBucket,
  type TargetSelector,
} from "@imagepullsecret-patcher/core";
import type { DiagnosticsConfig } from "../config/diagnostics-schema.js";
import type { DiagnosticsCluster, PodRef } from "./cluster.js";
import { RecentFindings, type Finding } from "./findings.js";

/** The reason of the Warning Event written on a Pod that lacks a copy. */
export const MISSING_PULL_SECRET_REASON = "MissingPullSecret";

/** What the diagnostics need of a mapping. */
export interface DiagnosedMapping {
  readonly name: string;
  readonly secretName: string;
  readonly selector: TargetSelector;
}

export interface PullDiagnosticsOptions {
  config: DiagnosticsConfig;
  cluster: DiagnosticsCluster;
  /** The mappings of the config applied last. */
  mappings: () => Promise<readonly DiagnosedMapping[]>;
  logger: Logger;
  onMissing?: ((mapping: string) => void) | undefined;
  onDeleted?: ((mapping: string) => void) | undefined;
  /** Asked before each deletion: false once the lease is lost. */
  canWrite?: (() => boolean) | undefined;
  now?: (() => number) | undefined;
}

/** What was decided about a Pod, by uid; `has-copies` and `deleted` are final (imagePullSecrets never change). */
type Verdict = "has-copies" | "not-selected" | "reported" | "deleted";

/** A Pod is looked at again after this long, however often the kubelet reports it. */
const QUIET_MS = 60_000;
/** Pods remembered (about 100 bytes each). */
const REMEMBERED_PODS = 4096;
/** Pull failures waiting to be looked at; more are dropped (the kubelet reports them again). */
const MAX_PENDING = 1000;

/**
 * Finds Pods that cannot pull because they lack a selected mapping's copy in
 * `spec.imagePullSecrets`, from the kubelet's pull-failure Events (no cache of Pods). Reports each
 * once (a Warning Event on the Pod, a metric, {@link snapshot}), and with `deleteStuckPods` deletes
 * those a recreating controller owns, within the rate limit. Runs on the leader only: it writes.
 */
export class PullDiagnostics {
  readonly #o: PullDiagnosticsOptions;
  readonly #recent: RecentPods<Verdict>;
  readonly #findings = new RecentFindings();
  readonly #budget: TokenBucket;
  readonly #pending = new Map<string, PullFailure>();
  #wake: (() => void) | undefined;

  constructor(options: PullDiagnosticsOptions) {
    this.#o = options;
    const now = options.now ?? Date.now;
    this.#recent = new RecentPods<Verdict>(REMEMBERED_PODS, now);
    this.#budget = deletionBudget(options.config.maxDeletesPerMinute, now);
  }

  /** For `/diagnostics`: the settings and the latest findings, newest first. */
  snapshot(): { enabled: boolean; deleteStuckPods: boolean; pods: Finding[] } {
    return { enabled: true, deleteStuckPods: this.#o.config.deleteStuckPods, pods: this.#findings.list() };
  }

  /** Watches and handles pull failures until `signal` aborts. Never throws. */
  async run(signal: AbortSignal): Promise<void> {
    const stream = this.#o.cluster.streamPullFailures((event) => this.offer(event), signal);
    const onAbort = (): void => this.#wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      while (!signal.aborted) {
        const next = this.#pending.entries().next();
        if (next.done) {
          await new Promise<void>((resolve) => (this.#wake = resolve));
          continue;
        }
        this.#pending.delete(next.value[0]);
        await this.#handleSafely(next.value[1], signal);
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      await stream;
    }
  }

  /** Takes one Event from the stream: queues it when it reports a pull failure of a Pod not handled lately. */
  offer(event: CoreV1Event): void {
    const failure = classifyPullFailure(event);
    if (!failure || !this.#due(failure)) return;
    const key = failure.uid || `${failure.namespace}/${failure.pod}`;
    if (this.#pending.size >= MAX_PENDING && !this.#pending.has(key)) return;
    this.#pending.set(key, failure);
    this.#wake?.();
  }

  #due(failure: PullFailure): boolean {
    const seen = failure.uid ? this.#recent.get(failure.uid) : undefined;
    if (!seen) return true;
    if (seen.value === "has-copies" || seen.value === "deleted") return false;
    return seen.ageMs >= QUIET_MS;
  }

  async #handleSafely(failure: PullFailure, signal: AbortSignal): Promise<void> {
    try {
      await this.handle(failure);
    } catch (err) {
      this.#o.logger.warn(
        { namespace: failure.namespace, pod: failure.pod, error: classifyApiError(err).message },
        "diagnostics: could not check a Pod whose image pull failed",
      );
      // Spaces out a failing API server; the kubelet reports the Pod again.
      await sleep(1000, signal);
    }
  }

  /** Looks at one Pod whose pull failed: reports it when it lacks a copy, deletes it when allowed. */
  async handle(failure: PullFailure): Promise<void> {
    const selecting = await this.#selecting(failure.namespace);
    if (selecting.length === 0) {
      if (failure.uid) this.#recent.set(failure.uid, "not-selected");
      return;
    }
    const pod = await this.#o.cluster.pod(failure.namespace, failure.pod);
    const uid = pod?.metadata?.uid;
    // Gone, or replaced by a Pod of the same name, which has Events of its own.
    if (!pod || !uid || (failure.uid && uid !== failure.uid)) return;
    const ref: PodRef = { namespace: failure.namespace, name: failure.pod, uid };
    const diagnosis = await this.#diagnose(ref, podFacts(pod), selecting);
    if (diagnosis.verdict !== "missing") {
      this.#recent.set(uid, diagnosis.verdict);
      return;
    }
    const firstTime = this.#recent.get(uid)?.value !== "reported";
    this.#recent.set(uid, "reported");
    if (firstTime) this.#report(ref, failure, diagnosis);
    if (this.#o.config.deleteStuckPods) await this.#maybeDelete(ref, failure, diagnosis);
    else if (firstTime) this.#note(ref, failure, diagnosis, "reported", undefined);
  }

  async #selecting(namespace: string): Promise<readonly DiagnosedMapping[]> {
    const view = await this.#o.cluster.namespace(namespace);
    if (!view) return [];
    return (await this.#o.mappings()).filter((m) => selects(m.selector, view));
  }

  /** The diagnosis, checking in the cluster only the copies the Pod lacks. */
  async #diagnose(ref: PodRef, pod: PodFacts, selecting: readonly DiagnosedMapping[]): Promise<Diagnosis> {
    const assumed = selecting.map((m) => ({ mapping: m.name, secretName: m.secretName, copyExists: true }));
    const first = diagnosePod(pod, assumed);
    if (first.verdict !== "missing") return first;
    const checked: SelectingMapping[] = [];
    for (const m of assumed) {
      const lacking = first.missing.some((x) => x.mapping === m.mapping);
      checked.push(lacking ? { ...m, copyExists: await this.#o.cluster.secretExists(ref.namespace, m.secretName) } : m);
    }
    return diagnosePod(pod, checked);
  }

  #report(ref: PodRef, failure: PullFailure, diagnosis: Missing): void {
    const lacks = diagnosis.missing.map((m) => `Secret "${m.secretName}" of mapping "${m.mapping}"`).join(", ");
    const subject = failure.image
      ? `Pulling image "${failure.image}" failed and spec.imagePullSecrets`
      : "spec.imagePullSecrets";
    this.#o.cluster.warn(
      ref,
      MISSING_PULL_SECRET_REASON,
      `${subject} lacks ${lacks}: the Pod was created before its ServiceAccount was patched or while the ` +
        "admission webhook was down. Recreate it to pick the Secret up.",
    );
    for (const m of diagnosis.missing) this.#o.onMissing?.(m.mapping);
    this.#o.logger.warn(
      {
        namespace: ref.namespace,
        pod: ref.name,
        mappings: diagnosis.missing.map((m) => m.mapping),
        controller: controllerText(diagnosis),
      },
      "diagnostics: a Pod cannot pull and lacks a mapping's copy",
    );
  }

  async #maybeDelete(ref: PodRef, failure: PullFailure, diagnosis: Missing): Promise<void> {
    if (!diagnosis.deletable) return this.#note(ref, failure, diagnosis, "kept", diagnosis.keepReason);
    if (this.#o.canWrite && !this.#o.canWrite()) return;
    if (!this.#budget.tryTake()) {
      this.#o.logger.info({ namespace: ref.namespace, pod: ref.name }, "diagnostics: deletion deferred (rate limit)");
      return this.#note(ref, failure, diagnosis, "deferred", "diagnostics.maxDeletesPerMinute reached");
    }
    const result = await this.#o.cluster.deletePod(ref);
    this.#recent.set(ref.uid, "deleted");
    if (result === "gone") return;
    for (const m of diagnosis.missing) this.#o.onDeleted?.(m.mapping);
    this.#o.logger.info(
      { namespace: ref.namespace, pod: ref.name, uid: ref.uid, controller: controllerText(diagnosis) },
      "diagnostics: deleted a Pod stuck without its pull secret; its controller recreates it",
    );
    this.#note(ref, failure, diagnosis, "deleted", undefined);
  }

  #note(
    ref: PodRef,
    failure: PullFailure,
    diagnosis: Missing,
    action: Finding["action"],
    reason: string | undefined,
  ): void {
    this.#findings.put({
      at: new Date((this.#o.now ?? Date.now)()).toISOString(),
      namespace: ref.namespace,
      pod: ref.name,
      uid: ref.uid,
      image: failure.image,
      missing: diagnosis.missing.map((m) => ({ mapping: m.mapping, secretName: m.secretName })),
      controller: controllerText(diagnosis),
      action,
      reason,
    });
  }
}

type Missing = Extract<Diagnosis, { verdict: "missing" }>;

function controllerText(diagnosis: Missing): string | undefined {
  const c = diagnosis.controller;
  return c ? `${c.kind ?? "?"}/${c.name ?? "?"}` : undefined;
}
