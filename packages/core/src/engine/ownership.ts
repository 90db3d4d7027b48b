import type { CachedSecret, CachedServiceAccount } from "../kube/views.js";

/** Label on every copy; lets the patcher tell its own Secrets from anyone else's. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** Value of {@link MANAGED_BY_LABEL} on every copy. */
export const MANAGED_BY_VALUE = "imagepullsecret-patcher";
/** Label naming the mapping that wrote a copy. */
export const MAPPING_LABEL = "imagepullsecret-patcher.io/mapping";
/** Label naming the patcher instance, so two installations never clean up each other's copies. */
export const INSTANCE_LABEL = "imagepullsecret-patcher.io/instance";
/** Annotation with the hash of the credential a copy holds; informational, never a secret. */
export const SOURCE_HASH_ANNOTATION = "imagepullsecret-patcher.io/source-hash";
/** titansoft/imagepullsecret-patcher marked its copies with this annotation; honoured on migration. */
export const LEGACY_MANAGED_BY_ANNOTATION = "app.kubernetes.io/managed-by";
/** On a same-name Secret someone else made: lets `conflictPolicy: adopt` take it over. */
export const ADOPT_ANNOTATION = "imagepullsecret-patcher.io/adopt";
/** On a ServiceAccount: the imagePullSecrets entries the patcher added, comma-separated. */
export const ADDED_ANNOTATION = "imagepullsecret-patcher.io/added";
/** titansoft's namespace opt-out annotation. */
export const EXCLUDE_ANNOTATION = "k8s.titansoft.com/imagepullsecret-patcher-exclude";

export type SecretOwner =
  | { kind: "absent" }
  | { kind: "mapping"; mapping: string; instance: string }
  /** Labelled as ours but with no mapping: a copy made by titansoft's patcher or an older version. */
  | { kind: "legacy" }
  | { kind: "foreign" };

export function ownerOf(secret: CachedSecret | undefined): SecretOwner {
  if (!secret) return { kind: "absent" };
  if (secret.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE) {
    const mapping = secret.labels[MAPPING_LABEL];
    if (mapping) return { kind: "mapping", mapping, instance: secret.labels[INSTANCE_LABEL] ?? "" };
    return { kind: "legacy" };
  }
  if (secret.annotations[LEGACY_MANAGED_BY_ANNOTATION] === MANAGED_BY_VALUE) return { kind: "legacy" };
  return { kind: "foreign" };
}

/** Secret names the patcher added to this ServiceAccount's imagePullSecrets. */
export function addedByUs(sa: CachedServiceAccount): string[] {
  const value = sa.annotations[ADDED_ANNOTATION];
  return value ? value.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

export function formatAdded(names: Iterable<string>): string {
  return [...new Set(names)].sort().join(",");
}
