// Readers for the fields of an untyped AdmissionReview. Each throws a ReviewFieldError naming the
// field; problems describe a value by its type only, so no data of the request ends up in an error.
// Nothing here imports the Kubernetes client (util/errors does), so the webhook stays light to load.

/** A field of an AdmissionReview that is missing or has the wrong shape. */
export class ReviewFieldError extends Error {
  override readonly name = "ReviewFieldError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A JSON object as read from the body. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** `null`, `array`, `object`, `string`, ...: what a value is, never what it holds. */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  return Array.isArray(value) ? "array" : typeof value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A required object. */
export function readObject(value: unknown, path: string): JsonObject {
  if (value === undefined) throw new ReviewFieldError(path, "missing");
  if (!isObject(value)) throw new ReviewFieldError(path, `expected an object, got ${typeName(value)}`);
  return value;
}

/** A required string; empty only when `allowEmpty`. */
export function readString(value: unknown, path: string, allowEmpty = false): string {
  if (value === undefined) throw new ReviewFieldError(path, "missing");
  if (typeof value !== "string") throw new ReviewFieldError(path, `expected a string, got ${typeName(value)}`);
  if (!allowEmpty && value === "") throw new ReviewFieldError(path, "must not be empty");
  return value;
}

/** An optional string: absent or `null` read as `""`. */
export function readOptionalString(value: unknown, path: string): string {
  return value === undefined || value === null ? "" : readString(value, path, true);
}

/** An optional boolean: absent or `null` read as `false`. */
export function readOptionalBoolean(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new ReviewFieldError(path, `expected a boolean, got ${typeName(value)}`);
  return value;
}

/**
 * A string that must be one of `allowed`. These are protocol words (`apiVersion`, `operation`),
 * never request data, so the problem quotes what was sent (its first 64 characters).
 */
export function readOneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  const text = readString(value, path, true);
  if ((allowed as readonly string[]).includes(text)) return text as T;
  const expected = allowed.length === 1 ? JSON.stringify(allowed[0]) : `one of ${allowed.join(", ")}`;
  throw new ReviewFieldError(path, `expected ${expected}, got ${JSON.stringify(text.slice(0, 64))}`);
}

/** An optional array of objects (absent or `null` read as undefined), each checked by `read`. */
export function readOptionalArray<T>(
  value: unknown,
  path: string,
  read: (item: JsonObject, itemPath: string) => T,
): T[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ReviewFieldError(path, `expected an array, got ${typeName(value)}`);
  return value.map((item: unknown, index) => read(readObject(item, `${path}[${index}]`), `${path}[${index}]`));
}
