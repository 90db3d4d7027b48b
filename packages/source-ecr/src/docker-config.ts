import { SourceFetchError } from "@imagepullsecret-patcher/core";

/** A registry login: the host under `auths` and the user and password ECR issued for it. */
export interface RegistryLogin {
  readonly host: string;
  readonly username: string;
  readonly password: string;
}

/**
 * Decodes ECR's `authorizationToken`: base64 of `AWS:<password>`. Errors name `where` and the
 * problem, never the token.
 */
export function decodeAuthorizationToken(token: unknown, where: string): { username: string; password: string } {
  if (typeof token !== "string" || token === "") {
    throw new SourceFetchError(`${where}: the answer has no authorizationToken`, false);
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) {
    throw new SourceFetchError(`${where}: the authorizationToken is not base64`, false);
  }
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (colon <= 0 || password === "" || /[\s\p{Cc}]/u.test(decoded)) {
    throw new SourceFetchError(`${where}: the authorizationToken does not decode to user:password`, false);
  }
  return { username, password };
}

/**
 * The registry host for a login: the host of ECR's `proxyEndpoint`
 * (`https://123456789012.dkr.ecr.eu-west-1.amazonaws.com`), or, for `registryId`, the same host
 * with that account in place of the first label. The token works for every registry the caller may
 * pull from, so another account's registry needs no call of its own; keeping ECR's host suffix keeps
 * the right partition (`amazonaws.com.cn`), FIPS (`dkr.ecr-fips`) and dual-stack forms.
 */
export function registryHost(proxyEndpoint: unknown, registryId: string | undefined, where: string): string {
  if (typeof proxyEndpoint !== "string" || proxyEndpoint === "") {
    throw new SourceFetchError(`${where}: the answer has no proxyEndpoint`, false);
  }
  let host: string;
  try {
    host = new URL(proxyEndpoint).host;
  } catch {
    throw new SourceFetchError(`${where}: the proxyEndpoint is not a URL: ${JSON.stringify(proxyEndpoint)}`, false);
  }
  if (registryId === undefined) return host;
  const match = /^\d{12}(\..+)$/.exec(host);
  if (!match) {
    throw new SourceFetchError(
      `${where}: cannot tell the host of registry ${registryId} from the proxyEndpoint host ${host}`,
      false,
    );
  }
  return `${registryId}${match[1]}`;
}

/** The `.dockerconfigjson` for `logins`, hosts sorted so that equal logins give equal bytes. */
export function ecrDockerConfigJson(logins: readonly RegistryLogin[]): string {
  const auths: Record<string, { username: string; password: string; auth: string }> = {};
  for (const login of [...logins].sort((a, b) => a.host.localeCompare(b.host))) {
    auths[login.host] = {
      username: login.username,
      password: login.password,
      auth: Buffer.from(`${login.username}:${login.password}`).toString("base64"),
    };
  }
  return JSON.stringify({ auths });
}
