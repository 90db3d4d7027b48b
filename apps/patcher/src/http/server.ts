import { createServer, type Server } from "node:http";
import type { Logger } from "@imagepullsecret-patcher/core";

export interface Probe {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface HttpHandlers {
  health(): Probe;
  ready(): Probe;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** `/diagnostics`: Pods found lacking a copy (JSON); absent: 404. */
  diagnostics?(): unknown;
}

/** `host:port` or `:port` → listen arguments. */
export function parseAddress(address: string): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(":");
  const port = Number(address.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`server.address "${address}" must be host:port or :port`);
  const host = address.slice(0, i) || undefined;
  return { host, port };
}

/** /healthz, /readyz and /metrics. Bodies are JSON details for people; probes read the status. */
export async function startHttpServer(address: string, handlers: HttpHandlers, logger: Logger): Promise<Server> {
  const { host, port } = parseAddress(address);
  const server = createServer((req, res) => {
    const url = req.url?.split("?")[0];
    const send = (probe: Probe): void => {
      res.writeHead(probe.ok ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: probe.ok, ...probe.detail }));
    };
    if (url === "/healthz" || url === "/livez") return send(handlers.health());
    if (url === "/readyz") return send(handlers.ready());
    if (url === "/diagnostics" && handlers.diagnostics) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(handlers.diagnostics()));
      return;
    }
    if (url === "/metrics") {
      handlers.metrics().then(
        ({ contentType, body }) => {
          res.writeHead(200, { "content-type": contentType });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "EADDRINUSE"
            ? `server.address ${address} is already in use`
            : `cannot listen on ${address}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  logger.info(
    { address: typeof bound === "object" && bound ? `${bound.address}:${bound.port}` : address },
    "serving /healthz, /readyz and /metrics",
  );
  return server;
}
