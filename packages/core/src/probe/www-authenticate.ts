// A WWW-Authenticate parser of our own. The npm parsers we looked at read one challenge per header
// (`auth-header`, `http-auth-utils`) or refuse parameters they do not know, such as the `service`
// of a registry's Bearer challenge (`http-auth-utils`). fetch joins repeated WWW-Authenticate
// headers into one string, so several challenges in one value is the normal case here.

/** One challenge: its scheme (lower case) and its parameters (names lower case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const SEPARATORS = /[\s,]*/y;
const SPACES = /[ \t]*/y;
/** `name=value` or `name="quoted, \"escaped\" value"` (a missing closing quote is forgiven). */
const PARAM = new RegExp(`(${TOKEN})[ \\t]*=[ \\t]*(?:"((?:[^"\\\\]|\\\\.)*)"?|([^\\s,]*))`, "y");
const SCHEME = new RegExp(TOKEN, "y");
/** Credentials-like data after a scheme (`Negotiate abc==`): not parameters. */
const TOKEN68 = /[A-Za-z0-9._~+/-]+=*(?=[ \t]*(?:,|$))/y;

interface Cursor {
  readonly text: string;
  at: number;
}

/** Matches `pattern` (sticky) at the cursor and moves past the match. */
function take(pattern: RegExp, cursor: Cursor): RegExpExecArray | null {
  pattern.lastIndex = cursor.at;
  const match = pattern.exec(cursor.text);
  if (match) cursor.at = pattern.lastIndex;
  return match;
}

/**
 * Parses `WWW-Authenticate` (RFC 7235): one or more challenges, each a scheme and `key=value`
 * parameters whose quoted values may hold commas (`scope="repository:a:pull,push"`).
 */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  const challenges: Challenge[] = [];
  if (!header) return challenges;
  const cursor: Cursor = { text: header, at: 0 };
  let current: Challenge | undefined;
  for (take(SEPARATORS, cursor); cursor.at < header.length; take(SEPARATORS, cursor)) {
    const param = current ? take(PARAM, cursor) : null;
    if (current && param) {
      const [, name = "", quoted, plain] = param;
      current.params[name.toLowerCase()] = quoted === undefined ? (plain ?? "") : quoted.replace(/\\(.)/g, "$1");
      continue;
    }
    const scheme = take(SCHEME, cursor);
    if (!scheme) {
      cursor.at++; // not a token character: skip it rather than loop forever
      continue;
    }
    current = { scheme: scheme[0].toLowerCase(), params: {} };
    challenges.push(current);
    take(SPACES, cursor);
    take(TOKEN68, cursor);
  }
  return challenges;
}
