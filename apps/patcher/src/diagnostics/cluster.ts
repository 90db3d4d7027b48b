import { CoreV1Api, type CoreV1Event, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import {
  classifyApiError,
  EventRecorder,
  PULL_FAILURE_FIELD_SELECTOR,
  streamObjects,
  type Logger,
  type NamespaceView,
} from "@imagepullsecret-patcher/core";
import { NamespaceLookup } from "../webhook/namespace-lookup.js";

/** The Pod an Event or a decision is about. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** Everything the diagnostics read from and write to the cluster; tests hand in a fake. */
export interface DiagnosticsCluster {
  /** Hands over every pull-failure Event (listed, then watched) until `signal` aborts. */
  streamPullFailures(onEvent: (event: CoreV1Event) => void, signal: AbortSignal): Promise<void>;
  namespace(name: string): Promise<NamespaceView | undefined>;
  pod(namespace: string, name: string): Promise<V1Pod | undefined>;
  /** Whether a Secret of this name exists in the namespace (never reads more than that). */
  secretExists(namespace: string, name: string): Promise<boolean>;
  /** Deletes the Pod if it still has `uid`: `gone` when it is already gone or was replaced. */
  deletePod(pod: PodRef): Promise<"deleted" | "gone">;
  warn(pod: PodRef, reason: string, message: string): void;
}

/** {@link DiagnosticsCluster} on the cluster of `kubeConfig`. `canWrite` gates the Events (the lease). */
export function diagnosticsCluster(
  kubeConfig: KubeConfig,
  logger: Logger,
  instance: string,
  canWrite: (() => boolean) | undefined,
): DiagnosticsCluster {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const namespaces = new NamespaceLookup(kubeConfig);
  const recorder = new EventRecorder(kubeConfig, logger, "imagepullsecret-patcher", instance);
  recorder.gate = canWrite;
  return {
    streamPullFailures: (onEvent, signal) =>
      streamObjects<CoreV1Event>(
        {
          name: "pull-failure-events",
          kubeConfig,
          watchPath: "/api/v1/events",
          fieldSelector: PULL_FAILURE_FIELD_SELECTOR,
          list: (params) => core.listEventForAllNamespaces(params),
          onObject: onEvent,
          logger,
        },
        signal,
      ),
    namespace: (name) => namespaces.get(name),
    pod: async (namespace, name) => {
      try {
        return await core.readNamespacedPod({ namespace, name });
      } catch (err) {
        if (classifyApiError(err).kind === "not-found") return undefined;
        throw err;
      }
    },
    // A list by name, which the copies' RBAC (resourceNames) allows; only the count is read.
    secretExists: async (namespace, name) => {
      const found = await core.listNamespacedSecret({ namespace, fieldSelector: `metadata.name=${name}`, limit: 1 });
      return found.items.length > 0;
    },
    deletePod: async (pod) => {
      try {
        await core.deleteNamespacedPod({
          namespace: pod.namespace,
          name: pod.name,
          body: { preconditions: { uid: pod.uid } },
        });
        return "deleted";
      } catch (err) {
        // 409: the uid precondition failed, a new Pod of that name exists.
        const kind = classifyApiError(err).kind;
        if (kind === "not-found" || kind === "conflict") return "gone";
        throw err;
      }
    },
    warn: (pod, reason, message) =>
      recorder.record(
        { kind: "Pod", namespace: pod.namespace, name: pod.name, uid: pod.uid },
        "Warning",
        reason,
        message,
      ),
  };
}
