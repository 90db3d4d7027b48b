/** A Go-style duration with the units Kubernetes tools accept here: "500ms", "30s", "1m30s", "1.5h". */
export const GO_DURATION_PATTERN = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds in a Go-style duration, or `undefined` when `text` is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!GO_DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return total;
}
