/* eslint-disable -- an untyped what-if monkeypatch of a third-party class, described below */
// What-if experiment for BENCHMARKS.md — NOT a fix and not part of the default benchmark.
//
// @kubernetes/client-node 2.0.1 builds a new undici Agent in KubeConfig.applySecurityAuthentication
// for every request (config.js: createDispatcher), so every API call opens a new TCP connection and
// does a TLS handshake. This preload makes createDispatcher return one Agent per KubeConfig and
// cluster, to measure what connection reuse would change. Used only with:
//   pnpm bench -- --patcher-node-args "--import ./e2e/bench/experiments/shared-dispatcher.mjs" ...
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Resolve client-node the way the patcher does, so this patches the instance it loads.
const require = createRequire(new URL("../../../apps/patcher/package.json", import.meta.url));
const { KubeConfig } = await import(pathToFileURL(require.resolve("@kubernetes/client-node")).href);

const original = KubeConfig.prototype.createDispatcher;
const cache = new WeakMap();
KubeConfig.prototype.createDispatcher = function createDispatcher(cluster, agentOptions) {
  let byCluster = cache.get(this);
  if (!byCluster) cache.set(this, (byCluster = new Map()));
  const key = `${cluster?.name ?? ""} ${cluster?.server ?? ""}`;
  let dispatcher = byCluster.get(key);
  if (dispatcher === undefined) {
    dispatcher = original.call(this, cluster, agentOptions);
    byCluster.set(key, dispatcher);
  }
  return dispatcher;
};
process.stderr.write("[bench experiment] client-node: one shared dispatcher per KubeConfig\n");
