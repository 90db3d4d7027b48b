// The two AWS calls the ECR tests make themselves, as plain HTTP against moto, so that what they
// compare the patcher with does not come from the code under test. Moto checks no signature: a
// request only needs an access key (which picks the account) and a region in its credential scope.

/** Temporary credentials from STS. */
export interface StsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** One entry of GetAuthorizationToken's `authorizationData`. */
export interface AuthorizationData {
  readonly authorizationToken: string;
  readonly proxyEndpoint: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

function xmlField(xml: string, name: string): string {
  const value = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml)?.[1];
  if (value === undefined) throw new Error(`STS answer without ${name}: ${xml.slice(0, 300)}`);
  return value;
}

/** `AssumeRoleWithWebIdentity`, as the SDK's web identity provider (IRSA) calls it. */
export async function assumeRoleWithWebIdentity(
  endpoint: string,
  roleArn: string,
  webIdentityToken: string,
): Promise<StsCredentials> {
  const body = new URLSearchParams({
    Action: "AssumeRoleWithWebIdentity",
    Version: "2011-06-15",
    RoleArn: roleArn,
    RoleSessionName: "e2e-check",
    WebIdentityToken: webIdentityToken,
  });
  const response = await fetch(`${endpoint}/`, { method: "POST", body, signal: AbortSignal.timeout(10_000) });
  const xml = await response.text();
  if (!response.ok) throw new Error(`AssumeRoleWithWebIdentity: HTTP ${response.status}`);
  return {
    accessKeyId: xmlField(xml, "AccessKeyId"),
    secretAccessKey: xmlField(xml, "SecretAccessKey"),
    sessionToken: xmlField(xml, "SessionToken"),
  };
}

/** ECR `GetAuthorizationToken` as the caller owning `accessKeyId`, in `region`. */
export async function getAuthorizationToken(
  endpoint: string,
  accessKeyId: string,
  region: string,
): Promise<AuthorizationData> {
  const response = await fetch(`${endpoint}/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20260101/${region}/ecr/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: "{}",
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`GetAuthorizationToken: HTTP ${response.status}`);
  const answer = (await response.json()) as { authorizationData?: AuthorizationData[] };
  const data = answer.authorizationData?.[0];
  if (!data) throw new Error("GetAuthorizationToken: no authorizationData");
  return data;
}

/** Every STS session moto handed out, with its secret key and session token (from moto's state dump). */
export async function stsSessions(endpoint: string): Promise<StsCredentials[]> {
  const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(10_000) });
  const state = (await response.json()) as {
    sts?: { AssumedRole?: { access_key_id: string; secret_access_key: string; session_token: string }[] };
  };
  return (state.sts?.AssumedRole ?? []).map((role) => ({
    accessKeyId: role.access_key_id,
    secretAccessKey: role.secret_access_key,
    sessionToken: role.session_token,
  }));
}
