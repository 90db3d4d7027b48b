// The JSON patch that gives a Pod the registry credentials it is missing. Pure.

/** One RFC 6902 JSON Patch operation. */
export type JsonPatchOperation =
  | { readonly op: "add" | "replace" | "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly from: string; readonly path: string };

/** An entry of a Pod's `spec.imagePullSecrets` (a LocalObjectReference). */
export interface ImagePullSecretRef {
  readonly name?: string | undefined;
}

/** The names of `wanted` that `existing` lacks, in `wanted` order, each once; empty names never count. */
export function missingPullSecrets(
  existing: readonly ImagePullSecretRef[] | undefined | null,
  wanted: readonly string[],
): string[] {
  const present = new Set((existing ?? []).map((entry) => entry.name));
  return [...new Set(wanted)].filter((name) => name !== "" && !present.has(name));
}

/**
 * The operations that add each name of `wanted` missing from `existing` to `spec.imagePullSecrets`,
 * in `wanted` order. Names already present are skipped, repeated or empty names in `wanted` count
 * once or not at all, and nothing missing gives `[]`. Existing entries are never touched.
 */
export function imagePullSecretsPatch(
  existing: readonly ImagePullSecretRef[] | undefined | null,
  wanted: readonly string[],
): JsonPatchOperation[] {
  const missing = missingPullSecrets(existing, wanted);
  if (missing.length === 0) return [];
  // An empty list is written as the whole field, not appended to: the API server applies the patch
  // to its own JSON encoding of the Pod, where `omitempty` drops an empty imagePullSecrets, so
  // `/spec/imagePullSecrets/-` would have no array to append to. `add` on the field creates or replaces it.
  if (!existing || existing.length === 0) {
    return [{ op: "add", path: "/spec/imagePullSecrets", value: missing.map((name) => ({ name })) }];
  }
  return missing.map((name) => ({ op: "add", path: "/spec/imagePullSecrets/-", value: { name } }));
}
