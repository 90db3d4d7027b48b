// The reflector against a scripted API server on 127.0.0.1: real HTTP through client-node (list
// pages, watch streams, status codes and headers), each response written by the test.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CoreV1Api, KubeConfig, type V1Namespace } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { Reflector, type ReflectorObserver } from "./reflector.js";
import { namespaceView, type CachedNamespace } from "./views.js";

type ListHandler = (query: URLSearchParams, call: number, res: ServerResponse) => void;
type WatchHandler = (query: URLSearchParams, call: number, res: ServerResponse) => void;

interface Request {
  readonly watch: boolean;
  readonly query: URLSearchParams;
  readonly at: number;
}

/** An API server whose list and watch answers are written by the test, call by call. */
class ScriptedServer {
  readonly requests: Request[] = [];
  readonly #server: Server;
  #lists = 0;
  #watches = 0;
  list: ListHandler = (_q, _n, res) => sendList(res, [], "1");
  watch: WatchHandler = () => undefined;

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  async listen(): Promise<KubeConfig> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    const { port } = this.#server.address() as AddressInfo;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "scripted", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "scripted" }],
      contexts: [{ name: "scripted", cluster: "scripted", user: "scripted" }],
      currentContext: "scripted",
    });
    return kc;
  }

  lists(): Request[] {
    return this.requests.filter((r) => !r.watch);
  }

  watches(): Request[] {
    return this.requests.filter((r) => r.watch);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://scripted");
    const watch = url.searchParams.get("watch") === "true";
    this.requests.push({ watch, query: url.searchParams, at: Date.now() });
    if (watch) this.watch(url.searchParams, this.#watches++, res);
    else this.list(url.searchParams, this.#lists++, res);
  }
}

function ns(name: string, resourceVersion: string): V1Namespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, resourceVersion, uid: `uid-${name}` },
    status: { phase: "Active" },
  };
}

function sendList(res: ServerResponse, items: V1Namespace[], resourceVersion: string, cont?: string): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      apiVersion: "v1",
      kind: "NamespaceList",
      metadata: { resourceVersion, ...(cont ? { continue: cont } : {}) },
      items,
    }),
  );
}

function sendStatus(res: ServerResponse, code: number, reason: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(
    JSON.stringify({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason,
      code,
      message: `${reason} (scripted)`,
    }),
  );
}

/** Starts a watch stream: 200 and headers now, events when `send` is called. */
function openWatch(res: ServerResponse): { send(type: string, object: object): void; end(): void } {
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  res.flushHeaders();
  return {
    send: (type, object) => res.write(`${JSON.stringify({ type, object })}\n`),
    end: () => res.end(),
  };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Harness {
  server: ScriptedServer;
  reflector: Reflector<V1Namespace, CachedNamespace>;
  events: string[];
  restarts: string[];
  problems: (string | undefined)[];
  start(): void;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(options: { inactivityTimeoutMs?: number; pageSize?: number } = {}): Promise<Harness> {
  const server = new ScriptedServer();
  const kubeConfig = await server.listen();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const events: string[] = [];
  const restarts: string[] = [];
  const problems: (string | undefined)[] = [];
  const observer: ReflectorObserver = { onWatchRestart: (_name, reason) => restarts.push(reason) };
  const reflector = new Reflector<V1Namespace, CachedNamespace>({
    name: "namespaces",
    kubeConfig,
    watchPath: "/api/v1/namespaces",
    list: (p) => core.listNamespace(p),
    transform: namespaceView,
    key: (n) => n.name,
    logger: silentLogger,
    observer,
    pageSize: options.pageSize,
    inactivityTimeoutMs: options.inactivityTimeoutMs,
    backoffMs: [10, 50],
    onProblem: (p) => problems.push(p),
  });
  reflector.on({
    add: (n) => events.push(`add ${n.name}`),
    update: (_o, n) => events.push(`update ${n.name}`),
    delete: (n) => events.push(`delete ${n.name}`),
    synced: () => events.push("synced"),
  });
  const controller = new AbortController();
  let running: Promise<void> | undefined;
  cleanups.push(async () => {
    controller.abort();
    const stopped = Date.now();
    await running;
    // Stopping never waits on the server (a watch that has not answered, a backoff).
    expect(Date.now() - stopped).toBeLessThan(1_000);
    await server.close();
  });
  return {
    server,
    reflector,
    events,
    restarts,
    problems,
    start: () => {
      running = reflector.run(controller.signal);
    },
  };
}

describe("Reflector against a scripted API server", () => {
  it("lists every page, then watches from the listed resourceVersion and applies events", async () => {
    const h = await harness({ pageSize: 2 });
    h.server.list = (q, _n, res) => {
      if (!q.get("continue")) sendList(res, [ns("a", "11"), ns("b", "12")], "x-100", "page-2");
      else sendList(res, [ns("c", "13")], "x-101");
    };
    let stream: ReturnType<typeof openWatch> | undefined;
    h.server.watch = (_q, _n, res) => (stream = openWatch(res));
    h.start();
    await until("the watch", () => stream);
    expect(h.server.lists().map((r) => [r.query.get("limit"), r.query.get("continue")])).toEqual([
      ["2", null],
      ["2", "page-2"],
    ]);
    expect(h.server.watches()[0]?.query.get("resourceVersion")).toBe("x-101");
    expect(h.server.watches()[0]?.query.get("allowWatchBookmarks")).toBe("true");
    expect(h.events).toEqual(["add a", "add b", "add c", "synced"]);
    expect(h.reflector.hasSynced).toBe(true);

    stream?.send("ADDED", ns("d", "14"));
    stream?.send("MODIFIED", ns("a", "15"));
    stream?.send("DELETED", ns("b", "16"));
    await until("the events", () => h.events.length === 7);
    expect(h.events.slice(4)).toEqual(["add d", "update a", "delete b"]);
    expect([...h.reflector.list()].map((n) => `${n.name}@${n.resourceVersion}`).sort()).toEqual([
      "a@15",
      "c@13",
      "d@14",
    ]);
  });

  it("resumes a watch from the last bookmark without relisting", async () => {
    const h = await harness();
    h.server.list = (_q, _n, res) => sendList(res, [ns("a", "1")], "list-rv");
    h.server.watch = (_q, call, res) => {
      const stream = openWatch(res);
      if (call === 0) {
        stream.send("BOOKMARK", { kind: "Namespace", apiVersion: "v1", metadata: { resourceVersion: "bookmark-rv" } });
        stream.end();
      }
    };
    h.start();
    await until("a second watch", () => h.server.watches().length >= 2);
    expect(h.server.watches().map((r) => r.query.get("resourceVersion"))).toEqual(["list-rv", "bookmark-rv"]);
    expect(h.server.lists()).toHaveLength(1);
    expect(h.events).toEqual(["add a", "synced"]);
  });

  it("relists on 410 Gone, and fires deletes for objects removed while it was not watching", async () => {
    const h = await harness();
    h.server.list = (_q, call, res) =>
      call === 0 ? sendList(res, [ns("a", "1"), ns("b", "2")], "10") : sendList(res, [ns("a", "3")], "20");
    h.server.watch = (_q, call, res) => {
      const stream = openWatch(res);
      if (call === 0)
        stream.send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" });
    };
    h.start();
    await until("the relist", () => h.server.watches().length >= 2);
    expect(h.server.lists()).toHaveLength(2);
    expect(h.restarts[0]).toBe("gone");
    expect(h.events).toEqual(["add a", "add b", "synced", "delete b", "update a", "synced"]);
    expect(h.server.watches()[1]?.query.get("resourceVersion")).toBe("20");
  });

  it("relists when the watch request itself is refused with 410", async () => {
    const h = await harness();
    h.server.list = (_q, call, res) => sendList(res, [], String(call));
    h.server.watch = (_q, call, res) => (call === 0 ? sendStatus(res, 410, "Gone") : openWatch(res));
    h.start();
    await until("the relist", () => h.server.watches().length >= 2);
    expect(h.server.lists()).toHaveLength(2);
  });

  it("waits as long as a 429's Retry-After asks, longer than its own backoff", async () => {
    const h = await harness();
    h.server.list = (_q, call, res) =>
      call === 0 ? sendStatus(res, 429, "TooManyRequests", { "retry-after": "1" }) : sendList(res, [], "5");
    h.server.watch = (_q, _n, res) => openWatch(res);
    h.start();
    await until("the second list", () => h.server.lists().length >= 2, 5_000);
    const [first, second] = h.server.lists();
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(950);
    await until("synced", () => h.reflector.hasSynced);
    expect(h.problems).toEqual([expect.stringContaining("list /api/v1/namespaces failed: HTTP 429"), undefined]);
  });

  it("replaces a watch that went silent (watchdog), then relists", async () => {
    const h = await harness({ inactivityTimeoutMs: 300 });
    h.server.list = (_q, call, res) => sendList(res, [ns("a", String(call + 1))], `list-${call}`);
    h.server.watch = (_q, _n, res) => openWatch(res); // headers, then nothing at all
    h.start();
    await until("the watchdog", () => h.server.watches().length >= 2, 5_000);
    expect(h.server.lists()).toHaveLength(2);
    expect(h.restarts[0]).toBe("watchdog");
    expect(h.server.watches()[1]?.query.get("resourceVersion")).toBe("list-1");
  });

  it("reports a watch refused with 403 (naming the verb), keeps relisting, and clears it once the watch works", async () => {
    const h = await harness();
    let forbidden = true;
    h.server.list = (_q, call, res) => sendList(res, [ns("a", String(call + 1))], String(call + 1));
    h.server.watch = (_q, _n, res) => (forbidden ? sendStatus(res, 403, "Forbidden") : openWatch(res));
    h.start();
    const problem = await until("the problem", () => h.reflector.problem);
    expect(problem).toBe('watch /api/v1/namespaces failed: HTTP 403 (RBAC: the patcher needs "watch" here)');
    // Each refused watch is followed by a relist, so the cache does not freeze.
    await until("relists", () => h.events.filter((e) => e === "update a").length >= 2);
    forbidden = false;
    await until("the problem cleared", () => h.reflector.problem === undefined && h.server.watches().length > 0);
    const lists = h.server.lists().length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.server.lists().length).toBeLessThanOrEqual(lists + 1);
    expect(h.problems.at(-1)).toBeUndefined();
  });

  it("reports a list refused with 403 and retries with backoff", async () => {
    const h = await harness();
    let forbidden = true;
    h.server.list = (_q, _n, res) => (forbidden ? sendStatus(res, 403, "Forbidden") : sendList(res, [], "1"));
    h.server.watch = (_q, _n, res) => openWatch(res);
    h.start();
    const problem = await until("the problem", () => h.reflector.problem);
    expect(problem).toBe(
      'list /api/v1/namespaces failed: HTTP 403 Forbidden: Forbidden (scripted) (RBAC: the patcher needs "list" here)',
    );
    expect(h.reflector.hasSynced).toBe(false);
    forbidden = false;
    await until("synced", () => h.reflector.hasSynced);
    expect(h.reflector.problem).toBeUndefined();
  });
});
