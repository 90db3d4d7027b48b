import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { webhookLabelInPath, type Logger } from "@imagepullsecret-patcher/core";
import { parseAddress } from "../http/server.js";

/** The API server sends at most 3 MiB per request; a Pod's AdmissionReview is far smaller. */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Below the webhook's own timeout, so a stuck client never holds a socket for long. */
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** Longer than the webhook's timeout (at most 30 s, 2 s by default) is pointless: the API server gave up. */
const CLOSE_GRACE_MS = 2_000;

/** A certificate and key in PEM. */
export interface ServingCertificate {
  certPem: string;
  keyPem: string;
}

/** Answers one AdmissionReview for the mapping whose webhook label is in the path. */
export type ReviewHandler = (mappingLabel: string, body: unknown) => Promise<{ status: number; body: unknown }>;

export interface AdmissionServer {
  readonly server: Server;
  /** The bound port (useful with ":0"). */
  readonly port: number;
  /** Serves new connections with a new certificate; connections already open keep theirs. */
  setCertificate(certificate: ServingCertificate): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function route(req: IncomingMessage, res: ServerResponse, handle: ReviewHandler, logger: Logger): Promise<void> {
  const path = req.url?.split("?")[0] ?? "";
  if (req.method === "GET" && path === "/healthz") return sendJson(res, 200, { ok: true });
  const mapping = req.method === "POST" ? webhookLabelInPath(path) : undefined;
  if (mapping === undefined) return sendJson(res, 404, { error: "not found" });
  let body: unknown;
  try {
    body = JSON.parse(await readBody(req)) as unknown;
  } catch (err) {
    return sendJson(res, 400, {
      error: `not a JSON AdmissionReview: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
  try {
    const answer = await handle(mapping, body);
    sendJson(res, answer.status, answer.body);
  } catch (err) {
    // failurePolicy Ignore: the API server admits the Pod unchanged; the ServiceAccount path still applies.
    logger.warn({ mapping, error: err instanceof Error ? err.message : String(err) }, "admission review failed");
    sendJson(res, 500, { error: "admission review failed" });
  }
}

/** The HTTPS listener the API server calls: POST /mutate-pods/<mapping>, and GET /healthz. */
export async function startAdmissionServer(
  address: string,
  certificate: ServingCertificate,
  handle: ReviewHandler,
  logger: Logger,
): Promise<AdmissionServer> {
  const { host, port } = parseAddress(address);
  const server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
    void route(req, res, handle, logger);
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  // Node closes an idle keep-alive connection after 5 s by default. A review sent on that connection at
  // the same moment fails, and failurePolicy Ignore then admits the Pod without the copy. Outlast the
  // API server's own idle timeout (90 s, Go's default for webhook clients), so that it closes first.
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(new Error(`webhook.address ${address}: ${err.code === "EADDRINUSE" ? "already in use" : err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === "object" && bound ? bound.port : port;
  logger.info({ address: `${host ?? "0.0.0.0"}:${boundPort}` }, "serving the pod admission webhook");
  return {
    server,
    port: boundPort,
    setCertificate: (next) => server.setSecureContext({ cert: next.certPem, key: next.keyPem }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // The API server keeps connections open between reviews; a review in flight gets this long.
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      }),
  };
}
