// The HTTPS plumbing the Azure stand-ins share: a server on 127.0.0.1 that can go down and come back on
// the same port (an outage, not a new endpoint), form and JSON helpers, and a request log.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ServingPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
}

export type Handler = (request: StandInRequest) => Reply | Promise<Reply>;

export interface StandInRequest {
  readonly method: string;
  readonly path: string;
  readonly host: string;
  readonly form: URLSearchParams;
}

/** An HTTPS server with a fixed port across stop() and start(). */
export class HttpsStandIn {
  readonly #handler: Handler;
  readonly #tls: ServingPair;
  #server: Server | undefined;
  #port = 0;
  /** Method and path of every request, in order. */
  readonly requests: { method: string; path: string }[] = [];

  constructor(tls: ServingPair, handler: Handler) {
    this.#tls = tls;
    this.#handler = handler;
  }

  get port(): number {
    return this.#port;
  }

  /** `127.0.0.1:<port>`: the host part of URLs, and the registry name for the exchange stand-in. */
  get host(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get origin(): string {
    return `https://${this.host}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer({ cert: this.#tls.certPem, key: this.#tls.keyPem }, (req, res) => {
      void this.#serve(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Refuses connections from now on (ECONNREFUSED) until start(); open connections are cut. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = req.url ?? "/";
    this.requests.push({ method: req.method ?? "", path });
    const isForm = (req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded");
    let reply: Reply;
    try {
      reply = await this.#handler({
        method: req.method ?? "",
        path,
        host: req.headers.host ?? "",
        form: new URLSearchParams(isForm ? body : ""),
      });
    } catch (err) {
      reply = { status: 500, body: { error: "stand_in_failure", error_description: String(err) } };
    }
    const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }
}

const base64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

/**
 * A JWT-shaped token with `claims`. Nobody verifies these signatures; the third part starts with
 * `marker` so a scan for that text finds the token wherever it leaked, and is random so every
 * token differs.
 */
export function fakeJwt(claims: Record<string, unknown>, marker: string, random: string): string {
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  return `${header}.${base64url(JSON.stringify(claims))}.${marker}${random}`;
}
