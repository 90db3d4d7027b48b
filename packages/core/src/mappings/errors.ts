/**
 * A config error with the path of the offending value, e.g. `mappings[1].targets.selector`.
 *
 * {@link buildMappings} reports every problem it finds at once: it throws one ConfigError whose
 * `problems` lists them all (a single problem is its own list). `path` and `problem` are those of
 * the first problem, so code that reads one error keeps working.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Every problem found, in config order; `[this]` for a single problem. */
  readonly problems: readonly ConfigError[];
  constructor(
    readonly path: string,
    readonly problem: string,
    problems?: readonly ConfigError[],
  ) {
    const several = problems && problems.length > 1 ? problems : undefined;
    super(
      several
        ? `${several.length} problems:\n${several.map((p) => `  ${p.message}`).join("\n")}`
        : path
          ? `${path}: ${problem}`
          : problem,
    );
    this.problems = several ?? [this];
  }

  /** One error for a list of problems: the problem itself when there is only one. */
  static of(problems: readonly ConfigError[]): ConfigError {
    const flat = problems.flatMap((p) => p.problems);
    const [first] = flat;
    if (!first) throw new Error("ConfigError.of needs at least one problem");
    return flat.length === 1 ? first : new ConfigError(first.path, first.problem, flat);
  }
}

/** Levenshtein distance, for "did you mean" hints on short words such as config keys. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The candidate `word` was probably meant to be: a case-insensitive match, else the closest one
 * within an edit distance of 2. Undefined when nothing is close.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const folded = candidates.find((c) => c.toLowerCase() === word.toLowerCase());
  if (folded !== undefined) return folded;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= 2 && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** `; did you mean "x"?` when a candidate is close to `word`, else the empty string. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? "" : `; did you mean "${match}"?`;
}

/**
 * Adds a "did you mean" hint to a plugin's unknown-key message. Plugins word these messages in a
 * few ways (`unknown field (valid: a, b)`, `unknown key; valid keys: a, b`, `unknown key "k"
 * (allowed: a, b)`); the key is the quoted one or else the last segment of `path`.
 */
export function withUnknownKeyHint(path: string, problem: string): string {
  if (problem.includes("did you mean")) return problem;
  const match = /^unknown (?:field|key)(?: "([^"]+)")?.*?\b(?:valid|allowed)(?: keys)?: ([^)]*)\)?$/.exec(problem);
  if (!match) return problem;
  const key = match[1] ?? /([^.[\]]+)$/.exec(path)?.[1];
  if (key === undefined) return problem;
  const candidates = (match[2] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return `${problem}${didYouMean(key, candidates)}`;
}
