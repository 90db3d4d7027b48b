// Registry login probe: before a new credential fans out to every namespace, check that it logs in
// to the registries it names, the way `docker login` does (GET /v2/, Basic or the Bearer token flow).
// Opt-in: it makes network calls the rest of the controller does not need.
import type { DockerConfigJson } from "../credentials/docker-config.js";
import { collectSecrets, entryCredentials, findEntry, readAuths, scrub, type EntryCredentials } from "./auths.js";
import { discard, get, undiciProbeClient, type ProbeFetch, type RequestContext } from "./http.js";
import { ProbeProblem, describeFailure, isSuccess, unexpected } from "./problem.js";
import { fetchToken } from "./token-flow.js";
import { parseChallenges } from "./www-authenticate.js";

export { registryApiHost } from "./auths.js";
export { type ProbeFetch, type ProbeFetchInit, type ProbeFetchResponse } from "./http.js";
export { parseChallenges, type Challenge } from "./www-authenticate.js";

/** Per-registry time budget, covering the token exchange and the retry. */
export const DEFAULT_PROBE_TIMEOUT_MS = 10_000;

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
  /** Replaces the built-in client, undici's fetch (tests, proxies). */
  fetchImpl?: ProbeFetch;
  /** Cancels every probe still running. */
  signal?: AbortSignal;
}

interface ProbeContext extends RequestContext {
  /** Secrets to scrub from problems; tokens are added as they arrive. */
  readonly secrets: string[];
}

/**
 * Checks that `credential` logs in to its registries: `GET https://<registry>/v2/` with HTTP Basic
 * (from `auth`, or `username`/`password`); on a `401` with a `Bearer` challenge, a token from the
 * challenge's realm (Basic auth, or the `identitytoken` as an OAuth refresh token) and a retry with
 * it. `200` is ok; `401`/`403` is "credentials rejected"; a network failure names its error code.
 * Registries are probed in parallel. Never throws for a registry's failure, and nothing in the
 * result holds a password, an `auth` value or a token.
 */
export async function probeRegistryLogin(
  credential: DockerConfigJson,
  options: RegistryProbeOptions = {},
): Promise<ProbeResult> {
  const auths = readAuths(credential);
  const secrets = collectSecrets(auths);
  const client = options.fetchImpl
    ? { fetch: options.fetchImpl, close: () => Promise.resolve() }
    : undiciProbeClient(options.ca);
  const fetchImpl = client.fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const insecureHttp = options.insecureHttp === true;

  const probeNamed = async (registry: string): Promise<RegistryProbeEntry> => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      const { host, entry } = findEntry(auths, registry);
      const status = await probeOne(host, entry, { fetchImpl, signal, insecureHttp, secrets });
      return { registry, ok: true, status };
    } catch (err) {
      const { problem, status } = describeFailure(err, signal, timeoutMs);
      const result: RegistryProbeEntry = { registry, ok: false, problem: scrub(problem, secrets) };
      if (status !== undefined) result.status = status;
      return result;
    }
  };
  try {
    const results = await Promise.all((options.registries ?? Object.keys(auths)).map(probeNamed));
    return { ok: results.length > 0 && results.every((r) => r.ok), results };
  } finally {
    await client.close();
  }
}

function basicAuthorization({ username, password }: EntryCredentials): string | undefined {
  if (username === undefined || password === undefined) return undefined;
  return `Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`;
}

/** Logs in to one registry; returns the final status (2xx) or throws a {@link ProbeProblem}. */
async function probeOne(host: string, entry: Record<string, unknown>, ctx: ProbeContext): Promise<number> {
  const creds = entryCredentials(entry);
  const basic = basicAuthorization(creds);
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
