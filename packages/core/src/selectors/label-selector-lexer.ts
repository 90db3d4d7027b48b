// The lexer of the string form, with the Go lexer's character classes and symbols
// (k8s.io/apimachinery/pkg/labels).

export type TokenKind = "end" | "identifier" | "in" | "notin" | "(" | ")" | "," | "!" | "=" | "==" | "!=" | ">" | "<";

export interface Token {
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

export function lex(input: string): Token[] {
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
