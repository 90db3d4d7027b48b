// A small raw HTTPS client for the benchmark's own (admin) traffic. Raw JSON instead of
// @kubernetes/client-node's model classes: listing 10,000 ServiceAccounts every 500 ms through the
// generated deserialisers would cost the benchmark process more CPU than the patcher uses, on a
// machine whose 2 cores the API server and the patcher need.
import { Agent, request } from "node:https";
import { writeFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { withRetry } from "../src/support/retry.ts";

export interface Connection {
  server: URL;
  caPem: string;
  /** Client certificate (admin) or bearer token (patcher identity). */
  cert?: { certPem: string; keyPem: string } | undefined;
  token?: string | undefined;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable with audit timestamps. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function connectionFromKubeconfig(path: string): Connection {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster?.caData || !user)
    throw new Error(`${path}: expected a cluster with certificate-authority-data and a user`);
  const b64 = (s: string): string => Buffer.from(s, "base64").toString("utf8");
  return {
    server: new URL(cluster.server),
    caPem: b64(cluster.caData),
    cert: user.certData && user.keyData ? { certPem: b64(user.certData), keyPem: b64(user.keyData) } : undefined,
    token: user.token,
  };
}

/** Writes a kubeconfig that authenticates with a bearer token against the same server and CA. */
export function writeTokenKubeconfig(path: string, conn: Connection, token: string, user: string): void {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  writeFileSync(
    path,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: bench",
      "  cluster:",
      `    server: ${conn.server.origin}`,
      `    certificate-authority-data: ${b64(conn.caPem)}`,
      "users:",
      `- name: ${user}`,
      "  user:",
      `    token: ${token}`,
      "contexts:",
      `- name: ${user}`,
      `  context: {cluster: bench, user: ${user}}`,
      `current-context: ${user}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

export class ApiError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(method: string, path: string, status: number, body: string) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 300)}`);
    this.status = status;
    this.body = body;
  }
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
  /** Status codes that resolve instead of throwing (e.g. 404, 409). */
  allow?: number[];
}

/** The fields of Kubernetes objects the benchmark reads. */
export interface KubeObject {
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  imagePullSecrets?: { name?: string }[];
  data?: Record<string, string>;
}

export interface KubeList {
  items?: KubeObject[];
  metadata?: { resourceVersion?: string; continue?: string };
}

export class Api {
  readonly conn: Connection;
  readonly agent: Agent;
  /** Requests this client made, for the report (the benchmark's own load on the API server). */
  requests = 0;

  constructor(conn: Connection, maxSockets = 64) {
    this.conn = conn;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets,
      ca: conn.caPem,
      cert: conn.cert?.certPem,
      key: conn.cert?.keyPem,
    });
  }

  #headers(extra: Record<string, string>): Record<string, string> {
    const h: Record<string, string> = { "user-agent": "ipsp-bench", ...extra };
    if (this.conn.token) h.authorization = `Bearer ${this.conn.token}`;
    return h;
  }

  async call(method: string, path: string, options: RequestOptions = {}): Promise<{ status: number; body: unknown }> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers = this.#headers({ accept: options.accept ?? "application/json" });
    if (payload) {
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = String(payload.length);
    }
    this.requests++;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        new URL(path, this.conn.server),
        { method, agent: this.agent, headers, timeout: 120_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", reject);
      req.end(payload);
    });
    if (status >= 200 && status < 300) return { status, body: text ? (JSON.parse(text) as unknown) : undefined };
    if (options.allow?.includes(status))
      return { status, body: text.startsWith("{") ? (JSON.parse(text) as unknown) : text };
    throw new ApiError(method, path, status, text);
  }

  /** GET; the caller names the shape it expects. */
  async get<T = KubeList>(path: string, options?: RequestOptions): Promise<T> {
    return (await this.call("GET", path, options)).body as T;
  }

  async post<T>(path: string, body: unknown, options: RequestOptions = {}): Promise<T> {
    return (await this.call("POST", path, { ...options, body })).body as T;
  }

  /** Creates unless it exists (409 is fine). */
  async ensure(path: string, body: unknown): Promise<void> {
    await this.call("POST", path, { body, allow: [409] });
  }

  /** Lists every page (limit 2000) and returns the items. */
  async listAll(path: string, accept?: string): Promise<KubeObject[]> {
    const items: KubeObject[] = [];
    let cont = "";
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = await this.get<KubeList>(
        `${path}${sep}limit=2000${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`,
        { accept },
      );
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue ?? "";
    } while (cont);
    return items;
  }

  /**
   * Streams a watch; `onEvent` gets each event with the wall-clock time its line arrived. Resolves
   * when the server closes the watch or `signal` aborts.
   */
  watch(
    path: string,
    onEvent: (type: string, object: KubeObject, receivedAt: number) => void,
    signal: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.conn.server),
        { method: "GET", agent: this.agent, headers: this.#headers({ accept: "application/json" }) },
        (res) => {
          if (res.statusCode !== 200) {
            let text = "";
            res.on("data", (c: Buffer) => (text += c.toString()));
            res.on("end", () => reject(new ApiError("WATCH", path, res.statusCode ?? 0, text)));
            return;
          }
          let buffered = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => {
            const at = nowMs();
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 1);
              if (!line.trim()) continue;
              const ev = JSON.parse(line) as { type: string; object: KubeObject };
              onEvent(ev.type, ev.object, at);
            }
          });
          res.on("end", () => resolve());
          res.on("error", () => resolve());
          res.on("close", () => resolve());
        },
      );
      this.requests++;
      const abort = (): void => {
        req.destroy();
        resolve();
      };
      if (signal.aborted) return abort();
      signal.addEventListener("abort", abort, { once: true });
      req.on("error", (err) => (signal.aborted ? resolve() : reject(err)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** 429, 5xx and connection failures: worth another try. */
function isTransient(err: unknown): boolean {
  const status = err instanceof ApiError ? err.status : 0;
  return status === 0 || status === 429 || status >= 500;
}

/** Retries transient failures (429, 5xx, connection resets) a few times, backing off to 5 s. */
export function retryTransient<T>(work: () => Promise<T>): Promise<T> {
  return withRetry(work, {
    attempts: 8,
    retryable: isTransient,
    delayMs: (attempt) => Math.min(200 * 2 ** (attempt - 1), 5000),
  });
}
