// A minimal Docker token server for the registry's `auth.token` mode: checks HTTP Basic against a
// user table and issues ES256 JWTs whose `x5c` header carries the signing certificate, which the
// registry verifies against its `rootcertbundle`. Runs in the test process; closed by close().
import { createPrivateKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { PemPair } from "../cluster/local/pki.ts";

export interface TokenServerOptions {
  users: Record<string, string>;
  /** The registry's `auth.token.service`; becomes the token's audience. */
  service: string;
  /** The registry's `auth.token.issuer`. */
  issuer: string;
  /** TLS serving pair for 127.0.0.1. */
  serving: PemPair;
  /** ECDSA P-256 pair whose certificate chains to the registry's `rootcertbundle`. */
  signer: PemPair;
  /** Token lifetime in seconds (default 300). */
  ttlSeconds?: number;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** The base64 DER of the first certificate in a PEM, as JWS `x5c` wants it. */
function x5c(certPem: string): string {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(certPem);
  if (!match?.[1]) throw new Error("no certificate in the signer PEM");
  return match[1].replace(/\s+/g, "");
}

/** Requested scopes (`repository:name:pull,push`) as token `access` entries; this test server grants all. */
function access(scopes: string[]): { type: string; name: string; actions: string[] }[] {
  return scopes.flatMap((scope) => {
    const parts = scope.split(":");
    if (parts.length < 3) return [];
    const type = parts[0] ?? "";
    const actions = (parts.at(-1) ?? "").split(",").filter(Boolean);
    return [{ type, name: parts.slice(1, -1).join(":"), actions }];
  });
}

interface Counters {
  issued: string[];
  refused: number;
}

export class TokenServer {
  readonly realm: string;
  readonly #server: Server;
  readonly #counters: Counters;

  private constructor(server: Server, port: number, counters: Counters) {
    this.#server = server;
    this.#counters = counters;
    this.realm = `https://127.0.0.1:${port}/token`;
  }

  /** Tokens handed out, so tests can check none leaks into results or logs. */
  get issued(): readonly string[] {
    return this.#counters.issued;
  }

  /** Requests refused for bad or missing credentials. */
  get refused(): number {
    return this.#counters.refused;
  }

  static async start(options: TokenServerOptions): Promise<TokenServer> {
    const key = createPrivateKey(options.signer.keyPem);
    const chain = [x5c(options.signer.certPem)];
    const ttl = options.ttlSeconds ?? 300;
    const counters: Counters = { issued: [], refused: 0 };
    const server = createServer({ cert: options.serving.certPem, key: options.serving.keyPem }, (req, res) => {
      const url = new URL(req.url ?? "/", "https://127.0.0.1");
      const reply = (status: number, body: unknown): void => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "GET" || url.pathname !== "/token") return reply(404, { details: "not found" });
      const [scheme, encoded] = (req.headers.authorization ?? "").split(" ");
      const decoded =
        scheme?.toLowerCase() === "basic" && encoded ? Buffer.from(encoded, "base64").toString("utf8") : "";
      const colon = decoded.indexOf(":");
      const user = colon >= 0 ? decoded.slice(0, colon) : "";
      if (colon < 0 || !Object.hasOwn(options.users, user) || options.users[user] !== decoded.slice(colon + 1)) {
        counters.refused++;
        return reply(401, { details: "incorrect username or password" });
      }
      if (url.searchParams.get("service") !== options.service) return reply(400, { details: "unknown service" });
      const token = signToken(key, chain, {
        iss: options.issuer,
        sub: user,
        aud: options.service,
        ttl,
        access: access(url.searchParams.getAll("scope")),
      });
      counters.issued.push(token);
      reply(200, { token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new TokenServer(server, (server.address() as AddressInfo).port, counters);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }
}

function signToken(
  key: KeyObject,
  chain: string[],
  claims: { iss: string; sub: string; aud: string; ttl: number; access: unknown[] },
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: chain }));
  const payload = base64url(
    JSON.stringify({
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      exp: now + claims.ttl,
      nbf: now - 60,
      iat: now,
      jti: randomBytes(12).toString("hex"),
      access: claims.access,
    }),
  );
  // JWS ES256 wants the raw r||s signature, not DER.
  const signature = sign("sha256", Buffer.from(`${header}.${payload}`), { key, dsaEncoding: "ieee-p1363" });
  return `${header}.${payload}.${base64url(signature)}`;
}
