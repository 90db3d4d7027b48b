/**
 * The user name that tells ACR the password is an ACR refresh token (the "null GUID" of
 * https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md, "Authenticating docker with an ACR refresh token").
 */
export const ACR_REFRESH_TOKEN_USERNAME = "00000000-0000-0000-0000-000000000000";

/** One login per registry, in the configured order and with keys in a fixed order, so equal tokens give equal bytes. */
export function acrDockerConfigJson(logins: readonly { registry: string; refreshToken: string }[]): string {
  const auths: Record<string, { username: string; password: string; auth: string }> = {};
  for (const { registry, refreshToken } of logins) {
    const username = ACR_REFRESH_TOKEN_USERNAME;
    const auth = Buffer.from(`${username}:${refreshToken}`, "utf8").toString("base64");
    auths[registry] = { username, password: refreshToken, auth };
  }
  return JSON.stringify({ auths });
}
