import { createHash } from "node:crypto";

/** The Kubernetes API rejects a Secret whose data exceeds 1 MiB. */
export const MAX_SECRET_BYTES = 1024 * 1024;

/** A validated `.dockerconfigjson` value. Never log `bytes`. */
export interface DockerConfigJson {
  /** The exact bytes to store under the `.dockerconfigjson` key. */
  readonly bytes: Buffer;
  /** `sha256:<hex>` of `bytes`; safe to log and to store in annotations. */
  readonly hash: string;
  /** Registry hosts listed under `auths`, for logs and status (no credentials). */
  readonly registries: readonly string[];
}

/** Why a candidate credential was rejected. The message names the problem, never the secret bytes. */
export class InvalidCredentialError extends Error {
  override readonly name = "InvalidCredentialError";
  constructor(
    readonly origin: string,
    readonly reason: string,
  ) {
    super(`${origin}: invalid .dockerconfigjson: ${reason}`);
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Checks that `raw` is a usable `.dockerconfigjson`: JSON, an object with a non-empty `auths` map,
 * each entry an object whose optional `auth` is base64 of `user:password`. `origin` names where the
 * value came from and is used in error messages.
 */
export function parseDockerConfigJson(raw: Uint8Array | string | undefined, origin: string): DockerConfigJson {
  if (raw === undefined) throw new InvalidCredentialError(origin, "no value");
  const bytes = typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw);
  if (bytes.length === 0) throw new InvalidCredentialError(origin, "empty value");
  if (bytes.length > MAX_SECRET_BYTES) {
    throw new InvalidCredentialError(origin, `${bytes.length} bytes is larger than the 1 MiB Secret limit`);
  }
  const auths = readAuths(bytes, origin);
  const registries = Object.keys(auths);
  if (registries.length === 0) throw new InvalidCredentialError(origin, '"auths" has no registry');
  for (const registry of registries) {
    const problem = entryProblem(auths[registry]);
    if (problem) throw new InvalidCredentialError(origin, `auths["${registry}"]${problem}`);
  }
  return { bytes, hash: sha256(bytes), registries };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `auths` map of a JSON document. */
function readAuths(bytes: Buffer, origin: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    // The JSON parser's message can quote the input; keep it out.
    throw new InvalidCredentialError(origin, "not valid JSON");
  }
  if (!isObject(parsed)) throw new InvalidCredentialError(origin, "expected a JSON object");
  if (!isObject(parsed.auths)) throw new InvalidCredentialError(origin, 'missing the "auths" object');
  return parsed.auths;
}

/** What is wrong with one `auths` entry, as a suffix to its name; undefined when nothing is. */
function entryProblem(entry: unknown): string | undefined {
  if (!isObject(entry)) return " is not an object";
  const auth = entry.auth;
  if (auth === undefined) return undefined;
  if (typeof auth !== "string" || !BASE64.test(auth) || auth.length % 4 !== 0) return ".auth is not base64";
  if (!Buffer.from(auth, "base64").toString("utf8").includes(":")) return ".auth does not decode to user:password";
  return undefined;
}
