// Translates selectors into a Kubernetes namespaceSelector (`metav1.LabelSelector`), for API server
// features that filter by namespace labels, such as a webhook's namespaceSelector. The translation
// may select more namespaces than the selector does, never fewer: callers decide again in process.
import type { LabelSelector, LabelSelectorRequirement } from "../plugins/contracts.js";
import { hasWildcards } from "./glob.js";
import { compareStrings, type Requirement } from "./label-requirement.js";

/** Label the API server sets on every namespace (Kubernetes ≥ 1.21) to its own name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareStrings);
}

/** `kubernetes.io/metadata.name In [names]`. */
export function namespaceNamesIn(names: readonly string[]): LabelSelectorRequirement {
  return { key: NAMESPACE_NAME_LABEL, operator: "In", values: sortedUnique(names) };
}

/**
 * `kubernetes.io/metadata.name NotIn [exact names]` for the `exclude` patterns that have no
 * wildcard, or undefined when none has. Globs cannot be said with labels; leaving them out widens.
 */
export function namespaceNamesNotIn(patterns: readonly string[]): LabelSelectorRequirement | undefined {
  const names = patterns.filter((pattern) => !hasWildcards(pattern));
  return names.length ? { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: sortedUnique(names) } : undefined;
}

/**
 * One compiled requirement as a matchExpressions entry, or undefined for `>` and `<`, which the
 * structured form cannot express (dropping a requirement from an AND only widens the selection).
 */
function expressionOf(requirement: Requirement): LabelSelectorRequirement | undefined {
  const { key, values } = requirement;
  switch (requirement.operator) {
    case "Equals":
    case "In":
      return { key, operator: "In", values: [...values] };
    case "NotEquals":
    case "NotIn":
      // `!=` and `notin` both match namespaces without the label, as NotIn does.
      return { key, operator: "NotIn", values: [...values] };
    case "Exists":
    case "DoesNotExist":
      return { key, operator: requirement.operator };
    case "GreaterThan":
    case "LessThan":
      return undefined;
  }
}

/**
 * Compiled requirements plus optional extra expressions as one LabelSelector. Single-valued
 * equalities go to matchLabels (as kubectl writes them) unless their key is already there.
 */
export function labelSelectorOf(
  requirements: readonly Requirement[],
  extra: readonly (LabelSelectorRequirement | undefined)[] = [],
): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  for (const requirement of requirements) {
    const value = requirement.values[0];
    if (requirement.operator === "Equals" && value !== undefined && !Object.hasOwn(matchLabels, requirement.key)) {
      matchLabels[requirement.key] = value;
      continue;
    }
    const expression = expressionOf(requirement);
    if (expression) matchExpressions.push(expression);
  }
  for (const expression of extra) if (expression) matchExpressions.push(expression);
  return {
    ...(Object.keys(matchLabels).length ? { matchLabels } : {}),
    ...(matchExpressions.length ? { matchExpressions } : {}),
  };
}
