// The HTTP side of the probe: the fetch it uses (undici, so a private CA can be trusted), and GET
// and POST as the login flow needs them, with redirects followed by hand.
import { rootCertificates } from "node:tls";
import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from "undici";
import { ProbeProblem } from "./problem.js";

/** `/v2/` and token answers are tiny; anything bigger is not worth reading. */
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const USER_AGENT = "imagepullsecret-patcher-registry-probe";

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

/** A fetch function. Global `fetch` fits; the default is undici's, which also takes a CA. */
export type ProbeFetch = (url: string, init: ProbeFetchInit) => Promise<ProbeFetchResponse>;

/** A fetch and the connections it keeps, to close once the probe is done. */
export interface ProbeClient {
  readonly fetch: ProbeFetch;
  close(): Promise<void>;
}

/**
 * undici's fetch through an Agent of the probe's own. `ca` is added to the system roots, not put
 * in their place: a credential may name public registries too. Errors keep Node's `code`
 * (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, ...) on their `cause`.
 */
export function undiciProbeClient(ca: string | Buffer | undefined): ProbeClient {
  const dispatcher = new Agent(ca === undefined ? {} : { connect: { ca: [...rootCertificates, ca.toString()] } });
  return {
    fetch: async (url, init) => {
      const response = await undiciFetch(url, { ...init, dispatcher });
      return { status: response.status, headers: response.headers, text: () => readCapped(response) };
    },
    close: () => dispatcher.destroy(),
  };
}

/** The body as text, at most {@link MAX_BODY_BYTES}: the status is all most answers are needed for. */
async function readCapped(response: UndiciResponse): Promise<string> {
  if (!response.body) return "";
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      size += next.value.length;
      if (size > MAX_BODY_BYTES) break;
      chunks.push(next.value);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** What a request needs besides its URL. */
export interface RequestContext {
  readonly fetchImpl: ProbeFetch;
  readonly signal: AbortSignal;
  /** Plain http is allowed (tests only). */
  readonly insecureHttp: boolean;
}

/** Reads and drops a body, so the client can reuse its connection. */
export async function discard(response: ProbeFetchResponse): Promise<void> {
  await response.text().catch(() => "");
}

export function checkScheme(url: URL, ctx: RequestContext, what: string): void {
  // Credentials go to every hop: plain http would send them in clear.
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && ctx.insecureHttp) return;
  throw new ProbeProblem(`refused a ${what} over ${url.protocol.replace(/:$/, "")}`);
}

/** GET with redirects followed by hand: the Authorization header never crosses to another origin. */
export async function get(
  start: string,
  authorization: string | undefined,
  ctx: RequestContext,
): Promise<ProbeFetchResponse> {
  let url = new URL(start);
  const origin = url.origin;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { "user-agent": USER_AGENT, accept: "application/json" };
    if (authorization !== undefined && url.origin === origin) headers.authorization = authorization;
    const response = await ctx.fetchImpl(url.toString(), {
      method: "GET",
      headers,
      signal: ctx.signal,
      redirect: "manual",
    });
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
export async function postForm(url: URL, form: URLSearchParams, ctx: RequestContext): Promise<ProbeFetchResponse> {
  return ctx.fetchImpl(url.toString(), {
    method: "POST",
    headers: {
      "user-agent": USER_AGENT,
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: form.toString(),
    signal: ctx.signal,
    redirect: "manual",
  });
}
