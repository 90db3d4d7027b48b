/**
 * "Did you mean" hints for unknown config keys. Core has the same helper for mapping and plugin
 * keys but does not export it; this one serves the app's own schema.
 */

/** Levenshtein distance between two short words. */
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

/** `; did you mean "x"?` for a case-insensitive match or the nearest candidate within 2 edits, else "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let match = candidates.find((c) => c.toLowerCase() === word.toLowerCase());
  let best = 3;
  for (const candidate of match === undefined ? candidates : []) {
    const distance = editDistance(word, candidate);
    if (distance < best) [match, best] = [candidate, distance];
  }
  return match === undefined ? "" : `; did you mean "${match}"?`;
}
