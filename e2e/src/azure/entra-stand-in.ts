// A stand-in for Microsoft Entra ID's v2.0 endpoints, enough for MSAL's client credentials flow:
// - GET /{tenant}/v2.0/.well-known/openid-configuration: the OpenID discovery document MSAL reads
//   for an authority it has no built-in metadata for
//   (https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri);
// - POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials and either client_secret or a
//   client_assertion (the federated token of workload identity), answering
//   { token_type, expires_in, ext_expires_in, access_token } or { error, error_description }
//   (https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
// Access tokens carry `tid`, `aud`, `appid` and `exp` like Entra's, differ on every issue, and are
// remembered so the ACR stand-in can tell a token it issued from a forged or expired one.
import { randomBytes } from "node:crypto";
import { HttpsStandIn, fakeJwt, type Reply, type ServingPair, type StandInRequest } from "./https-stand-in.ts";

export const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
export const ACR_SCOPE = "https://containerregistry.azure.net/.default";

export interface EntraStandInOptions {
  readonly tls: ServingPair;
  readonly tenantId: string;
  readonly clientId: string;
  /** Accepted as client_secret. */
  readonly clientSecret?: string | undefined;
  /** Returns the accepted client_assertion (the current federated token), read at every request. */
  readonly federatedToken?: (() => string) | undefined;
  /** Text the signature part of every access token starts with. */
  readonly marker: string;
  /** Access token lifetime; default 3600 s. */
  readonly tokenLifetimeSeconds?: number | undefined;
}

function oauthError(status: number, error: string, description: string): Reply {
  return { status, body: { error, error_description: description, error_codes: [status === 401 ? 7000215 : 900144] } };
}

export class EntraStandIn {
  readonly server: HttpsStandIn;
  /** Every access token issued, with its expiry in ms since the epoch. */
  readonly issued = new Map<string, { expiresAt: number; tenant: string }>();
  tokenLifetimeSeconds: number;
  /** When set, token requests get this HTTP status (an outage of Entra ID). */
  failWith: number | undefined;
  readonly #options: EntraStandInOptions;

  private constructor(options: EntraStandInOptions) {
    this.#options = options;
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3600;
    this.server = new HttpsStandIn(options.tls, (request) => this.#handle(request));
  }

  static async start(options: EntraStandInOptions): Promise<EntraStandIn> {
    const entra = new EntraStandIn(options);
    await entra.server.start();
    return entra;
  }

  /** What AZURE_AUTHORITY_HOST (or the source's `authorityHost`) points at. */
  get authorityHost(): string {
    return this.server.origin;
  }

  /** Token requests answered so far (successful or not). */
  get tokenRequests(): number {
    return this.server.requests.filter((r) => r.method === "POST").length;
  }

  /** Whether `token` is an access token this stand-in issued that has not expired. */
  valid(token: string): { tenant: string } | undefined {
    const entry = this.issued.get(token);
    return entry && entry.expiresAt > Date.now() ? { tenant: entry.tenant } : undefined;
  }

  close(): Promise<void> {
    return this.server.stop();
  }

  #handle(request: StandInRequest): Reply {
    const { tenantId } = this.#options;
    const base = `${this.server.origin}/${tenantId}`;
    if (request.method === "GET" && request.path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      return {
        status: 200,
        body: {
          issuer: `${base}/v2.0`,
          token_endpoint: `${base}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          jwks_uri: `${this.server.origin}/${tenantId}/discovery/v2.0/keys`,
          response_types_supported: ["code", "id_token", "token"],
          token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        },
      };
    }
    if (request.method === "POST" && request.path.split("?")[0] === `/${tenantId}/oauth2/v2.0/token`) {
      return this.#token(request.form);
    }
    return { status: 404, body: { error: "not_found", error_description: `${request.method} ${request.path}` } };
  }

  #token(form: URLSearchParams): Reply {
    if (this.failWith !== undefined) {
      return oauthError(this.failWith, "temporarily_unavailable", "AADSTS90033: stand-in outage");
    }
    if (form.get("grant_type") !== "client_credentials") {
      return oauthError(400, "unsupported_grant_type", "AADSTS70003: only client_credentials");
    }
    if (form.get("client_id") !== this.#options.clientId) {
      return oauthError(400, "unauthorized_client", "AADSTS700016: application not found in the directory");
    }
    if (!(form.get("scope") ?? "").split(" ").includes(ACR_SCOPE)) {
      return oauthError(400, "invalid_scope", "AADSTS70011: the scope is not the container registry's");
    }
    if (!this.#authenticated(form)) {
      return oauthError(401, "invalid_client", "AADSTS7000215: invalid client secret or assertion");
    }
    return { status: 200, body: this.issueAccessToken() };
  }

  #authenticated(form: URLSearchParams): boolean {
    const secret = form.get("client_secret");
    if (secret !== null) return this.#options.clientSecret !== undefined && secret === this.#options.clientSecret;
    const assertion = form.get("client_assertion");
    if (assertion === null || form.get("client_assertion_type") !== ASSERTION_TYPE) return false;
    return this.#options.federatedToken !== undefined && assertion === this.#options.federatedToken();
  }

  /** A new access token for the configured client, as the token endpoint answers it (the IMDS stand-in reuses it). */
  issueAccessToken(): { token_type: string; expires_in: number; ext_expires_in: number; access_token: string } {
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.tokenLifetimeSeconds;
    const { tenantId, clientId, marker } = this.#options;
    const claims = {
      aud: "https://containerregistry.azure.net",
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      appid: clientId,
      tid: tenantId,
      sub: clientId,
    };
    const token = fakeJwt(claims, marker, randomBytes(18).toString("base64url"));
    this.issued.set(token, { expiresAt: (now + lifetime) * 1000, tenant: tenantId });
    return { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token };
  }
}
