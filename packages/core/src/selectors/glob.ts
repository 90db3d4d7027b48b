import { DNS1123_LABEL_MAX_LENGTH, dns1123LabelProblem } from "./k8s-names.js";

// Namespace-name globs: `*` matches any run of characters (also none), `?` exactly one, everything
// else only itself. Matching is done by hand rather than by building a RegExp, so a pattern can never
// smuggle regex syntax (`.`, `+`, `(`, `[`...) in, and there is nothing to escape or to backtrack
// catastrophically: the matcher is O(pattern × name) in the worst case.

/** A compiled glob. */
export interface Glob {
  /** The pattern as written. */
  readonly pattern: string;
  /** True when the pattern has no wildcard and so matches only itself. */
  readonly isLiteral: boolean;
  /** Whether the whole of `name` matches the pattern (globs are anchored at both ends). */
  matches(name: string): boolean;
}

/** Whether `pattern` contains a `*` or `?` wildcard. */
export function hasWildcards(pattern: string): boolean {
  return pattern.includes("*") || pattern.includes("?");
}

/** Anchored wildcard match with single-star backtracking; works on code points, not UTF-16 units. */
function wildcardMatch(pattern: readonly string[], name: readonly string[]): boolean {
  let p = 0;
  let n = 0;
  let starP = -1; // index of the last `*` seen in the pattern
  let starN = 0; // position in `name` that star currently stands for up to
  while (n < name.length) {
    const pc = pattern[p];
    if (pc !== undefined && pc !== "*" && (pc === "?" || pc === name[n])) {
      p++;
      n++;
    } else if (pc === "*") {
      starP = p;
      starN = n;
      p++;
    } else if (starP >= 0) {
      // Let the last star swallow one more character and retry from just after it.
      p = starP + 1;
      starN++;
      n = starN;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/** Compiles `pattern`. Any string is accepted; see {@link namespacePatternProblem} to validate one. */
export function compileGlob(pattern: string): Glob {
  const isLiteral = !hasWildcards(pattern);
  const chars = Array.from(pattern);
  return Object.freeze({
    pattern,
    isLiteral,
    matches: isLiteral ? (name: string) => name === pattern : (name: string) => wildcardMatch(chars, Array.from(name)),
  });
}

/** One-shot {@link compileGlob}`(pattern).matches(name)`. */
export function globMatches(pattern: string, name: string): boolean {
  return compileGlob(pattern).matches(name);
}

const NAMESPACE_GLOB_CHARS = /^[-a-z0-9*?]+$/;

/**
 * Why `pattern` cannot name namespaces, or undefined. A pattern without wildcards must be a valid
 * namespace name (DNS-1123 label); one with wildcards may only use what namespace names use plus
 * `*` and `?`. Refusing `Kube-System` or `kube_*` up front beats a pattern that silently never matches.
 */
export function namespacePatternProblem(pattern: string): string | undefined {
  if (!hasWildcards(pattern)) {
    const problem = dns1123LabelProblem(pattern);
    return problem ? `${JSON.stringify(pattern)} is not a valid namespace name: ${problem}` : undefined;
  }
  if (!NAMESPACE_GLOB_CHARS.test(pattern)) {
    return `${JSON.stringify(pattern)} is not a valid namespace glob: only lower case alphanumeric characters, '-', '*' and '?' are allowed`;
  }
  const shortestMatch = pattern.replaceAll("*", "").length;
  if (shortestMatch > DNS1123_LABEL_MAX_LENGTH) {
    return `${JSON.stringify(pattern)} can never match: it needs ${shortestMatch} characters and namespace names have at most ${DNS1123_LABEL_MAX_LENGTH}`;
  }
  return undefined;
}
