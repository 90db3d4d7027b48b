import { CoreV1Api, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { classifyApiError } from "@imagepullsecret-patcher/core";
import { MISSING_PULL_SECRET_REASON } from "./pull-diagnostics.js";

/** The mappings a MissingPullSecret Event names: `Secret "x" of mapping "team-a"`. */
export function mappingsOfNote(note: string | undefined): string[] {
  return [...(note ?? "").matchAll(/of mapping "([^"]+)"/g)].map((m) => m[1] as string);
}

interface Reported {
  namespace: string;
  name: string;
  uid: string;
  mappings: Set<string>;
}

function reportedPods(events: readonly CoreV1Event[]): Reported[] {
  const byUid = new Map<string, Reported>();
  for (const e of events) {
    const { namespace, name, uid } = e.involvedObject;
    if (!namespace || !name || !uid) continue;
    const pod = byUid.get(uid) ?? { namespace, name, uid, mappings: new Set<string>() };
    for (const m of mappingsOfNote(e.message)) pod.mappings.add(m);
    byUid.set(uid, pod);
  }
  return [...byUid.values()];
}

/**
 * For `status`, which runs apart from the controller and shares none of its memory: per mapping, how
 * many Pods the running patcher's diagnostics reported (its `MissingPullSecret` Events, kept by the API
 * server for an hour by default) still exist as they were. Undefined when Events cannot be listed.
 */
export async function stuckPodsByMapping(kubeConfig: KubeConfig): Promise<Map<string, number> | undefined> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let events: CoreV1Event[];
  try {
    const fieldSelector = `involvedObject.kind=Pod,reason=${MISSING_PULL_SECRET_REASON}`;
    events = (await core.listEventForAllNamespaces({ fieldSelector })).items;
  } catch {
    return undefined;
  }
  const counts = new Map<string, number>();
  for (const pod of reportedPods(events)) {
    try {
      const live = await core.readNamespacedPod({ namespace: pod.namespace, name: pod.name });
      // Recreated (new uid) or on its way out: no longer stuck.
      if (live.metadata?.uid !== pod.uid || live.metadata.deletionTimestamp) continue;
    } catch (err) {
      if (classifyApiError(err).kind === "not-found") continue;
      return undefined;
    }
    for (const m of pod.mappings) counts.set(m, (counts.get(m) ?? 0) + 1);
  }
  return counts;
}
