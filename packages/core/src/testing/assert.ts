/** A broken rule of a plugin contract. The message says which rule and what was seen, never secret values. */
export class ContractViolation extends Error {
  override readonly name = "ContractViolation";
}

export function violation(message: string): never {
  throw new ContractViolation(message);
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) violation(typeof message === "function" ? message() : message);
}

/** Short, printable form of a value for messages (strings clipped, objects as JSON). */
export function show(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value.length > 80 ? `${value.slice(0, 79)}…` : value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  try {
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 119)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/** A deep copy of plain data (views, configs). */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Deep equality of plain data, order of object keys ignored. */
export function sameData(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
      );
    }
    return v;
  });
}

/** Runs `body` with `Date.now` shifted by `offsetMs` and `Math.random` answering `random`. */
export function withFrozenClockAndRandom<T>(offsetMs: number, random: number, body: () => T): T {
  const realNow = Date.now;
  const realRandom = Math.random;
  Date.now = () => realNow() + offsetMs;
  Math.random = () => random;
  try {
    return body();
  } finally {
    Date.now = realNow;
    Math.random = realRandom;
  }
}
