import type { NamespaceView, TargetSelector } from "../plugins/contracts.js";

/**
 * Namespace annotation that opts a namespace out of every mapping, whatever its selector. Unlike
 * titansoft's `k8s.titansoft.com/imagepullsecret-patcher-exclude`, which `list` does not consult, nothing overrides it.
 */
export const OPT_OUT_ANNOTATION = "imagepullsecret-patcher.io/exclude";

/** Whether the namespace carries {@link OPT_OUT_ANNOTATION} set to exactly `"true"` (as titansoft's is read). */
export function hasOptOutAnnotation(namespace: Pick<NamespaceView, "annotations">): boolean {
  const annotations = namespace.annotations;
  return Object.hasOwn(annotations, OPT_OUT_ANNOTATION) && annotations[OPT_OUT_ANNOTATION] === "true";
}

/**
 * Whether a mapping with this selector writes into the namespace: the selector matches and the
 * namespace did not opt out. Every caller that asks "is this namespace the mapping's?" goes
 * through here, so the opt-out holds for plugin selectors too.
 */
export function selects(selector: Pick<TargetSelector, "matches">, namespace: NamespaceView): boolean {
  return !hasOptOutAnnotation(namespace) && selector.matches(namespace);
}
