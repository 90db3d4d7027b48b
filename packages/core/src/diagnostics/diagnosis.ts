// Does a Pod that failed to pull lack a mapping's copy, and may it be deleted so its controller
// recreates it with the copy? Pure.
import { missingPullSecrets, type ImagePullSecretRef } from "../admission/pod-patch.js";
import { PULL_WAITING_REASONS } from "./pull-failure.js";

/** Controllers that recreate a deleted Pod from a template, by kind and API group/version. */
export const RECREATING_CONTROLLERS: Readonly<Record<string, string>> = {
  ReplicaSet: "apps/v1",
  StatefulSet: "apps/v1",
  DaemonSet: "apps/v1",
  Job: "batch/v1",
};

/** An entry of `metadata.ownerReferences`. */
export interface OwnerRef {
  readonly apiVersion?: string | undefined;
  readonly kind?: string | undefined;
  readonly name?: string | undefined;
  readonly uid?: string | undefined;
  readonly controller?: boolean | undefined;
}

/** What the diagnosis reads of a Pod; {@link podFacts} makes it from a core/v1 Pod. */
export interface PodFacts {
  readonly uid: string;
  /** `metadata.deletionTimestamp` is set. */
  readonly deleting: boolean;
  readonly imagePullSecrets: readonly ImagePullSecretRef[] | undefined;
  readonly ownerReferences: readonly OwnerRef[] | undefined;
  /** The waiting reasons of its init and app containers, in status order. */
  readonly waitingReasons: readonly string[];
}

/** A mapping that selects the Pod's namespace, and whether its copy exists there now. */
export interface SelectingMapping {
  readonly mapping: string;
  readonly secretName: string;
  readonly copyExists: boolean;
}

export type Diagnosis =
  | { readonly verdict: "not-selected" }
  | { readonly verdict: "has-copies" }
  | {
      readonly verdict: "missing";
      /** The selecting mappings whose copy the Pod does not name. */
      readonly missing: readonly SelectingMapping[];
      /** The owner with `controller: true`, if any. */
      readonly controller: OwnerRef | undefined;
      /** True when deleting the Pod gets a replacement that names every missing copy. */
      readonly deletable: boolean;
      /** Why it may not be deleted; empty when it may. */
      readonly keepReason: string;
    };

interface PodLike {
  metadata?: { uid?: string; deletionTimestamp?: unknown; ownerReferences?: OwnerRef[] } | undefined;
  spec?: { imagePullSecrets?: ImagePullSecretRef[] } | undefined;
  status?:
    | {
        initContainerStatuses?: { state?: { waiting?: { reason?: string } } }[];
        containerStatuses?: { state?: { waiting?: { reason?: string } } }[];
      }
    | undefined;
}

/** The facts of a core/v1 Pod as client-node returns it. */
export function podFacts(pod: PodLike): PodFacts {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  return {
    uid: pod.metadata?.uid ?? "",
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    imagePullSecrets: pod.spec?.imagePullSecrets,
    ownerReferences: pod.metadata?.ownerReferences,
    waitingReasons: statuses.map((s) => s.state?.waiting?.reason ?? "").filter((r) => r !== ""),
  };
}

/** The owner with `controller: true`, if any (there is at most one). */
export function controllerOf(owners: readonly OwnerRef[] | undefined): OwnerRef | undefined {
  return (owners ?? []).find((owner) => owner.controller === true);
}

/** Empty when deleting the Pod brings a replacement with the copies; otherwise why not. */
function keepReason(pod: PodFacts, controller: OwnerRef | undefined, missing: readonly SelectingMapping[]): string {
  if (!controller) return "no controller owns it, so nothing would recreate it";
  const group = RECREATING_CONTROLLERS[controller.kind ?? ""];
  if (!group || group !== controller.apiVersion) {
    return `its controller ${controller.kind ?? "?"} (${controller.apiVersion ?? "?"}) is not one that recreates Pods`;
  }
  if (pod.deleting) return "it is being deleted already";
  const absent = missing.filter((m) => !m.copyExists).map((m) => m.secretName);
  if (absent.length > 0) return `the copy ${absent.join(", ")} does not exist in its namespace yet`;
  if (!pod.waitingReasons.some((r) => PULL_WAITING_REASONS.includes(r))) {
    return "no container is waiting on an image pull any more";
  }
  return "";
}

/**
 * Whether `pod`, whose image pull failed, lacks the copy of a mapping in `selecting` (the mappings
 * selecting its namespace). Such a Pod may be deleted only when a controller that recreates Pods
 * owns it, every missing copy exists in the namespace (so the replacement gets it from the patched
 * ServiceAccount or the webhook), it is not being deleted, and a container still waits on a pull.
 */
export function diagnosePod(pod: PodFacts, selecting: readonly SelectingMapping[]): Diagnosis {
  if (selecting.length === 0) return { verdict: "not-selected" };
  const lacking = new Set(
    missingPullSecrets(
      pod.imagePullSecrets,
      selecting.map((m) => m.secretName),
    ),
  );
  const missing = selecting.filter((m) => lacking.has(m.secretName));
  if (missing.length === 0) return { verdict: "has-copies" };
  const controller = controllerOf(pod.ownerReferences);
  const reason = keepReason(pod, controller, missing);
  return { verdict: "missing", missing, controller, deletable: reason === "", keepReason: reason };
}
