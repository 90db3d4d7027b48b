import type { Manifest } from "./yaml.ts";

export interface Relocation {
  /** Old namespace name -> new one; applies to Namespace objects, metadata.namespace, binding subjects and `namespace: <old>` in a ConfigMap's config.yaml. */
  namespaces: Record<string, string>;
  /** Appended as `-<suffix>` to the names of cluster-scoped RBAC objects (and their roleRefs). */
  clusterSuffix: string;
}

const CLUSTER_RBAC = new Set(["ClusterRole", "ClusterRoleBinding"]);

/**
 * Moves a fixed-namespace install (deploy/kustomize/base) into unique namespaces, so a shared test
 * cluster can hold it next to other suites and delete it afterwards. A rename only: no other field
 * changes, so what the API server accepts here it accepts as written.
 */
export function relocate(manifests: readonly Manifest[], r: Relocation): Manifest[] {
  const ns = (name: string): string => r.namespaces[name] ?? name;
  return manifests.map((original) => {
    const m = structuredClone(original) as Manifest & {
      subjects?: { kind: string; namespace?: string }[];
      roleRef?: { kind: string; name: string };
      data?: Record<string, string>;
    };
    if (m.kind === "Namespace") m.metadata.name = ns(m.metadata.name);
    if (m.metadata.namespace) m.metadata.namespace = ns(m.metadata.namespace);
    if (CLUSTER_RBAC.has(m.kind)) m.metadata.name = `${m.metadata.name}-${r.clusterSuffix}`;
    if (m.roleRef?.kind === "ClusterRole") m.roleRef.name = `${m.roleRef.name}-${r.clusterSuffix}`;
    for (const s of m.subjects ?? []) if (s.namespace) s.namespace = ns(s.namespace);
    const config = m.kind === "ConfigMap" ? m.data?.["config.yaml"] : undefined;
    if (config !== undefined && m.data) {
      m.data["config.yaml"] = config.replace(/^(\s*namespace:\s*)(\S+)\s*$/gm, (_all, key: string, value: string) => `${key}${ns(value)}`);
    }
    return m;
  });
}
