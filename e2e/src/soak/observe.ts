// Reads the soak namespaces, their Secrets and ServiceAccounts, and the sources, as the model
// needs them; and snapshots objects the patchers do not own so they can be compared later.
import { createHash } from "node:crypto";
import type * as k8s from "@kubernetes/client-node";
import { SOAK_LABEL, type Observed, type ObservedNamespace } from "./world.ts";

export async function observe(
  core: k8s.CoreV1Api,
  run: string,
  sourceNamespace: string,
  sourceNames: readonly string[],
): Promise<Observed> {
  const list = await core.listNamespace({ labelSelector: `${SOAK_LABEL}=${run}` });
  const namespaces: ObservedNamespace[] = await Promise.all(
    list.items.map(async (ns) => {
      const name = ns.metadata?.name ?? "";
      const [secrets, sas] = await Promise.all([
        core.listNamespacedSecret({ namespace: name }),
        core.listNamespacedServiceAccount({ namespace: name }),
      ]);
      return {
        name,
        labels: { ...(ns.metadata?.labels ?? {}) },
        phase: ns.metadata?.deletionTimestamp ? "Terminating" : (ns.status?.phase ?? "Active"),
        secrets: secrets.items.map((s) => ({
          name: s.metadata?.name ?? "",
          type: s.type ?? "",
          labels: { ...(s.metadata?.labels ?? {}) },
          annotations: { ...(s.metadata?.annotations ?? {}) },
          data: { ...(s.data ?? {}) },
          resourceVersion: s.metadata?.resourceVersion ?? "",
          deleting: !!s.metadata?.deletionTimestamp,
        })),
        serviceAccounts: sas.items.map((sa) => ({
          name: sa.metadata?.name ?? "",
          imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => r.name ?? ""),
          annotations: { ...(sa.metadata?.annotations ?? {}) },
          resourceVersion: sa.metadata?.resourceVersion ?? "",
        })),
      };
    }),
  );
  namespaces.sort((a, b) => a.name.localeCompare(b.name));
  const sources: Record<string, string> = {};
  for (const name of sourceNames) {
    const s = await core.readNamespacedSecret({ name, namespace: sourceNamespace });
    sources[name] = s.data?.[".dockerconfigjson"] ?? "";
  }
  return { namespaces, sources };
}

/** An object the patchers must never change, by kind/namespace/name. */
export interface ForeignRef {
  kind: "Secret" | "ServiceAccount";
  namespace: string;
  name: string;
}

export type Snapshot = Map<string, string>;

function refKey(r: ForeignRef): string {
  return `${r.kind} ${r.namespace}/${r.name}`;
}

/** A Secret's type, a hash of its data and its metadata, as JSON. */
async function secretState(core: k8s.CoreV1Api, r: ForeignRef): Promise<string> {
  const s = await core.readNamespacedSecret({ name: r.name, namespace: r.namespace });
  return JSON.stringify({
    type: s.type,
    // A hash, so a report never prints credential bytes.
    dataSha256: createHash("sha256")
      .update(JSON.stringify(s.data ?? {}))
      .digest("hex")
      .slice(0, 16),
    labels: s.metadata?.labels ?? {},
    annotations: s.metadata?.annotations ?? {},
    resourceVersion: s.metadata?.resourceVersion,
    uid: s.metadata?.uid,
  });
}

/** One foreign object's state as JSON: a Secret's type and data hash, a ServiceAccount's entries, and both's metadata. */
async function objectState(core: k8s.CoreV1Api, r: ForeignRef): Promise<string> {
  if (r.kind === "Secret") return secretState(core, r);
  const sa = await core.readNamespacedServiceAccount({ name: r.name, namespace: r.namespace });
  return JSON.stringify({
    imagePullSecrets: sa.imagePullSecrets ?? [],
    labels: sa.metadata?.labels ?? {},
    annotations: sa.metadata?.annotations ?? {},
    resourceVersion: sa.metadata?.resourceVersion,
    uid: sa.metadata?.uid,
  });
}

/** data, type, labels, annotations, imagePullSecrets and resourceVersion of each object, as JSON. */
export async function snapshot(core: k8s.CoreV1Api, refs: readonly ForeignRef[]): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const r of refs) out.set(refKey(r), await objectState(core, r));
  return out;
}

/** Human-readable differences between two snapshots. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [key, was] of before) {
    const now = after.get(key);
    if (now !== was) out.push(`${key} changed:\n    before ${was}\n    after  ${now ?? "(gone)"}`);
  }
  return out;
}
