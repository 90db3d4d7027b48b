// Registry login probe: before a new credential fans out to every namespace, check that it logs in
// to the registries it names, the way `docker login` does (GET /v2/, Basic or the Bearer token flow).
// Opt-in: it makes network calls the rest of the controller does not need.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import { redactSecrets } from "../util/errors.js";
import type { DockerConfigJson } from "../credentials/docker-config.js";

/** Per-registry time budget, covering the token exchange and the retry. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;
/** `/v2/` and token answers are tiny; anything bigger is not worth reading. */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const USER_AGENT = "imagepullsecret-patcher-registry-probe";

/** Docker keeps Docker Hub credentials under its index names; its registry API lives elsewhere. */
const DOCKER_HUB_INDEX_HOSTS = new Set(["index.docker.io", "docker.io"]);
const DOCKER_HUB_API_HOST = "registry-1.docker.io";

/** The outcome for one registry. `problem` names what went wrong and never holds credential data. */
export interface RegistryProbeEntry {
  /** The registry as named in `auths` (or in {@link RegistryProbeOptions.registries}). */
  registry: string;
  ok: boolean;
  /** The last HTTP status seen (the token endpoint's when the token exchange failed). */
  status?: number;
  problem?: string;
}

/** The outcome of {@link probeRegistryLogin}: `ok` when every probed registry accepted the credential (false when none was probed). */
export interface ProbeResult {
  ok: boolean;
  results: RegistryProbeEntry[];
}

/** The part of a fetch response the probe reads. Global `fetch`'s `Response` fits. */
export interface ProbeFetchResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The request the probe makes. Redirects come back as 3xx: the probe follows them itself. */
export interface ProbeFetchInit {
  /** GET, or POST for the identity-token exchange (then with a form `body`). */
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  redirect: "manual";
}

/** A fetch function. Global `fetch` fits; the default is `node:http(s)`, which also takes {@link RegistryProbeOptions.ca}. */
export type ProbeFetch = (url: string, init: ProbeFetchInit) => Promise<ProbeFetchResponse>;

/** Settings of {@link probeRegistryLogin}. */
export interface RegistryProbeOptions {
  /**
   * Registries to probe, as `auths` keys or as hosts (`host`, `host:port`, `https://host/v1/`).
   * Default: every key in `auths`. A name with no matching entry is reported as not ok.
   */
  registries?: readonly string[];
  /** Milliseconds allowed per registry, token exchange included (default {@link DEFAULT_PROBE_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Extra PEM CA certificate(s) to trust besides the system roots (private registries). Ignored with `fetchImpl`. */
  ca?: string | Buffer;
  /** Talk plain http to the registries and token realms. For tests only: it sends passwords in clear. */
  insecureHttp?: boolean;
  /** Replaces the built-in `node:http(s)` client (tests, proxies). */
  fetchImpl?: ProbeFetch;
  /** Cancels every probe still running. */
  signal?: AbortSignal;
}

/** What one `auths` entry offers to log in with. */
interface EntryCredentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** A per-registry outcome, thrown from deep inside a probe to end it. */
class ProbeProblem extends Error {
  constructor(
    readonly problem: string,
    readonly status?: number,
  ) {
    super(problem);
  }
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

/**
 * Checks that `credential` logs in to its registries: `GET https://<registry>/v2/` with HTTP Basic
 * (from `auth`, or `username`/`password`); on a `401` with a `Bearer` challenge, a token from the
 * challenge's realm (Basic auth, or the `identitytoken` as an OAuth refresh token) and a retry with
 * it. `200` is ok; `401`/`403` is "credentials rejected"; a network failure names its error code.
 * Registries are probed in parallel. Never throws for a registry's failure, and nothing in the
 * result holds a password, an `auth` value or a token.
 */
export async function probeRegistryLogin(credential: DockerConfigJson, options: RegistryProbeOptions = {}): Promise<ProbeResult> {
  const auths = readAuths(credential);
  const secrets = collectSecrets(auths);
  const fetchImpl = options.fetchImpl ?? nodeFetch(options.ca);
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const wanted = options.registries ?? Object.keys(auths);

  const results = await Promise.all(
    wanted.map(async (registry): Promise<RegistryProbeEntry> => {
      const signal = options.signal
        ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      try {
        const { host, entry } = findEntry(auths, registry);
        const status = await probeOne(host, entry, { fetchImpl, signal, insecureHttp: options.insecureHttp === true, secrets });
        return { registry, ok: true, status };
      } catch (err) {
        const { problem, status } = describeFailure(err, signal, timeoutMs);
        const result: RegistryProbeEntry = { registry, ok: false, problem: scrub(problem, secrets) };
        if (status !== undefined) result.status = status;
        return result;
      }
    }),
  );
  return { ok: results.length > 0 && results.every((r) => r.ok), results };
}

/** Re-reads `auths` from the validated bytes: {@link DockerConfigJson} keeps only the names. */
function readAuths(credential: DockerConfigJson): Record<string, Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(credential.bytes.toString("utf8"));
  } catch {
    // The parser's message can quote the input.
    throw new Error("registry probe: the credential is not valid JSON");
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    throw new Error('registry probe: the credential has no "auths" object');
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    out[key] = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  }
  return out;
}

function entryCredentials(entry: Record<string, unknown>): EntryCredentials {
  const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
  const creds: EntryCredentials = {};
  const auth = text(entry.auth);
  // Like docker: `auth` wins over `username`/`password`; the password may contain colons.
  const decoded = auth === undefined ? undefined : Buffer.from(auth, "base64").toString("utf8");
  const colon = decoded?.indexOf(":") ?? -1;
  const username = decoded !== undefined && colon >= 0 ? decoded.slice(0, colon) : text(entry.username);
  const password = decoded !== undefined && colon >= 0 ? decoded.slice(colon + 1) : text(entry.password);
  if (username !== undefined) creds.username = username;
  if (password !== undefined) creds.password = password;
  const identityToken = text(entry.identitytoken);
  if (identityToken !== undefined) creds.identityToken = identityToken;
  const registryToken = text(entry.registrytoken);
  if (registryToken !== undefined) creds.registryToken = registryToken;
  return creds;
}

/** Every secret string in the credential, to scrub from problems as a last line of defence. */
function collectSecrets(auths: Record<string, Record<string, unknown>>): string[] {
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

function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("[redacted]");
  return redactSecrets(out);
}

function findEntry(
  auths: Record<string, Record<string, unknown>>,
  registry: string,
): { host: string; entry: Record<string, unknown> } {
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

interface ProbeContext {
  fetchImpl: ProbeFetch;
  signal: AbortSignal;
  insecureHttp: boolean;
  /** Secrets to scrub from problems; tokens are added as they arrive. */
  secrets: string[];
}

/** Logs in to one registry; returns the final status (2xx) or throws a {@link ProbeProblem}. */
async function probeOne(host: string, entry: Record<string, unknown>, ctx: ProbeContext): Promise<number> {
  const creds = entryCredentials(entry);
  const basic =
    creds.username !== undefined && creds.password !== undefined
      ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`, "utf8").toString("base64")}`
      : undefined;
  if (basic === undefined && creds.identityToken === undefined && creds.registryToken === undefined) {
    throw new ProbeProblem("no credentials for this registry (no auth, username/password or token)");
  }
  const base = `${ctx.insecureHttp ? "http" : "https"}://${host}/v2/`;

  // A registry token is a ready-made bearer token; everything else starts with Basic, as asked of
  // registries that take it directly (token-auth registries ignore it and answer with a challenge).
  const first = creds.registryToken !== undefined ? `Bearer ${creds.registryToken}` : basic;
  const response = await get(base, first, ctx);
  await discard(response);
  if (isSuccess(response.status)) return response.status;
  if (response.status !== 401) throw unexpected(response.status, "the registry");

  const challenges = parseChallenges(response.headers.get("www-authenticate"));
  const bearer = challenges.find((c) => c.scheme === "bearer");
  if (bearer === undefined && basic === undefined && challenges.some((c) => c.scheme === "basic")) {
    throw new ProbeProblem("the registry asks for Basic auth and this entry has only a token", 401);
  }
  if (bearer === undefined || creds.registryToken !== undefined) throw new ProbeProblem("credentials rejected", 401);

  const token = await fetchToken(bearer, creds, basic, ctx);
  const retried = await get(base, `Bearer ${token}`, ctx);
  await discard(retried);
  if (isSuccess(retried.status)) return retried.status;
  throw unexpected(retried.status, "the registry");
}

/** The token endpoint of the Docker token flow (GET with Basic; POST with an identity token). */
async function fetchToken(challenge: Challenge, creds: EntryCredentials, basic: string | undefined, ctx: ProbeContext): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new ProbeProblem("the registry's Bearer challenge has no realm", 401);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new ProbeProblem("the registry's token realm is not a URL", 401);
  }
  checkScheme(url, ctx, "token realm");
  const service = challenge.params.service;
  const scopes = (challenge.params.scope ?? "").split(" ").filter((s) => s !== "");

  let response: ProbeFetchResponse;
  if (creds.identityToken !== undefined) {
    // An identity token is an OAuth2 refresh token: docker posts it as a form, never as Basic.
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: creds.identityToken, client_id: "docker" });
    if (service) form.set("service", service);
    if (scopes.length > 0) form.set("scope", scopes.join(" "));
    response = await postForm(url, form, ctx);
  } else {
    if (service) url.searchParams.set("service", service);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    response = await get(url.toString(), basic, ctx);
  }
  if (!isSuccess(response.status)) {
    await discard(response);
    throw unexpected(response.status, "the token endpoint");
  }
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    throw new ProbeProblem("the token endpoint did not answer JSON", response.status);
  }
  const token = (body as { token?: unknown; access_token?: unknown } | null)?.token ?? (body as { access_token?: unknown } | null)?.access_token;
  if (typeof token !== "string" || token === "") throw new ProbeProblem("the token endpoint returned no token", response.status);
  ctx.secrets.unshift(token);
  return token;
}

/** Reads and drops a body, so a fetch-based client can reuse its connection. */
async function discard(response: ProbeFetchResponse): Promise<void> {
  await response.text().catch(() => "");
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

function unexpected(status: number, who: string): ProbeProblem {
  if (status === 401 || status === 403) return new ProbeProblem("credentials rejected", status);
  if (status === 404) return new ProbeProblem(`${who} answered HTTP 404: not a registry v2 API`, status);
  if (status === 429) return new ProbeProblem(`${who} is rate limiting (HTTP 429)`, status);
  return new ProbeProblem(`${who} answered HTTP ${status}`, status);
}

function checkScheme(url: URL, ctx: ProbeContext, what: string): void {
  // Credentials go to every hop: plain http would send them in clear.
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && ctx.insecureHttp) return;
  throw new ProbeProblem(`refused a ${what} over ${url.protocol.replace(/:$/, "")}`);
}

/** GET with redirects followed by hand: the Authorization header never crosses to another origin. */
async function get(start: string, authorization: string | undefined, ctx: ProbeContext): Promise<ProbeFetchResponse> {
  let url = new URL(start);
  const origin = url.origin;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { "user-agent": USER_AGENT, accept: "application/json" };
    if (authorization !== undefined && url.origin === origin) headers.authorization = authorization;
    const response = await ctx.fetchImpl(url.toString(), { method: "GET", headers, signal: ctx.signal, redirect: "manual" });
    const location = response.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(response.status) || location === null) return response;
    await discard(response);
    if (hop >= MAX_REDIRECTS) throw new ProbeProblem(`more than ${MAX_REDIRECTS} redirects`, response.status);
    const next = new URL(location, url);
    checkScheme(next, ctx, "redirect");
    url = next;
  }
}

/** POST of a form, no redirects: a redirected POST would resend the identity token. */
async function postForm(url: URL, form: URLSearchParams, ctx: ProbeContext): Promise<ProbeFetchResponse> {
  return ctx.fetchImpl(url.toString(), {
    method: "POST",
    headers: { "user-agent": USER_AGENT, accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
    signal: ctx.signal,
    redirect: "manual",
  });
}

/**
 * Parses `WWW-Authenticate` (RFC 7235): one or more challenges, each a scheme and `key=value`
 * parameters whose quoted values may hold commas (`scope="repository:a:pull,push"`).
 */
export function parseChallenges(header: string | null | undefined): { scheme: string; params: Record<string, string> }[] {
  const challenges: Challenge[] = [];
  if (!header) return challenges;
  let i = 0;
  const n = header.length;
  const skip = (chars: string): void => {
    while (i < n && chars.includes(header.charAt(i))) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header.charAt(i))) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(" \t,");
    const start = i;
    const name = token();
    if (name === "") {
      i++; // not a token character: skip it rather than loop forever
      continue;
    }
    skip(" \t");
    if (header.charAt(i) === "=" && current !== undefined) {
      i++;
      skip(" \t");
      let value = "";
      if (header.charAt(i) === '"') {
        i++;
        while (i < n && header.charAt(i) !== '"') {
          if (header.charAt(i) === "\\" && i + 1 < n) i++;
          value += header.charAt(i);
          i++;
        }
        i++; // closing quote
      } else {
        const valueStart = i;
        while (i < n && header.charAt(i) !== "," && header.charAt(i) !== " ") i++;
        value = header.slice(valueStart, i);
      }
      current.params[name.toLowerCase()] = value;
    } else {
      // A scheme: token68 values (`Basic abc==`) are not parameters and are skipped.
      i = start + name.length;
      current = { scheme: name.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** A problem and status for whatever ended a probe, naming error codes and never error messages. */
function describeFailure(err: unknown, signal: AbortSignal, timeoutMs: number): { problem: string; status?: number } {
  if (err instanceof ProbeProblem) return err.status === undefined ? { problem: err.problem } : { problem: err.problem, status: err.status };
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === "TimeoutError";
    return { problem: timedOut ? `timed out after ${timeoutMs} ms` : "aborted" };
  }
  const code = errorCode(err);
  // Messages can quote URLs and server text; the code says enough (ECONNREFUSED, CERT_HAS_EXPIRED...).
  return { problem: code ? `request failed: ${code}` : `request failed: ${err instanceof Error ? err.name : typeof err}` };
}

function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,60}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The default client: `node:http`/`node:https`, because global fetch cannot take a CA without an
 * extra dependency. Errors keep Node's `code` (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, ...).
 */
function nodeFetch(ca: string | Buffer | undefined): ProbeFetch {
  // `ca` alone would replace the system roots; a credential may also name public registries.
  const trust = ca === undefined ? undefined : [...rootCertificates, ca.toString()];
  return (url, init) =>
    new Promise<ProbeFetchResponse>((resolve, reject) => {
      const target = new URL(url);
      const body = init.body;
      const headers: Record<string, string> = { ...init.headers };
      if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
      const options = { method: init.method, headers, signal: init.signal };
      const onResponse = (response: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          // The status is all most answers are needed for: stop reading a huge body, keep what came.
          if (size > MAX_BODY_BYTES) response.destroy();
          else chunks.push(chunk);
        });
        const finish = (): void => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({ status: response.statusCode ?? 0, headers: headerReader(response.headers), text: () => Promise.resolve(text) });
        };
        response.on("end", finish);
        response.on("close", finish); // after destroy(); resolve() ignores the second call
        response.on("error", () => undefined);
      };
      const req =
        target.protocol === "https:"
          ? httpsRequest(target, trust === undefined ? options : { ...options, ca: trust }, onResponse)
          : httpRequest(target, options, onResponse);
      req.on("error", reject);
      req.end(body);
    });
}

function headerReader(raw: IncomingHttpHeaders): ProbeFetchResponse["headers"] {
  return {
    get: (name) => {
      const value = raw[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    },
  };
}
