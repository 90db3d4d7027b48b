// The structured form, `metav1.LabelSelector` (`matchLabels` / `matchExpressions`), validated as
// the API server validates it.
import { labelKeyProblem, labelValueProblem } from "./k8s-names.js";
import { LabelSelectorError, makeRequirement, type Requirement } from "./label-requirement.js";
import { childPath, describeValue, indexPath, isPlainObject, notAStringProblem } from "./validation.js";

/** Operators of the structured form (`matchExpressions[].operator`), case-sensitive as in Kubernetes. */
export const STRUCTURED_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

/** An operator of the structured form. */
export type StructuredOperator = (typeof STRUCTURED_OPERATORS)[number];

/** One `matchExpressions` entry. */
export interface StructuredRequirement {
  readonly key: string;
  readonly operator: StructuredOperator;
  /** Non-empty for `In`/`NotIn`; empty or absent for `Exists`/`DoesNotExist`. */
  readonly values?: readonly string[] | undefined;
}

/** The structured selector, as `metav1.LabelSelector`. Empty (no fields) matches everything. */
export interface StructuredSelector {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?: readonly StructuredRequirement[] | undefined;
}

/**
 * Validates the structured form (from untyped config) and converts it to requirements, with the
 * API server's rules: valid keys and values, `In`/`NotIn` need values, `Exists`/`DoesNotExist` take
 * none, other operators are refused. `null` fields count as absent, as in Kubernetes' JSON decoding.
 *
 * @param basePath path of `input` inside the caller's config, prepended to error paths.
 * @throws {LabelSelectorError} whose `path` points at the offending field.
 */
export function requirementsFromStructured(input: unknown, basePath = ""): Requirement[] {
  if (!isPlainObject(input)) {
    throw new LabelSelectorError(
      basePath,
      `expected a label selector object with matchLabels and/or matchExpressions, got ${describeValue(input)}`,
    );
  }
  for (const key of Object.keys(input)) {
    if (key !== "matchLabels" && key !== "matchExpressions") {
      throw new LabelSelectorError(
        basePath,
        `unknown key ${JSON.stringify(key)} (allowed: matchLabels, matchExpressions)`,
      );
    }
  }
  return [
    ...labelRequirements(input["matchLabels"], childPath(basePath, "matchLabels")),
    ...expressionRequirements(input["matchExpressions"], childPath(basePath, "matchExpressions")),
  ];
}

/** `matchLabels`: each entry an `Equals` requirement. */
function labelRequirements(matchLabels: unknown, labelsPath: string): Requirement[] {
  if (matchLabels === undefined || matchLabels === null) return [];
  if (!isPlainObject(matchLabels)) {
    throw new LabelSelectorError(
      labelsPath,
      `must be a map of label keys to values, got ${describeValue(matchLabels)}`,
    );
  }
  return Object.entries(matchLabels).map(([key, value]) => {
    const path = childPath(labelsPath, key);
    checkKey(key, path);
    return makeRequirement(key, "Equals", [checkValue(value, path)]);
  });
}

/** `matchExpressions`: each entry one requirement. */
function expressionRequirements(matchExpressions: unknown, expressionsPath: string): Requirement[] {
  if (matchExpressions === undefined || matchExpressions === null) return [];
  if (!Array.isArray(matchExpressions)) {
    throw new LabelSelectorError(
      expressionsPath,
      `must be a list of {key, operator, values}, got ${describeValue(matchExpressions)}`,
    );
  }
  return matchExpressions.map((expression: unknown, index) =>
    expressionToRequirement(expression, indexPath(expressionsPath, index)),
  );
}

function checkKey(key: string, path: string): void {
  const problem = labelKeyProblem(key);
  if (problem) throw new LabelSelectorError(path, `invalid label key ${JSON.stringify(key)}: ${problem}`);
}

function checkValue(value: unknown, path: string): string {
  if (typeof value !== "string") throw new LabelSelectorError(path, notAStringProblem(value));
  const problem = labelValueProblem(value);
  if (problem) throw new LabelSelectorError(path, `invalid label value ${JSON.stringify(value)}: ${problem}`);
  return value;
}

/** A required string field of an expression. */
function requiredString(expression: Record<string, unknown>, field: string, path: string): string {
  const value = expression[field];
  if (value === undefined || value === null) throw new LabelSelectorError(path, "is required");
  if (typeof value !== "string") throw new LabelSelectorError(path, notAStringProblem(value));
  return value;
}

function checkOperator(operator: string, path: string): StructuredOperator {
  if ((STRUCTURED_OPERATORS as readonly string[]).includes(operator)) return operator as StructuredOperator;
  const sameIgnoringCase = STRUCTURED_OPERATORS.find((op) => op.toLowerCase() === operator.toLowerCase());
  const hint = sameIgnoringCase ? `; operators are case-sensitive, did you mean "${sameIgnoringCase}"?` : "";
  throw new LabelSelectorError(
    path,
    `unknown operator ${JSON.stringify(operator)}; expected one of ${STRUCTURED_OPERATORS.join(", ")}${hint}`,
  );
}

/** `values`: valid label values, present exactly when the operator takes them. */
function expressionValues(rawValues: unknown, op: StructuredOperator, valuesPath: string): string[] {
  let values: string[] = [];
  if (rawValues !== undefined && rawValues !== null) {
    if (!Array.isArray(rawValues)) {
      throw new LabelSelectorError(valuesPath, `must be a list of strings, got ${describeValue(rawValues)}`);
    }
    values = rawValues.map((value: unknown, index) => checkValue(value, indexPath(valuesPath, index)));
  }
  const takesValues = op === "In" || op === "NotIn";
  if (takesValues && values.length === 0) {
    throw new LabelSelectorError(valuesPath, `must be a non-empty list when operator is ${op}`);
  }
  if (!takesValues && values.length > 0) {
    throw new LabelSelectorError(valuesPath, `must be empty or absent when operator is ${op}`);
  }
  return values;
}

function expressionToRequirement(expression: unknown, path: string): Requirement {
  if (!isPlainObject(expression)) {
    throw new LabelSelectorError(
      path,
      `expected an object with key, operator and values, got ${describeValue(expression)}`,
    );
  }
  for (const field of Object.keys(expression)) {
    if (field !== "key" && field !== "operator" && field !== "values") {
      throw new LabelSelectorError(path, `unknown key ${JSON.stringify(field)} (allowed: key, operator, values)`);
    }
  }
  const keyPath = childPath(path, "key");
  const key = requiredString(expression, "key", keyPath);
  checkKey(key, keyPath);
  const operatorPath = childPath(path, "operator");
  const op = checkOperator(requiredString(expression, "operator", operatorPath), operatorPath);
  return makeRequirement(key, op, expressionValues(expression["values"], op, childPath(path, "values")));
}
