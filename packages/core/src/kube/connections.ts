// One keep-alive connection pool per cluster identity for everything built from a KubeConfig.
//
// client-node 2.0.1 builds a new undici Agent, so a new TLS connection, for every request
// (KubeConfig.applySecurityAuthentication calls this.createDispatcher each time). We replace that
// method on the instance with a memoised one: requests and watches made from the same KubeConfig
// then share one Agent per distinct TLS identity, without forking client-node.
//
// Watches and ordinary requests share the pool: an undici Agent opens as many connections per origin
// as there are concurrent requests (HTTP/1.1), or multiplexes streams over one (HTTP/2), so a
// long-running watch never blocks a write; a separate pool would only add connections.
import { createHash } from "node:crypto";
import type { AgentOptions } from "node:https";
import type { Cluster, KubeConfig } from "@kubernetes/client-node";
import { Agent, buildConnector, type Dispatcher } from "undici";

/** As client-go: TCP keep-alive probes after 30 s, under cloud load balancers' 60 s idle timeouts. */
const KEEP_ALIVE_INITIAL_DELAY_MS = 30_000;
/** How long an idle connection stays in the pool: below the API server's and load balancers' idle timeouts. */
const IDLE_TIMEOUT_MS = 30_000;

export interface ShareConnectionsOptions {
  /** Called once per TLS/TCP connection opened to the API server (for a metric). */
  onConnectionOpened?: () => void;
}

/** The shared pool of one KubeConfig. */
export interface SharedConnections {
  /** TLS/TCP connections opened to the API server since shareConnections(). */
  opened(): number;
  /** Agents currently in the pool: one per cluster and TLS identity in use. */
  agents(): number;
  /** Closes every Agent after its in-flight requests (watches included) end. */
  close(): Promise<void>;
}

type DispatcherFactory = (cluster: Cluster | null, agentOptions: AgentOptions) => Dispatcher | undefined;

interface Pooled {
  identity: string;
  dispatcher: Dispatcher | undefined;
}

/** The part of KubeConfig we replace; private in client-node's types, called through `this`. */
interface WithDispatcherFactory {
  createDispatcher: DispatcherFactory;
}

const shared = new WeakMap<KubeConfig, SharedConnections>();

/**
 * Makes every API client and watch built from `kubeConfig` reuse one keep-alive undici Agent per
 * cluster and TLS identity (server, CA, client certificate and key, servername, rejectUnauthorized,
 * proxy). When the identity of a cluster changes (a rotated client certificate file), a new Agent is
 * made and the old one is closed once its in-flight requests end. Calling it again on the same
 * KubeConfig returns the same handle (and ignores the new options).
 */
export function shareConnections(kubeConfig: KubeConfig, options: ShareConnectionsOptions = {}): SharedConnections {
  const existing = shared.get(kubeConfig);
  if (existing) return existing;
  const target = kubeConfig as unknown as WithDispatcherFactory;
  const original = target.createDispatcher.bind(kubeConfig);
  const byCluster = new Map<string, Pooled>();
  let opened = 0;
  const counted = (): void => {
    opened++;
    options.onConnectionOpened?.();
  };

  target.createDispatcher = (cluster, agentOptions) => {
    const clusterKey = `${cluster?.name ?? ""}\n${cluster?.server ?? ""}`;
    const identity = identityOf(cluster, agentOptions);
    const current = byCluster.get(clusterKey);
    if (current?.identity === identity) return current.dispatcher;
    const dispatcher = build(kubeConfig, cluster, agentOptions, original, counted);
    byCluster.set(clusterKey, { identity, dispatcher });
    // close() lets in-flight requests finish; nothing new is sent through the old Agent.
    if (current?.dispatcher) void current.dispatcher.close().catch(() => undefined);
    return dispatcher;
  };

  const handle: SharedConnections = {
    opened: () => opened,
    agents: () => [...byCluster.values()].filter((p) => p.dispatcher !== undefined).length,
    close: async () => {
      const pooled = [...byCluster.values()];
      byCluster.clear();
      await Promise.all(pooled.map(async (p) => p.dispatcher?.close().catch(() => undefined)));
    },
  };
  shared.set(kubeConfig, handle);
  return handle;
}

/** A direct TLS Agent with a counting connector; proxies are client-node's own (connections not counted). */
function build(
  kubeConfig: KubeConfig,
  cluster: Cluster | null,
  agentOptions: AgentOptions,
  original: DispatcherFactory,
  counted: () => void,
): Dispatcher | undefined {
  const options = kubeConfig.createDispatcherOptions(cluster, agentOptions);
  if (options.type !== "agent") return original(cluster, agentOptions);
  const connector = buildConnector({
    ...(options.connect as buildConnector.BuildOptions),
    keepAlive: true,
    keepAliveInitialDelay: KEEP_ALIVE_INITIAL_DELAY_MS,
  });
  return new Agent({
    keepAliveTimeout: IDLE_TIMEOUT_MS,
    connect: (connectOptions, callback) =>
      connector(connectOptions, (...args) => {
        if (args[0] === null) counted();
        callback(...args);
      }),
  });
}

/** A digest of what makes two connections interchangeable; key material never leaves this function. */
function identityOf(cluster: Cluster | null, agentOptions: AgentOptions): string {
  const hash = createHash("sha256");
  const parts: unknown[] = [
    cluster?.server,
    cluster?.proxyUrl,
    cluster?.skipTLSVerify,
    agentOptions.ca,
    agentOptions.cert,
    agentOptions.key,
    agentOptions.pfx,
    agentOptions.passphrase,
    agentOptions.servername,
    agentOptions.rejectUnauthorized,
  ];
  for (const part of parts) {
    for (const item of Array.isArray(part) ? part : [part]) hash.update(serialise(item)).update("\0");
    hash.update("\u0001");
  }
  return hash.digest("hex");
}

function serialise(value: unknown): string | Buffer {
  if (value === undefined || value === null) return "";
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === "string") return value;
  if (typeof value === "object" && "buf" in value) return serialise(value.buf);
  return typeof value === "number" || typeof value === "boolean" ? String(value) : JSON.stringify(value);
}
