import { EventsV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../logging/logger.js";

export interface EventTarget {
  kind: "Secret" | "ServiceAccount" | "Namespace";
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/**
 * Writes events.k8s.io/v1 Events on objects the patcher changes or refuses to change. The same
 * (object, reason, note) is recorded once per `dedupeMs`, so a conflict that persists does not
 * produce an Event on every resync. Notes never carry credential bytes.
 */
export class EventRecorder {
  readonly #api: EventsV1Api;
  readonly #recent = new Map<string, number>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly logger: Logger,
    private readonly controller = "imagepullsecret-patcher",
    private readonly instance = "default",
    private readonly dedupeMs = 10 * 60_000,
  ) {
    this.#api = kubeConfig.makeApiClient(EventsV1Api);
  }

  record(target: EventTarget, type: "Normal" | "Warning", reason: string, note: string): void {
    const key = `${target.kind}/${target.namespace}/${target.name}/${reason}/${note}`;
    const now = Date.now();
    const last = this.#recent.get(key);
    if (last !== undefined && now - last < this.dedupeMs) return;
    this.#recent.set(key, now);
    if (this.#recent.size > 10_000) {
      for (const [k, t] of this.#recent) if (now - t >= this.dedupeMs) this.#recent.delete(k);
    }
    const eventTime = new Date();
    this.#api
      .createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.` },
          eventTime,
          reportingController: `imagepullsecret-patcher.io/${this.controller}`,
          reportingInstance: `${this.controller}-${this.instance}`,
          action: reason === "Conflict" ? "Refuse" : "Reconcile",
          reason,
          note: note.slice(0, 1000),
          type,
          regarding: { apiVersion: "v1", kind: target.kind, namespace: target.namespace, name: target.name, uid: target.uid },
        },
      })
      .catch((err: unknown) => {
        this.logger.debug({ target: `${target.kind} ${target.namespace}/${target.name}`, error: err instanceof Error ? err.name : "error" }, "could not record event");
      });
  }
}
