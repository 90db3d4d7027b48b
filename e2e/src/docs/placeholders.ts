// Fills the placeholders a doc leaves for the reader (`--docker-password=…`) so its commands can
// run, and refuses any placeholder it does not know: an unknown one is a doc the reader cannot run
// either.

export interface Fill {
  pattern: RegExp;
  replacement: string;
  what: string;
}

/**
 * Placeholders with a known meaning. `$DOCTEST_PASSWORD` is set by the runner to a fresh test
 * credential that the suite's leak check looks for in Events and logs.
 */
export const FILLS: readonly Fill[] = [
  { pattern: /(--docker-password[= ])…/g, replacement: '$1"$DOCTEST_PASSWORD"', what: "registry password" },
  { pattern: /(--docker-username[= ])…/g, replacement: "$1robot", what: "registry user" },
  { pattern: /(--docker-server[= ])…/g, replacement: "$1registry.example.com", what: "registry host" },
];

export class PlaceholderError extends Error {}

/** Returns `command` with every known placeholder filled; throws on any `…` left over. */
export function fillPlaceholders(command: string): string {
  let out = command;
  for (const f of FILLS) out = out.replace(f.pattern, f.replacement);
  const left = out.split("\n").find((l) => l.includes("…"));
  if (left !== undefined) throw new PlaceholderError(`unfilled placeholder "…" in: ${left.trim()}`);
  return out;
}
