// A stand-in for an Azure Container Registry's token exchange, as documented in
// https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md ("Calling POST /oauth2/exchange to get an ACR
// refresh token"): a form with grant_type=access_token, service=<registry>, tenant=<tenant> and
// access_token=<Entra access token>, answered with 200 {"refresh_token": "<JWT>"}; the JWT's claims follow
// that document's example (jti, sub, nbf, exp, iat, iss, aud, version, grant_type, tenant, permissions).
// Errors use the registry's {"errors":[{"code","message"}]} shape. The registry's name is the stand-in's
// own 127.0.0.1:<port>, so `service` must equal the Host the request went to.
import { randomBytes, randomUUID } from "node:crypto";
import { HttpsStandIn, fakeJwt, type Reply, type ServingPair, type StandInRequest } from "./https-stand-in.ts";

export interface AcrExchangeStandInOptions {
  readonly tls: ServingPair;
  /** Tells an access token the Entra stand-in issued (and its tenant) from anything else. */
  readonly accessTokenTenant: (token: string) => { tenant: string } | undefined;
  /** Text the signature part of every refresh token starts with. */
  readonly marker: string;
  /** Refresh token lifetime; default 3 h, like ACR's. */
  readonly refreshTokenLifetimeSeconds?: number | undefined;
}

function registryError(status: number, code: string, message: string): Reply {
  return { status, body: { errors: [{ code, message }] } };
}

export class AcrExchangeStandIn {
  readonly server: HttpsStandIn;
  /** Every refresh token issued, newest last. */
  readonly issued: string[] = [];
  /** Every exchange form received (tests check grant_type, service, tenant). */
  readonly forms: URLSearchParams[] = [];
  refreshTokenLifetimeSeconds: number;
  /** When set, exchanges get this HTTP status (500: registry trouble, 401: the identity lost its role). */
  failWith: number | undefined;
  /** When set, answers exchanges that passed every check instead of issuing a token (contract tests). */
  answer: ((service: string) => Reply) | undefined;
  readonly #options: AcrExchangeStandInOptions;

  private constructor(options: AcrExchangeStandInOptions) {
    this.#options = options;
    this.refreshTokenLifetimeSeconds = options.refreshTokenLifetimeSeconds ?? 3 * 3600;
    this.server = new HttpsStandIn(options.tls, (request) => this.#handle(request));
  }

  static async start(options: AcrExchangeStandInOptions): Promise<AcrExchangeStandIn> {
    const acr = new AcrExchangeStandIn(options);
    await acr.server.start();
    return acr;
  }

  /** The registry login server: `127.0.0.1:<port>`. */
  get registry(): string {
    return this.server.host;
  }

  /** The refresh token issued last. */
  get latest(): string | undefined {
    return this.issued.at(-1);
  }

  close(): Promise<void> {
    return this.server.stop();
  }

  #handle(request: StandInRequest): Reply {
    if (request.path !== "/oauth2/exchange") return registryError(404, "NOT_FOUND", "no such endpoint");
    if (request.method !== "POST") return registryError(405, "UNSUPPORTED", "POST only");
    this.forms.push(request.form);
    if (this.failWith !== undefined) return registryError(this.failWith, "UNAVAILABLE", "stand-in outage");
    const form = request.form;
    if (form.get("grant_type") !== "access_token") {
      return registryError(400, "UNSUPPORTED", "grant_type must be access_token");
    }
    if (form.get("service") !== request.host) {
      return registryError(400, "DENIED", "service does not name this registry");
    }
    const entra = this.#options.accessTokenTenant(form.get("access_token") ?? "");
    if (!entra) return registryError(401, "UNAUTHORIZED", "AAD access token is invalid or expired");
    const tenant = form.get("tenant");
    if (tenant !== null && tenant !== entra.tenant) {
      return registryError(401, "UNAUTHORIZED", "the tenant does not match the access token");
    }
    if (this.answer) return this.answer(request.host);
    return { status: 200, body: { refresh_token: this.#issue(request.host, entra.tenant) } };
  }

  #issue(service: string, tenant: string): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      jti: randomUUID(),
      sub: "workload",
      nbf: now,
      exp: now + this.refreshTokenLifetimeSeconds,
      iat: now,
      iss: "Azure Container Registry",
      aud: service,
      version: "1.0",
      grant_type: "refresh_token",
      tenant,
      permissions: { actions: ["read"], notActions: [] },
      roles: [],
    };
    const token = fakeJwt(claims, this.#options.marker, randomBytes(18).toString("base64url"));
    this.issued.push(token);
    return token;
  }
}
