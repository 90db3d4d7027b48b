import { labelKeyProblem, labelValueProblem } from "./k8s-names.js";
import { childPath, describeValue, indexPath, isPlainObject, notAStringProblem } from "./validation.js";

// Kubernetes label selectors, in both forms users know:
// - the string form of `kubectl -l` and the `labelSelector` query parameter, parsed exactly as
//   k8s.io/apimachinery/pkg/labels.Parse does (same tokens, same quirks, same validation);
// - the structured `metav1.LabelSelector` form (`matchLabels` / `matchExpressions`), validated as
//   the API server validates it.
// Both compile to one list of requirements, ANDed. Everything here is pure.

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
 * Operator of a compiled requirement. `==` compiles to `Equals` (they mean the same). `GreaterThan`
 * and `LessThan` exist only in the string form (`a>1`, `a<1`), as in Kubernetes.
 */
export type RequirementOperator =
  | "Equals"
  | "NotEquals"
  | "In"
  | "NotIn"
  | "Exists"
  | "DoesNotExist"
  | "GreaterThan"
  | "LessThan";

/** One validated condition on one label. `values` is sorted and free of duplicates. */
export interface Requirement {
  readonly key: string;
  readonly operator: RequirementOperator;
  readonly values: readonly string[];
}

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

// ---------------------------------------------------------------------------------------------
// String form: lexer
// ---------------------------------------------------------------------------------------------

type TokenKind =
  | "end"
  | "identifier"
  | "in"
  | "notin"
  | "("
  | ")"
  | ","
  | "!"
  | "="
  | "=="
  | "!="
  | ">"
  | "<";

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** Index of the token's first character in the input. */
  readonly pos: number;
}

// Same character classes as the Go lexer. Any other character (including non-ASCII and NUL) is part
// of an identifier and then fails key/value validation. Go stops lexing at a NUL byte and silently
// ignores the rest of the input; we refuse it instead, which only ever rejects garbage.
const SPECIAL_CHARS = new Set(["=", "!", "(", ")", ",", ">", "<"]);
const WHITESPACE = new Set([" ", "\t", "\r", "\n"]);
const SYMBOLS = new Map<string, TokenKind>([
  ["(", "("],
  [")", ")"],
  [",", ","],
  ["!", "!"],
  ["=", "="],
  ["==", "=="],
  ["!=", "!="],
  [">", ">"],
  ["<", "<"],
]);

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < input.length && WHITESPACE.has(input.charAt(i))) i++;
    if (i >= input.length) {
      tokens.push({ kind: "end", text: "", pos: input.length });
      return tokens;
    }
    const start = i;
    if (SPECIAL_CHARS.has(input.charAt(i))) {
      // Longest run of special characters that still forms a symbol, as Go's scanSpecialSymbol: `!=`
      // and `==` are one token, `=!` is `=` then `!`. Every single special character is a symbol,
      // so this always yields a token.
      let end = i;
      let buffer = "";
      while (i < input.length && SPECIAL_CHARS.has(input.charAt(i))) {
        buffer += input.charAt(i);
        i++;
        if (SYMBOLS.has(buffer)) end = i;
        else break;
      }
      const text = input.slice(start, end);
      tokens.push({ kind: SYMBOLS.get(text) ?? "identifier", text, pos: start });
      i = end;
      continue;
    }
    while (i < input.length && !SPECIAL_CHARS.has(input.charAt(i)) && !WHITESPACE.has(input.charAt(i))) i++;
    const text = input.slice(start, i);
    const kind: TokenKind = text === "in" ? "in" : text === "notin" ? "notin" : "identifier";
    tokens.push({ kind, text, pos: start });
  }
}

// ---------------------------------------------------------------------------------------------
// String form: parser, a port of the Go recursive-descent parser
// ---------------------------------------------------------------------------------------------

/**
 * Go's parser reads `in`/`notin` as keywords only where an operator may stand; everywhere else they
 * are plain identifiers, so `in in (in)` is a valid selector on a label named `in`.
 */
type Context = "keyAndOperator" | "values";

interface PositionedValue {
  readonly value: string;
  readonly pos: number;
}

function describeToken(token: Token): string {
  return token.kind === "end" ? "end of string" : JSON.stringify(token.text);
}

function unexpected(token: Token, expected: string): LabelSelectorError {
  return new LabelSelectorError("", `expected ${expected} at position ${token.pos}, found ${describeToken(token)}`, token.pos);
}

const OPERATOR_TOKENS: Partial<Record<TokenKind, RequirementOperator>> = {
  in: "In",
  notin: "NotIn",
  "=": "Equals",
  "==": "Equals",
  "!=": "NotEquals",
  ">": "GreaterThan",
  "<": "LessThan",
};

class Parser {
  readonly #tokens: Token[];
  #index = 0;

  constructor(input: string) {
    this.#tokens = lex(input);
  }

  #kind(token: Token, context: Context): TokenKind {
    if (context === "values" && (token.kind === "in" || token.kind === "notin")) return "identifier";
    return token.kind;
  }

  #peek(): Token {
    // The token list always ends with `end` and the parser never consumes past it.
    return this.#tokens[Math.min(this.#index, this.#tokens.length - 1)] as Token;
  }

  #peekKind(context: Context): TokenKind {
    return this.#kind(this.#peek(), context);
  }

  #next(): Token {
    const token = this.#peek();
    if (token.kind !== "end") this.#index++;
    return token;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const kind = this.#peekKind("values");
      if (kind === "end") return requirements;
      if (kind !== "identifier" && kind !== "!") throw unexpected(this.#peek(), `a label key or "!"`);
      requirements.push(this.#parseRequirement());
      const after = this.#next();
      if (after.kind === "end") return requirements;
      if (after.kind !== ",") throw unexpected(after, `"," or end of string`);
      const nextKind = this.#peekKind("values");
      if (nextKind !== "identifier" && nextKind !== "!") throw unexpected(this.#peek(), `a label key or "!" after ","`);
    }
  }

  #parseRequirement(): Requirement {
    let negated = false;
    let keyToken = this.#next();
    if (keyToken.kind === "!") {
      negated = true;
      keyToken = this.#next();
    }
    if (this.#kind(keyToken, "values") !== "identifier") throw unexpected(keyToken, "a label key");
    const key = keyToken.text;
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) {
      throw new LabelSelectorError("", `invalid label key ${JSON.stringify(key)} at position ${keyToken.pos}: ${keyProblem}`, keyToken.pos);
    }

    const following = this.#peekKind("values");
    if (negated) {
      // Go accepts `!key` here and then fails on whatever follows; we say why.
      if (following !== "end" && following !== ",") {
        throw unexpected(this.#peek(), `"," or end of string after "!${key}" (a does-not-exist requirement takes no operator or value)`);
      }
      return makeRequirement(key, "DoesNotExist", []);
    }
    if (following === "end" || following === ",") return makeRequirement(key, "Exists", []);

    const operatorToken = this.#next();
    const operator = OPERATOR_TOKENS[this.#kind(operatorToken, "keyAndOperator")];
    if (!operator) {
      throw unexpected(operatorToken, `an operator (=, ==, !=, in, notin, >, <), "," or end of string after label key ${JSON.stringify(key)}`);
    }
    const values = operator === "In" || operator === "NotIn" ? this.#parseValueSet(operatorToken) : this.#parseExactValue(operatorToken);

    if (operator === "GreaterThan" || operator === "LessThan") {
      // Exactly one value, by construction of #parseExactValue.
      const { value, pos } = values[0] as PositionedValue;
      if (parseInt64(value) === undefined) {
        throw new LabelSelectorError(
          "",
          `value ${JSON.stringify(value)} for label key ${JSON.stringify(key)} at position ${pos} must be an integer for the "${operatorToken.text}" operator`,
          pos,
        );
      }
    }
    for (const { value, pos } of values) {
      const problem = labelValueProblem(value);
      if (problem) {
        throw new LabelSelectorError(
          "",
          `invalid label value ${JSON.stringify(value)} for key ${JSON.stringify(key)} at position ${pos}: ${problem}`,
          pos,
        );
      }
    }
    return makeRequirement(
      key,
      operator,
      values.map((v) => v.value),
    );
  }

  /** `( values )` after `in`/`notin`. `()` means the single empty value, as in Kubernetes. */
  #parseValueSet(operatorToken: Token): PositionedValue[] {
    const open = this.#next();
    if (open.kind !== "(") throw unexpected(open, `"(" after "${operatorToken.text}"`);
    const kind = this.#peekKind("values");
    if (kind === "identifier" || kind === ",") {
      const values = this.#parseValueList();
      const close = this.#next();
      if (close.kind !== ")") throw unexpected(close, `")"`);
      return values;
    }
    if (kind === ")") {
      const close = this.#next();
      return [{ value: "", pos: close.pos }];
    }
    throw unexpected(this.#peek(), `a value, "," or ")"`);
  }

  /**
   * A comma-separated list of possibly empty values, stopping before `)`. Mirrors Go's
   * parseIdentifiersList: `(,a)`, `(a,)`, `(a,,b)` and `(,,)` all hold the empty value.
   */
  #parseValueList(): PositionedValue[] {
    const values: PositionedValue[] = [];
    const add = (value: string, pos: number) => {
      if (!values.some((v) => v.value === value)) values.push({ value, pos });
    };
    for (;;) {
      const token = this.#next();
      const kind = this.#kind(token, "values");
      if (kind === "identifier") {
        add(token.text, token.pos);
        const after = this.#peekKind("values");
        if (after === ",") continue;
        if (after === ")") return values;
        throw unexpected(this.#peek(), `"," or ")"`);
      }
      if (kind === ",") {
        if (values.length === 0) add("", token.pos);
        const after = this.#peek();
        const afterKind = this.#kind(after, "values");
        if (afterKind === ")") {
          add("", after.pos);
          return values;
        }
        // `,,`: the empty value between them. The second comma is left for the next round.
        if (afterKind === ",") add("", after.pos);
        continue;
      }
      throw unexpected(token, `a value or ","`);
    }
  }

  /** The single value after `=`, `==`, `!=`, `>` or `<`; empty when the requirement ends right there. */
  #parseExactValue(operatorToken: Token): PositionedValue[] {
    const kind = this.#peekKind("values");
    if (kind === "end" || kind === ",") return [{ value: "", pos: this.#peek().pos }];
    const token = this.#next();
    if (this.#kind(token, "values") === "identifier") return [{ value: token.text, pos: token.pos }];
    throw unexpected(token, `a value after "${operatorToken.text}"`);
  }
}

/**
 * Parses the string form (`a=b,c in (x,y),!d`) into requirements, exactly as Kubernetes accepts it.
 * The empty (or all-whitespace) string yields no requirement: it matches everything.
 *
 * @throws {LabelSelectorError} with the 0-based `position` of the offending token.
 */
export function parseLabelSelector(input: string): Requirement[] {
  if (typeof input !== "string") {
    throw new LabelSelectorError("", `expected a label selector string, got ${describeValue(input)}`);
  }
  return new Parser(input).parse();
}

// ---------------------------------------------------------------------------------------------
// Structured form
// ---------------------------------------------------------------------------------------------

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
      throw new LabelSelectorError(basePath, `unknown key ${JSON.stringify(key)} (allowed: matchLabels, matchExpressions)`);
    }
  }
  const requirements: Requirement[] = [];

  const matchLabels = input["matchLabels"];
  const labelsPath = childPath(basePath, "matchLabels");
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isPlainObject(matchLabels)) {
      throw new LabelSelectorError(labelsPath, `must be a map of label keys to values, got ${describeValue(matchLabels)}`);
    }
    for (const [key, value] of Object.entries(matchLabels)) {
      const path = childPath(labelsPath, key);
      const keyProblem = labelKeyProblem(key);
      if (keyProblem) throw new LabelSelectorError(path, `invalid label key ${JSON.stringify(key)}: ${keyProblem}`);
      if (typeof value !== "string") throw new LabelSelectorError(path, notAStringProblem(value));
      const valueProblem = labelValueProblem(value);
      if (valueProblem) throw new LabelSelectorError(path, `invalid label value ${JSON.stringify(value)}: ${valueProblem}`);
      requirements.push(makeRequirement(key, "Equals", [value]));
    }
  }

  const matchExpressions = input["matchExpressions"];
  const expressionsPath = childPath(basePath, "matchExpressions");
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) {
      throw new LabelSelectorError(expressionsPath, `must be a list of {key, operator, values}, got ${describeValue(matchExpressions)}`);
    }
    matchExpressions.forEach((expression: unknown, index) => {
      requirements.push(expressionToRequirement(expression, indexPath(expressionsPath, index)));
    });
  }
  return requirements;
}

function expressionToRequirement(expression: unknown, path: string): Requirement {
  if (!isPlainObject(expression)) {
    throw new LabelSelectorError(path, `expected an object with key, operator and values, got ${describeValue(expression)}`);
  }
  for (const field of Object.keys(expression)) {
    if (field !== "key" && field !== "operator" && field !== "values") {
      throw new LabelSelectorError(path, `unknown key ${JSON.stringify(field)} (allowed: key, operator, values)`);
    }
  }

  const keyPath = childPath(path, "key");
  const key = expression["key"];
  if (key === undefined || key === null) throw new LabelSelectorError(keyPath, "is required");
  if (typeof key !== "string") throw new LabelSelectorError(keyPath, notAStringProblem(key));
  const keyProblem = labelKeyProblem(key);
  if (keyProblem) throw new LabelSelectorError(keyPath, `invalid label key ${JSON.stringify(key)}: ${keyProblem}`);

  const operatorPath = childPath(path, "operator");
  const operator = expression["operator"];
  if (operator === undefined || operator === null) throw new LabelSelectorError(operatorPath, "is required");
  if (typeof operator !== "string") throw new LabelSelectorError(operatorPath, notAStringProblem(operator));
  if (!(STRUCTURED_OPERATORS as readonly string[]).includes(operator)) {
    const sameIgnoringCase = STRUCTURED_OPERATORS.find((op) => op.toLowerCase() === operator.toLowerCase());
    const hint = sameIgnoringCase ? `; operators are case-sensitive, did you mean "${sameIgnoringCase}"?` : "";
    throw new LabelSelectorError(
      operatorPath,
      `unknown operator ${JSON.stringify(operator)}; expected one of ${STRUCTURED_OPERATORS.join(", ")}${hint}`,
    );
  }
  const op = operator as StructuredOperator;

  const valuesPath = childPath(path, "values");
  const rawValues = expression["values"];
  const values: string[] = [];
  if (rawValues !== undefined && rawValues !== null) {
    if (!Array.isArray(rawValues)) {
      throw new LabelSelectorError(valuesPath, `must be a list of strings, got ${describeValue(rawValues)}`);
    }
    rawValues.forEach((value: unknown, index) => {
      const valuePath = indexPath(valuesPath, index);
      if (typeof value !== "string") throw new LabelSelectorError(valuePath, notAStringProblem(value));
      const problem = labelValueProblem(value);
      if (problem) throw new LabelSelectorError(valuePath, `invalid label value ${JSON.stringify(value)}: ${problem}`);
      values.push(value);
    });
  }
  if ((op === "In" || op === "NotIn") && values.length === 0) {
    throw new LabelSelectorError(valuesPath, `must be a non-empty list when operator is ${op}`);
  }
  if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) {
    throw new LabelSelectorError(valuesPath, `must be empty or absent when operator is ${op}`);
  }
  return makeRequirement(key, op, values);
}

// ---------------------------------------------------------------------------------------------
// Requirements: construction, matching, formatting
// ---------------------------------------------------------------------------------------------

/** Compares by UTF-16 code units, like Go's byte-wise sort for the ASCII that labels are made of. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function makeRequirement(key: string, operator: RequirementOperator, values: readonly string[]): Requirement {
  const unique = [...new Set(values)].sort(compareStrings);
  return Object.freeze({ key, operator, values: Object.freeze(unique) });
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, within int64; else undefined. */
function parseInt64(text: string): bigint | undefined {
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
    case "LessThan": {
      if (value === undefined) return false;
      const actual = parseInt64(value);
      const bound = parseInt64(requirement.values[0] ?? "");
      if (actual === undefined || bound === undefined) return false;
      return requirement.operator === "GreaterThan" ? actual > bound : actual < bound;
    }
  }
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

class CompiledSelector implements CompiledLabelSelector {
  readonly requirements: readonly Requirement[];
  readonly isEmpty: boolean;
  readonly #text: string;

  constructor(requirements: readonly Requirement[]) {
    // Canonical order: by key (as Kubernetes sorts), then by text so that two requirements on one
    // key always print the same way; identical requirements collapse since AND is idempotent.
    const byText = new Map<string, Requirement>();
    for (const requirement of requirements) byText.set(formatRequirement(requirement), requirement);
    const sorted = [...byText].sort(([textA, a], [textB, b]) => compareStrings(a.key, b.key) || compareStrings(textA, textB));
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
