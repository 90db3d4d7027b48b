// What a `.dockerconfigjson` offers the probe: its `auths` entries, the host each one names, the
// credentials in an entry, and every secret in it (to scrub from problems).
import type { DockerConfigJson } from "../credentials/docker-config.js";
import { redactSecrets } from "../util/errors.js";
import { ProbeProblem } from "./problem.js";

/** Docker keeps Docker Hub credentials under its index names; its registry API lives elsewhere. */
const DOCKER_HUB_INDEX_HOSTS = new Set(["index.docker.io", "docker.io"]);
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** `auths` as read from the credential; an entry that is not an object reads as `{}`. */
export type Auths = Record<string, Record<string, unknown>>;

/** What one `auths` entry offers to log in with. */
export interface EntryCredentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/**
 * The API host (`host` or `host:port`, lower case) docker would talk to for an `auths` key: the
 * scheme and any path are dropped (`https://host/v1/` → `host`), and Docker Hub's index names map
 * to its registry API host. Throws a message-only error for keys that cannot name one host.
 */
export function registryApiHost(key: string): string {
  const stripped = key.trim().replace(/^https?:\/\//i, "");
  const host = (stripped.split("/", 1)[0] ?? "").toLowerCase();
  if (host === "") throw new Error("empty registry name");
  // Wildcard keys (kubelet matching) name many hosts; there is no one host to probe.
  if (host.includes("*")) throw new Error("wildcard registry key cannot be probed");
  let parsed: URL;
  try {
    parsed = new URL(`https://${host}/`);
  } catch {
    throw new Error("not a registry host name");
  }
  if (parsed.username || parsed.password || parsed.host !== host.replace(/:443$/, "")) {
    throw new Error("not a registry host name");
  }
  return DOCKER_HUB_INDEX_HOSTS.has(parsed.hostname) && parsed.port === "" ? DOCKER_HUB_API_HOST : host;
}

/** Re-reads `auths` from the validated bytes: {@link DockerConfigJson} keeps only the names. */
export function readAuths(credential: DockerConfigJson): Auths {
  let parsed: unknown;
  try {
    parsed = JSON.parse(credential.bytes.toString("utf8"));
  } catch {
    // The parser's message can quote the input.
    throw new Error("registry probe: the credential is not valid JSON");
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (!isObject(auths)) throw new Error('registry probe: the credential has no "auths" object');
  const out: Auths = {};
  for (const [key, value] of Object.entries(auths)) out[key] = isObject(value) ? value : {};
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function entryCredentials(entry: Record<string, unknown>): EntryCredentials {
  const creds: EntryCredentials = {};
  const auth = text(entry.auth);
  // Like docker: `auth` wins over `username`/`password`; the password may contain colons.
  const decoded = auth === undefined ? undefined : Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded?.indexOf(":") ?? -1;
  const fromAuth = decoded !== undefined && colon >= 0;
  const username = fromAuth ? decoded.slice(0, colon) : text(entry.username);
  const password = fromAuth ? decoded.slice(colon + 1) : text(entry.password);
  if (username !== undefined) creds.username = username;
  if (password !== undefined) creds.password = password;
  const identityToken = text(entry.identitytoken);
  if (identityToken !== undefined) creds.identityToken = identityToken;
  const registryToken = text(entry.registrytoken);
  if (registryToken !== undefined) creds.registryToken = registryToken;
  return creds;
}

/** Every secret string in the credential, to scrub from problems as a last line of defence. */
export function collectSecrets(auths: Auths): string[] {
  const secrets = new Set<string>();
  for (const entry of Object.values(auths)) {
    for (const field of ["auth", "password", "identitytoken", "registrytoken"]) {
      const value = entry[field];
      if (typeof value === "string" && value.length >= 3) secrets.add(value);
    }
    const { password } = entryCredentials(entry);
    if (password !== undefined && password.length >= 3) secrets.add(password);
  }
  // Longest first, so a secret containing another is masked whole.
  return [...secrets].sort((a, b) => b.length - a.length);
}

export function scrub(problem: string, secrets: readonly string[]): string {
  let out = problem;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return redactSecrets(out);
}

/** The entry for `registry`: its own key, or a key that names the same API host. */
export function findEntry(auths: Auths, registry: string): { host: string; entry: Record<string, unknown> } {
  const exact = auths[registry];
  let host: string;
  try {
    host = registryApiHost(registry);
  } catch (err) {
    throw new ProbeProblem((err as Error).message);
  }
  if (exact) return { host, entry: exact };
  // A requested name may spell the registry differently from the key (`https://host/v1/` vs `host`).
  for (const [key, entry] of Object.entries(auths)) {
    try {
      if (registryApiHost(key) === host) return { host, entry };
    } catch {
      /* a key that names no host cannot match */
    }
  }
  throw new ProbeProblem("no entry for this registry in auths");
}
