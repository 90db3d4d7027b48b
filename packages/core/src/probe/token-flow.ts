// The Docker token flow: after a `401` with a `Bearer` challenge, a token from the challenge's
// realm, asked for with Basic auth or, for an identity token, as an OAuth2 refresh.
import type { EntryCredentials } from "./auths.js";
import { checkScheme, discard, get, postForm, type ProbeFetchResponse, type RequestContext } from "./http.js";
import { ProbeProblem, isSuccess, unexpected } from "./problem.js";
import type { Challenge } from "./www-authenticate.js";

/** Where to ask for a token, and for what. */
function tokenRequest(challenge: Challenge, ctx: RequestContext): { url: URL; service?: string; scopes: string[] } {
  const realm = challenge.params.realm;
  if (!realm) throw new ProbeProblem("the registry's Bearer challenge has no realm", 401);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new ProbeProblem("the registry's token realm is not a URL", 401);
  }
  checkScheme(url, ctx, "token realm");
  const scopes = (challenge.params.scope ?? "").split(" ").filter((s) => s !== "");
  const service = challenge.params.service;
  return service ? { url, service, scopes } : { url, scopes };
}

/**
 * Gets a token from the challenge's realm (GET with Basic; POST with an identity token) and returns
 * it. Pushes the token onto `secrets`, so no later problem can show it.
 */
export async function fetchToken(
  challenge: Challenge,
  creds: EntryCredentials,
  basic: string | undefined,
  ctx: RequestContext & { readonly secrets: string[] },
): Promise<string> {
  const { url, service, scopes } = tokenRequest(challenge, ctx);
  let response: ProbeFetchResponse;
  if (creds.identityToken !== undefined) {
    // An identity token is an OAuth2 refresh token: docker posts it as a form, never as Basic.
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: creds.identityToken,
      client_id: "docker",
    });
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
  const token = await readToken(response);
  ctx.secrets.unshift(token);
  return token;
}

/** `token`, or OAuth2's `access_token`, from the endpoint's JSON answer. */
async function readToken(response: ProbeFetchResponse): Promise<string> {
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    throw new ProbeProblem("the token endpoint did not answer JSON", response.status);
  }
  const answer = body as { token?: unknown; access_token?: unknown } | null;
  const token = answer?.token ?? answer?.access_token;
  if (typeof token !== "string" || token === "")
    throw new ProbeProblem("the token endpoint returned no token", response.status);
  return token;
}
