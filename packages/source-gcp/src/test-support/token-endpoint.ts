// A stand-in for Google's OAuth 2.0 token endpoint in the service account (JWT bearer) flow, and
// the service account key files that go with it.
//
// Wire format, as documented:
// - https://developers.google.com/identity/protocols/oauth2/service-account#httprest : the client
//   POSTs `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>` (form-encoded);
//   the JWT is RS256-signed with the key's private_key, header `{"alg":"RS256","typ":"JWT"}`, claims
//   iss (client_email), scope, aud (https://oauth2.googleapis.com/token), iat, exp (at most 1 h later);
//   the answer is `{"access_token": "…", "expires_in": 3599, "token_type": "Bearer"}`;
// - https://www.rfc-editor.org/rfc/rfc7523#section-2.1 and #section-3 (JWT bearer grant), and
//   https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (errors: HTTP 400 `{"error": "invalid_grant"}`);
// - https://cloud.google.com/iam/docs/keys-create-delete : the key file's fields (type, project_id,
//   private_key_id, private_key, client_email, client_id, auth_uri, token_uri, ...).
// The endpoint verifies the assertion's signature with the public half of a key generated here.
//
// It also plays the IAM Service Account Credentials API, for impersonation:
// - https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken :
//   POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken with `Authorization: Bearer <token>`
//   and `{"scope": [...], "lifetime": "3600s"}` answers `{"accessToken": "…", "expireTime": "<RFC 3339>"}`;
//   a caller without roles/iam.serviceAccountTokenCreator on EMAIL gets 403 with a JSON error whose
//   `status` is PERMISSION_DENIED (https://cloud.google.com/apis/design/errors#http_mapping).
//
// This file has no imports besides node: ones, so the package's tests keep an identical copy.
import { createVerify, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The audience Google's libraries put in the assertion. */
export const GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** The JSON of a service account key file, as `gcloud iam service-accounts keys create` writes it. */
export interface ServiceAccountKey {
  readonly type: "service_account";
  readonly project_id: string;
  readonly private_key_id: string;
  readonly private_key: string;
  readonly client_email: string;
  readonly client_id: string;
  readonly auth_uri: string;
  readonly token_uri: string;
  readonly auth_provider_x509_cert_url: string;
  readonly client_x509_cert_url: string;
  readonly universe_domain: string;
}

/** A granted or refused token request, as the endpoint saw it. */
export interface TokenGrant {
  readonly ok: boolean;
  /** Why it was refused (never holds the assertion). */
  readonly error?: string;
  readonly claims?: Record<string, unknown>;
}

/** A token endpoint on 127.0.0.1 that trusts the keys it made with {@link TokenEndpoint.createKey}. */
export class TokenEndpoint {
  /** `http://127.0.0.1:PORT/token`: the key files' token_uri. */
  url = "";
  readonly grants: TokenGrant[] = [];
  /** generateAccessToken calls: the service account asked for, and whether it was granted. */
  readonly impersonations: { readonly target: string; readonly ok: boolean }[] = [];
  /** Every access token handed out, in order. */
  readonly issued: string[] = [];
  /** `expires_in` of the next answers, in seconds. */
  expiresIn = 3599;
  /** When set, requests get this HTTP status instead of a token. */
  failWith: number | undefined;
  /** When set, the next answers carry this token instead of a new one. */
  fixedToken: string | undefined;
  /** Which bearer tokens generateAccessToken accepts: by default the ones this endpoint issued. */
  trustsBearer: (token: string) => boolean = (token) => this.issued.includes(token);

  readonly #keys = new Map<string, KeyObject>();
  readonly #tokenCreatorOn = new Set<string>();
  readonly #tokenPrefix: string;
  #server: Server | undefined;
  #counter = 0;

  private constructor(tokenPrefix: string) {
    this.#tokenPrefix = tokenPrefix;
  }

  /** `tokenPrefix`: start of every issued token, a marker tests can search logs and Events for. */
  static async start(options: { tokenPrefix?: string } = {}): Promise<TokenEndpoint> {
    const endpoint = new TokenEndpoint(options.tokenPrefix ?? "ya29.standin-");
    const server = createServer((req, res) => endpoint.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    endpoint.#server = server;
    endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    return endpoint;
  }

  /** A new service account key (real 2048-bit RSA) this endpoint accepts, with token_uri pointing here. */
  createKey(email = "patcher@standin-project.iam.gserviceaccount.com"): ServiceAccountKey {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const keyId = randomBytes(20).toString("hex");
    this.#keys.set(`${email} ${keyId}`, publicKey);
    return {
      type: "service_account",
      project_id: "standin-project",
      private_key_id: keyId,
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: email,
      client_id: "100000000000000000001",
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.url,
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: "googleapis.com",
    };
  }

  /** `http://127.0.0.1:PORT`: the IAM Credentials endpoint for impersonation. */
  get origin(): string {
    return new URL(this.url).origin;
  }

  /** Lets this endpoint's tokens impersonate `serviceAccount`, as roles/iam.serviceAccountTokenCreator on it does. */
  grantTokenCreator(serviceAccount: string): void {
    this.#tokenCreatorOn.add(serviceAccount);
  }

  /** Forgets a key, as deleting it in IAM does: its assertions are refused from now on. */
  revokeKey(key: ServiceAccountKey): void {
    this.#keys.delete(`${key.client_email} ${key.private_key_id}`);
  }

  close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    return new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (this.failWith !== undefined) return json(res, this.failWith, { error: "temporarily_unavailable" });
      const body = Buffer.concat(chunks).toString("utf8");
      const impersonation = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(
        new URL(req.url ?? "/", "http://x").pathname,
      );
      if (impersonation?.[1]) return this.#generateAccessToken(req, res, decodeURIComponent(impersonation[1]), body);
      const form = new URLSearchParams(body);
      const refusal = this.#refusal(req, form);
      if (refusal !== undefined) {
        this.grants.push({ ok: false, error: refusal.description });
        return json(res, refusal.status, { error: refusal.error, error_description: refusal.description });
      }
      this.grants.push({ ok: true, claims: decodeClaims(form.get("assertion") ?? "") });
      json(res, 200, { access_token: this.#issue(), expires_in: this.expiresIn, token_type: "Bearer" });
    });
  }

  #issue(): string {
    const token = this.fixedToken ?? `${this.#tokenPrefix}${++this.#counter}-${randomBytes(12).toString("hex")}`;
    this.issued.push(token);
    return token;
  }

  #generateAccessToken(req: IncomingMessage, res: ServerResponse, target: string, body: string): void {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const denied = (code: number, status: string, message: string): void => {
      this.impersonations.push({ target, ok: false });
      json(res, code, { error: { code, message, status } });
    };
    if (req.method !== "POST") return denied(405, "INVALID_ARGUMENT", "POST only");
    if (!bearer || !this.trustsBearer(bearer)) return denied(401, "UNAUTHENTICATED", "Invalid Credentials");
    if (!this.#tokenCreatorOn.has(target)) {
      return denied(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied");
    }
    const scope = (decodeJson(body)?.scope ?? []) as unknown[];
    if (!scope.includes("https://www.googleapis.com/auth/cloud-platform")) {
      return denied(400, "INVALID_ARGUMENT", "Scope required.");
    }
    this.impersonations.push({ target, ok: true });
    const expireTime = new Date(Date.now() + this.expiresIn * 1000).toISOString();
    json(res, 200, { accessToken: this.#issue(), expireTime });
  }

  #refusal(req: IncomingMessage, form: URLSearchParams): Refusal | undefined {
    if (req.method !== "POST" || new URL(req.url ?? "/", "http://x").pathname !== "/token")
      return { status: 404, error: "not_found", description: "not the token path" };
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded"))
      return refused("the body must be form-encoded", "invalid_request");
    if (form.get("grant_type") !== JWT_BEARER) return refused("unsupported grant_type", "unsupported_grant_type");
    return this.#assertionProblem(form.get("assertion") ?? "");
  }

  /** RFC 7523 §3: a valid signature by a key this endpoint made, then the claims. */
  #assertionProblem(assertion: string): Refusal | undefined {
    const [header, payload, signature] = assertion.split(".");
    if (!header || !payload || signature === undefined) return refused("the assertion is not a JWT");
    const head = decodePart(header);
    const claims = decodePart(payload);
    if (head?.alg !== "RS256") return refused("the assertion must be signed with RS256");
    if (!claims) return refused("the assertion's claims are not JSON");
    const keys = [...this.#keys.entries()].filter(([id]) => id.startsWith(`${String(claims.iss)} `));
    const signed = `${header}.${payload}`;
    const valid = keys.some(([, key]) =>
      createVerify("RSA-SHA256").update(signed).verify(key, Buffer.from(signature, "base64url")),
    );
    if (!valid) return refused("Invalid JWT Signature.");
    return claimsProblem(claims, this.url);
  }
}

interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly description: string;
}

function refused(description: string, error = "invalid_grant"): Refusal {
  return { status: 400, error, description };
}

function claimsProblem(claims: Record<string, unknown>, url: string): Refusal | undefined {
  if (claims.aud !== GOOGLE_TOKEN_AUDIENCE && claims.aud !== url) return refused("Invalid JWT audience.");
  const scope = typeof claims.scope === "string" ? claims.scope : "";
  if (!scope.split(" ").includes("https://www.googleapis.com/auth/cloud-platform"))
    return refused("Invalid OAuth scope or ID token audience provided.", "invalid_scope");
  const now = Math.floor(Date.now() / 1000);
  const iat = Number(claims.iat);
  const exp = Number(claims.exp);
  if (!(iat <= now + 60 && exp > now && exp - iat <= 3600))
    return refused("Invalid JWT: Token must be a short-lived token");
  return undefined;
}

function decodePart(part: string): Record<string, unknown> | undefined {
  return decodeJson(Buffer.from(part, "base64url").toString("utf8"));
}

function decodeJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function decodeClaims(assertion: string): Record<string, unknown> {
  return decodePart(assertion.split(".")[1] ?? "") ?? {};
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}
