/**
 * The `.dockerconfigjson` for one registry, logging in as `username` with `token` as the password.
 * Keys in a fixed order, so the same token always gives the same bytes (and no needless update).
 */
export function tokenDockerConfigJson(registry: string, username: string, token: string): string {
  const auth = Buffer.from(`${username}:${token}`, "utf8").toString("base64");
  return JSON.stringify({ auths: { [registry]: { username, password: token, auth } } });
}
