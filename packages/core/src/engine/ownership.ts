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

/** Secret names the patcher added to this ServiceAccount's imagePullSecrets, whoever added them. */
export function addedByUs(sa: CachedServiceAccount): string[] {
  return addedRecords(sa).map((r) => r.secretName);
}

/**
 * One record of {@link ADDED_ANNOTATION}: an imagePullSecrets entry the patcher added, and which
 * instance and mapping added it (`regcred@default/team-a`). Records written before owners were
 * recorded hold only the name (`regcred`); they carry no owner.
 */
export interface AddedRecord {
  readonly secretName: string;
  readonly instance?: string | undefined;
  readonly mapping?: string | undefined;
}

const RECORD = /^([^@/\s]+)(?:@([^@/\s]+)\/([^@/\s]+))?$/;

/** The records of {@link ADDED_ANNOTATION} on a ServiceAccount, one per Secret name (first wins). */
export function addedRecords(sa: CachedServiceAccount): AddedRecord[] {
  const value = sa.annotations[ADDED_ANNOTATION];
  if (!value) return [];
  const byName = new Map<string, AddedRecord>();
  for (const part of value.split(",")) {
    const match = RECORD.exec(part.trim());
    if (!match) continue;
    const [, secretName = "", instance, mapping] = match;
    if (!byName.has(secretName)) byName.set(secretName, instance ? { secretName, instance, mapping } : { secretName });
  }
  return [...byName.values()];
}

/** The record for `secretName`, if the patcher added that entry. */
export function addedRecord(sa: CachedServiceAccount, secretName: string): AddedRecord | undefined {
  return addedRecords(sa).find((r) => r.secretName === secretName);
}

/** Serialises records for {@link ADDED_ANNOTATION}, sorted so equal sets give equal strings. */
export function formatRecords(records: Iterable<AddedRecord>): string {
  const byName = new Map<string, AddedRecord>();
  for (const r of records) byName.set(r.secretName, r);
  return [...byName.values()]
    .map((r) => (r.instance && r.mapping ? `${r.secretName}@${r.instance}/${r.mapping}` : r.secretName))
    .sort()
    .join(",");
}
