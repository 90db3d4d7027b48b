// One condition of a label selector, whichever form it came from: what it means (matching), how
// Kubernetes prints it, and the error both forms throw.

/**
 * Operator of a compiled requirement. `==` compiles to `Equals` (they mean the same). `GreaterThan`
 * and `LessThan` exist only in the string form (`a>1`, `a<1`), as in Kubernetes.
 */
export type RequirementOperator =
  "Equals" | "NotEquals" | "In" | "NotIn" | "Exists" | "DoesNotExist" | "GreaterThan" | "LessThan";

/** One validated condition on one label. `values` is sorted and free of duplicates. */
export interface Requirement {
  readonly key: string;
  readonly operator: RequirementOperator;
  readonly values: readonly string[];
}

/**
 * Why a selector was refused. For the string form `position` is the 0-based index of the offending
 * token in the input and the message names it; for the structured form `path` points at the field
 * (e.g. `matchExpressions[0].operator`).
 */
export class LabelSelectorError extends Error {
  override readonly name = "LabelSelectorError";
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly position?: number,
  ) {
    super(path ? `${path}: ${problem}` : problem);
  }
}

/** Compares by UTF-16 code units, like Go's byte-wise sort for the ASCII that labels are made of. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function makeRequirement(key: string, operator: RequirementOperator, values: readonly string[]): Requirement {
  const unique = [...new Set(values)].sort(compareStrings);
  return Object.freeze({ key, operator, values: Object.freeze(unique) });
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, within int64; else undefined. */
export function parseInt64(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** Whether `labels` satisfies one requirement, with Kubernetes' semantics (`!=`/`notin` match absent keys). */
export function requirementMatches(requirement: Requirement, labels: Readonly<Record<string, string>>): boolean {
  // Own properties only: `constructor` or `toString` are valid label keys and must not be found on
  // Object.prototype. A non-string value (bad input) counts as absent.
  const raw: unknown = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
  const value = typeof raw === "string" ? raw : undefined;
  switch (requirement.operator) {
    case "Equals":
    case "In":
      return value !== undefined && requirement.values.includes(value);
    case "NotEquals":
    case "NotIn":
      return value === undefined || !requirement.values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    case "GreaterThan":
    case "LessThan":
      return compareNumbers(requirement, value);
  }
}

/** `>` and `<`: both sides must be int64 numbers, or the requirement does not match. */
function compareNumbers(requirement: Requirement, value: string | undefined): boolean {
  if (value === undefined) return false;
  const actual = parseInt64(value);
  const bound = parseInt64(requirement.values[0] ?? "");
  if (actual === undefined || bound === undefined) return false;
  return requirement.operator === "GreaterThan" ? actual > bound : actual < bound;
}

/** The string form of one requirement, as Kubernetes prints it (`==` printed as `=`). */
export function formatRequirement(requirement: Requirement): string {
  const { key, values } = requirement;
  switch (requirement.operator) {
    case "Exists":
      return key;
    case "DoesNotExist":
      return `!${key}`;
    case "Equals":
      return `${key}=${values[0] ?? ""}`;
    case "NotEquals":
      return `${key}!=${values[0] ?? ""}`;
    case "GreaterThan":
      return `${key}>${values[0] ?? ""}`;
    case "LessThan":
      return `${key}<${values[0] ?? ""}`;
    case "In":
      return `${key} in (${values.join(",")})`;
    case "NotIn":
      return `${key} notin (${values.join(",")})`;
  }
}
