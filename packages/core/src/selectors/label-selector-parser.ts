// The string form (`a=b,c in (x,y),!d`), a port of Go's recursive-descent parser in
// k8s.io/apimachinery/pkg/labels: same tokens, same quirks, same validation.
import { labelKeyProblem, labelValueProblem } from "./k8s-names.js";
import {
  LabelSelectorError,
  makeRequirement,
  parseInt64,
  type Requirement,
  type RequirementOperator,
} from "./label-requirement.js";
import { lex, type Token, type TokenKind } from "./label-selector-lexer.js";
import { describeValue } from "./validation.js";

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
  return new LabelSelectorError(
    "",
    `expected ${expected} at position ${token.pos}, found ${describeToken(token)}`,
    token.pos,
  );
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

/** Values must be valid label values, and a number for `>` and `<`. */
function checkValues(
  key: string,
  operator: RequirementOperator,
  operatorToken: Token,
  values: readonly PositionedValue[],
): void {
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
}

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
      throw new LabelSelectorError(
        "",
        `invalid label key ${JSON.stringify(key)} at position ${keyToken.pos}: ${keyProblem}`,
        keyToken.pos,
      );
    }

    const following = this.#peekKind("values");
    if (negated) {
      // Go accepts `!key` here and then fails on whatever follows; we say why.
      if (following !== "end" && following !== ",") {
        throw unexpected(
          this.#peek(),
          `"," or end of string after "!${key}" (a does-not-exist requirement takes no operator or value)`,
        );
      }
      return makeRequirement(key, "DoesNotExist", []);
    }
    if (following === "end" || following === ",") return makeRequirement(key, "Exists", []);

    const operatorToken = this.#next();
    const operator = OPERATOR_TOKENS[this.#kind(operatorToken, "keyAndOperator")];
    if (!operator) {
      throw unexpected(
        operatorToken,
        `an operator (=, ==, !=, in, notin, >, <), "," or end of string after label key ${JSON.stringify(key)}`,
      );
    }
    const values =
      operator === "In" || operator === "NotIn"
        ? this.#parseValueSet(operatorToken)
        : this.#parseExactValue(operatorToken);
    checkValues(key, operator, operatorToken, values);
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
