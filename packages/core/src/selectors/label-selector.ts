// Kubernetes label selectors, in both forms users know:
// - the string form of `kubectl -l` and the `labelSelector` query parameter, parsed exactly as
//   k8s.io/apimachinery/pkg/labels.Parse does (same tokens, same quirks, same validation);
// - the structured `metav1.LabelSelector` form (`matchLabels` / `matchExpressions`), validated as
//   the API server validates it.
// Both compile to one list of requirements, ANDed. Everything here is pure.

import { compareStrings, formatRequirement, requirementMatches, type Requirement } from "./label-requirement.js";
import { parseLabelSelector } from "./label-selector-parser.js";
import { requirementsFromStructured, type StructuredSelector } from "./label-selector-structured.js";

export {
  LabelSelectorError,
  formatRequirement,
  requirementMatches,
  type Requirement,
  type RequirementOperator,
} from "./label-requirement.js";
export { parseLabelSelector } from "./label-selector-parser.js";
export {
  STRUCTURED_OPERATORS,
  requirementsFromStructured,
  type StructuredOperator,
  type StructuredRequirement,
  type StructuredSelector,
} from "./label-selector-structured.js";

/** A validated selector: an AND of requirements. */
export interface CompiledLabelSelector {
  /** Requirements in canonical order (by key, then by text), duplicates removed. */
  readonly requirements: readonly Requirement[];
  /** True when the selector has no requirement and so matches every label set. */
  readonly isEmpty: boolean;
  /** Whether `labels` satisfies every requirement. */
  matches(labels: Readonly<Record<string, string>>): boolean;
  /**
   * The canonical string form, usable as a `labelSelector` query parameter: compiling it again
   * yields the same requirements and the same string. `""` for the empty selector.
   */
  toString(): string;
}

class CompiledSelector implements CompiledLabelSelector {
  readonly requirements: readonly Requirement[];
  readonly isEmpty: boolean;
  readonly #text: string;

  constructor(requirements: readonly Requirement[]) {
    // Canonical order: by key (as Kubernetes sorts), then by text so that two requirements on one
    // key always print the same way; identical requirements collapse since AND is idempotent.
    const byText = new Map<string, Requirement>();
    for (const requirement of requirements) byText.set(formatRequirement(requirement), requirement);
    const sorted = [...byText].sort(
      ([textA, a], [textB, b]) => compareStrings(a.key, b.key) || compareStrings(textA, textB),
    );
    this.requirements = Object.freeze(sorted.map(([, requirement]) => requirement));
    this.isEmpty = sorted.length === 0;
    this.#text = sorted.map(([text]) => text).join(",");
    Object.freeze(this);
  }

  matches(labels: Readonly<Record<string, string>>): boolean {
    return this.requirements.every((requirement) => requirementMatches(requirement, labels));
  }

  toString(): string {
    return this.#text;
  }
}

/**
 * Compiles a selector in either form. The empty string and the empty object both match everything,
 * as an empty `LabelSelector` does in Kubernetes.
 *
 * @example
 * compileLabelSelector("env in (prod,staging), !legacy").matches({ env: "prod" }) // true
 * compileLabelSelector({ matchLabels: { team: "a" } }).toString() // "team=a"
 * @throws {LabelSelectorError} naming the position (string form) or path (structured form).
 */
export function compileLabelSelector(input: string | StructuredSelector): CompiledLabelSelector {
  const requirements = typeof input === "string" ? parseLabelSelector(input) : requirementsFromStructured(input);
  return new CompiledSelector(requirements);
}
