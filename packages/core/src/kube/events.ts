import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";
import { describeError } from "../util/errors.js";

export interface EventTarget {
  kind: "Secret" | "ServiceAccount" | "Namespace" | "Pod";
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/** Where the engine's Events go; {@link EventRecorder} writes them to the cluster. */
export interface EventSink {
  /** Asked before each Event is sent; false drops it (the writer stopped or lost the lease). */
  gate: (() => boolean) | undefined;
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): void;
}

/**
 * Writes core/v1 Events (also visible through events.k8s.io/v1). Not events.k8s.io/v1 directly:
 * client-node serialises its `eventTime` with milliseconds, which the API server's MicroTime refuses.
 * Writes Events on objects the patcher changes or refuses to change. The same
 * (object, reason, note) is recorded once per `dedupeMs`, so a conflict that persists does not
 * produce an Event on every resync. Notes never carry credential bytes.
 */
export class EventRecorder implements EventSink {
  readonly #api: CoreV1Api;
  readonly #recent = new Map<string, number>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly logger: Logger,
    private readonly controller = "imagepullsecret-patcher",
    private readonly instance = "default",
    private readonly dedupeMs = 10 * 60_000,
  ) {
    this.#api = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Asked before each Event is sent; false drops it (the writer stopped or lost the lease). */
  gate: (() => boolean) | undefined;

  record(target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): void {
    if (this.gate && !this.gate()) return;
    const key = `${target.kind}/${target.namespace}/${target.name}/${reason}/${note}`;
    const now = Date.now();
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 10_000) {
      for (const [k, t] of this.#recent) if (now - t >= this.dedupeMs) this.#recent.delete(k);
    }
    const at = new Date();
    this.#api
      .createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.` },
          involvedObject: {
            apiVersion: "v1",
            kind: target.kind,
            namespace: target.namespace,
            name: target.name,
            uid: target.uid,
          },
          reason,
          message: note.slice(0, 1000),
          type,
          firstTimestamp: at,
          lastTimestamp: at,
          count: 1,
          source: { component: this.controller },
          reportingComponent: `imagepullsecret-patcher.io/${this.controller}`,
          reportingInstance: `${this.controller}-${this.instance}`,
          action: reason === "Conflict" ? "Refuse" : "Reconcile",
        },
      })
      .catch((err: unknown) => {
        this.logger.debug(
          { target: `${target.kind} ${target.namespace}/${target.name}`, error: describeError(err) },
          "could not record event",
        );
      });
  }
}
