// A real token endpoint on 127.0.0.1 for the tests (node:http, or node:https with the fixture certificate).
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface Answer {
  readonly status: number;
  /** An object is sent as JSON; a string as is. */
  readonly body?: unknown;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface TokenServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly origin: string;
  readonly requests: RecordedRequest[];
  /** What every request gets from now on. */
  answer(answer: Answer | ((req: RecordedRequest) => Answer)): void;
  close(): Promise<void>;
}

const FIXTURES = new URL("../../test/fixtures/", import.meta.url);
export const FIXTURE_CERT_FILE = new URL("localhost-cert.pem", FIXTURES).pathname;

/** Starts the server; `tls` serves https with the self-signed localhost certificate in test/fixtures. */
export async function startTokenServer(options: { tls?: boolean } = {}): Promise<TokenServer> {
  let current: (req: RecordedRequest) => Answer = () => ({ status: 503, body: { error: "no answer set" } });
  const requests: RecordedRequest[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    req.on("end", () => {
      const recorded: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers };
      requests.push(recorded);
      const { status, body } = current(recorded);
      const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  };
  const server: Server = options.tls
    ? createHttpsServer(
        { key: readFileSync(new URL("localhost-key.pem", FIXTURES)), cert: readFileSync(FIXTURE_CERT_FILE) },
        handle,
      )
    : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    requests,
    answer: (answer) => {
      current = typeof answer === "function" ? answer : () => answer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
