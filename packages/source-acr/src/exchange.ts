// ACR's token exchange: an Entra ID access token in, an ACR refresh token out.
// Wire format: https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md
// ("Calling POST /oauth2/exchange to get an ACR refresh token").
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { withoutSecrets } from "./redact.js";

/** An exchange answer is a token of a few kilobytes; anything past this is refused. */
export const MAX_EXCHANGE_RESPONSE_BYTES = 64 * 1024;

export interface ExchangeRequest {
  /** The login server, e.g. `myregistry.azurecr.io`: both the host posted to and the `service`. */
  readonly registry: string;
  /** The Entra tenant the access token came from; left out when unknown. */
  readonly tenant?: string | undefined;
  readonly accessToken: string;
  readonly signal: AbortSignal;
}

/** `fetch`, so tests and embedders can route requests elsewhere. */
export type Fetch = typeof globalThis.fetch;

/** `POST https://<registry>/oauth2/exchange`. */
export function exchangeUrl(registry: string): string {
  return `https://${registry}/oauth2/exchange`;
}

/** The form body: `grant_type=access_token&service=<registry>&tenant=<tenant>&access_token=<token>`. */
export function exchangeForm(request: Omit<ExchangeRequest, "signal">): URLSearchParams {
  const form = new URLSearchParams({ grant_type: "access_token", service: request.registry });
  if (request.tenant !== undefined) form.set("tenant", request.tenant);
  form.set("access_token", request.accessToken);
  return form;
}

/** Sends the exchange and returns the ACR refresh token. Errors name the registry and status, never a token. */
export async function exchangeRefreshToken(request: ExchangeRequest, fetchImpl: Fetch = fetch): Promise<string> {
  const url = exchangeUrl(request.registry);
  try {
    const response = await fetchImpl(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: exchangeForm(request),
      signal: request.signal,
      redirect: "error",
    });
    const body = await readLimited(response, url);
    return parseExchangeResponse(response.status, body, url, [request.accessToken]);
  } catch (err) {
    // Aborts pass through for the polling base; a network failure names the registry it was for.
    if (err instanceof SourceFetchError || request.signal.aborted) throw err;
    throw new SourceFetchError(`POST ${url}: ${networkProblem(err)}`);
  }
}

/** `request failed (ECONNREFUSED)`: the system code of the error or its causes, never their messages. */
function networkProblem(err: unknown): string {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return `request failed (${code})`;
    if (current instanceof Error && /redirect/i.test(current.message)) return "the registry answered with a redirect";
    current = (current as { cause?: unknown }).cause;
  }
  return "request failed";
}

async function readLimited(response: Response, url: string): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_EXCHANGE_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new SourceFetchError(`POST ${url}: the answer is larger than ${MAX_EXCHANGE_RESPONSE_BYTES} bytes`, false);
  }
  const text = await response.text();
  if (text.length > MAX_EXCHANGE_RESPONSE_BYTES) {
    throw new SourceFetchError(`POST ${url}: the answer is larger than ${MAX_EXCHANGE_RESPONSE_BYTES} bytes`, false);
  }
  return text;
}

/** `UNAUTHORIZED: <message>` from the registry's `{"errors":[{"code","message"}]}` body, if it has one. */
function registryError(body: string, secrets: readonly string[]): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const first = (parsed as { errors?: unknown }).errors;
  const entry: unknown = Array.isArray(first) ? first[0] : undefined;
  if (typeof entry !== "object" || entry === null) return undefined;
  const { code, message } = entry as { code?: unknown; message?: unknown };
  const parts = [code, message].filter((p): p is string => typeof p === "string" && p !== "");
  return parts.length === 0 ? undefined : withoutSecrets(parts.join(": "), secrets).slice(0, 200);
}

function transientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * Reads the exchange answer: HTTP 200 with `{"refresh_token": "<JWT>"}`. Anything else is a
 * {@link SourceFetchError} that names the URL, the status and the registry's error code.
 */
export function parseExchangeResponse(status: number, body: string, url: string, secrets: readonly string[]): string {
  const where = `POST ${url}`;
  if (status !== 200) {
    const detail = registryError(body, secrets);
    throw new SourceFetchError(`${where}: HTTP ${status}${detail ? ` (${detail})` : ""}`, transientStatus(status));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SourceFetchError(`${where}: the answer is not JSON`, false);
  }
  const token = (parsed as { refresh_token?: unknown } | null)?.refresh_token;
  if (typeof token !== "string" || token === "") {
    throw new SourceFetchError(`${where}: the answer has no refresh_token`, false);
  }
  if (/[\s\p{Cc}]/u.test(token)) throw new SourceFetchError(`${where}: refresh_token holds whitespace`, false);
  return token;
}
