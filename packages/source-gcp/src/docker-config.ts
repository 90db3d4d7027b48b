/** The user name Google's registries expect next to an OAuth access token. */
export const GOOGLE_TOKEN_USERNAME = "oauth2accesstoken";

/**
 * The `.dockerconfigjson` logging in to each registry host with `token`. Keys in a fixed order, so
 * the same token always gives the same bytes (and no needless update of the copies).
 */
export function gcpDockerConfigJson(registries: readonly string[], token: string): string {
  const auth = Buffer.from(`${GOOGLE_TOKEN_USERNAME}:${token}`, "utf8").toString("base64");
  const auths: Record<string, { username: string; password: string; auth: string }> = {};
  for (const host of registries) auths[host] = { username: GOOGLE_TOKEN_USERNAME, password: token, auth };
  return JSON.stringify({ auths });
}
