// A stand-in for the Google Compute Engine / GKE metadata server, enough for google-auth-library's
// Compute client and gcp-metadata (pointed at it with GCE_METADATA_HOST=127.0.0.1:PORT).
//
// Wire format, as documented:
// - https://cloud.google.com/compute/docs/metadata/querying-metadata : every request carries
//   `Metadata-Flavor: Google` (refused with 403 otherwise) and every answer carries it back;
// - https://cloud.google.com/compute/docs/access/authenticate-workloads#applications :
//   GET /computeMetadata/v1/instance/service-accounts/default/token[?scopes=a,b] answers
//   `{"access_token": "…", "expires_in": 3599, "token_type": "Bearer"}`;
// - https://cloud.google.com/kubernetes-engine/docs/concepts/workload-identity#metadata_server :
//   the GKE metadata server serves the same paths to Pods.
// gcp-metadata's availability probe is GET /computeMetadata/v1/instance (it needs the header back),
// and GoogleAuth asks for project/project-id; both are served. Other paths get 404.
//
// This file has no imports besides node: ones, so the package's tests keep an identical copy.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const BASE = "/computeMetadata/v1/";
const TOKEN_PATH = "instance/service-accounts/default/token";

export interface MetadataServerOptions {
  /** Start of every issued token; tests use a marker they can search logs and Events for. */
  readonly tokenPrefix?: string;
  readonly projectId?: string;
  readonly serviceAccountEmail?: string;
}

/** One request the stand-in received (the query string holds only `scopes`). */
export interface MetadataRequest {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly flavor: string | undefined;
}

/** A metadata server on 127.0.0.1 whose token answers the test controls. */
export class MetadataServer {
  /** `127.0.0.1:PORT`: the value for GCE_METADATA_HOST. */
  host = "";
  readonly requests: MetadataRequest[] = [];
  /** Every access token handed out, in order. */
  readonly issued: string[] = [];
  /** `expires_in` of the next answers, in seconds. */
  expiresIn = 3599;
  /** When set, token requests get this HTTP status (and a plain-text body) instead of a token. */
  failWith: number | undefined;
  /** When set, the next token answers carry this token instead of a new one (`""` or junk to test refusal). */
  fixedToken: string | undefined;

  readonly #options: MetadataServerOptions;
  #server: Server | undefined;
  #port = 0;
  #counter = 0;

  private constructor(options: MetadataServerOptions) {
    this.#options = options;
  }

  static async start(options: MetadataServerOptions = {}): Promise<MetadataServer> {
    const server = new MetadataServer(options);
    await server.resume();
    return server;
  }

  /** Token requests so far. */
  tokenRequests(): MetadataRequest[] {
    return this.requests.filter((r) => r.path === TOKEN_PATH);
  }

  /** Stops listening (connections are refused) until {@link resume}; the port is kept. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  }

  /** Listens again, on the same port after a {@link stop}. */
  async resume(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    this.host = `127.0.0.1:${this.#port}`;
  }

  close(): Promise<void> {
    return this.stop();
  }

  #nextToken(): string {
    if (this.fixedToken !== undefined) return this.fixedToken;
    this.#counter++;
    return `${this.#options.tokenPrefix ?? "ya29.standin-"}${this.#counter}-${randomBytes(12).toString("hex")}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://metadata.invalid");
    const flavor = req.headers["metadata-flavor"];
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : url.pathname;
    this.requests.push({
      path,
      query: Object.fromEntries(url.searchParams),
      flavor: typeof flavor === "string" ? flavor : undefined,
    });
    if (flavor !== "Google") return send(res, 403, "text/plain", "Missing Metadata-Flavor:Google header.");
    if (req.method !== "GET") return send(res, 405, "text/plain", "Method not allowed.");
    if (path === TOKEN_PATH) return this.#token(res);
    const text = this.#plain(path);
    if (text === undefined) return send(res, 404, "text/html", "<p>Not Found</p>");
    send(res, 200, "application/text", text);
  }

  #token(res: ServerResponse): void {
    if (this.failWith !== undefined) return send(res, this.failWith, "text/plain", "metadata stand-in failing");
    const token = this.#nextToken();
    this.issued.push(token);
    const body = JSON.stringify({ access_token: token, expires_in: this.expiresIn, token_type: "Bearer" });
    send(res, 200, "application/json", body);
  }

  #plain(path: string): string | undefined {
    const email = this.#options.serviceAccountEmail ?? "default-sa@standin-project.iam.gserviceaccount.com";
    const answers: Record<string, string> = {
      instance: "attributes/\nhostname\nid\nservice-accounts/\nzone\n",
      "instance/": "attributes/\nhostname\nid\nservice-accounts/\nzone\n",
      "instance/service-accounts/": "default/\n",
      "instance/service-accounts/default/email": email,
      "instance/service-accounts/default/scopes": "https://www.googleapis.com/auth/cloud-platform\n",
      "project/project-id": this.#options.projectId ?? "standin-project",
      "project/numeric-project-id": "123456789012",
      "universe/universe-domain": "googleapis.com",
    };
    return answers[path];
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    "Metadata-Flavor": "Google",
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}
