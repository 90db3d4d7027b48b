// Scenario 0: the API server's write ceiling on this machine, measured in the same run. Before the
// patcher starts, a tight keep-alive client (the admin credentials, a few connections, every one
// busy) creates one Secret in each benchmark namespace, the patcher's own write shape, then
// deletes them. The patcher's cold-start writes/s are reported as a ratio to this figure.
import { pool } from "../../src/support/pool.ts";
import { Api, nowMs, retryTransient } from "../kube.ts";
import { secs, type BenchEnv } from "./common.ts";
import type { CeilingResult } from "./results.ts";

const PROBE_NAME = "ipsp-bench-ceiling";

/** Connections of the probe client; each has one request in flight (HTTP/1.1). */
export const CEILING_CONNECTIONS = 8;

export async function ceiling(env: BenchEnv, namespaces: readonly string[]): Promise<CeilingResult> {
  const client = new Api(env.cluster.admin.conn, CEILING_CONNECTIONS);
  const sockets = new Set<unknown>();
  client.agent.on("free", (socket) => sockets.add(socket));
  const secret = (namespace: string): unknown => ({
    metadata: { name: PROBE_NAME, namespace, labels: { "ipsp-bench": "ceiling" } },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": env.cluster.sourceValue },
  });
  try {
    const t0 = nowMs();
    await pool([...namespaces], CEILING_CONNECTIONS, async (ns) => {
      await retryTransient(() => client.post(`/api/v1/namespaces/${ns}/secrets`, secret(ns)));
    });
    const t1 = nowMs();
    await pool([...namespaces], CEILING_CONNECTIONS, async (ns) => {
      await retryTransient(() =>
        client.call("DELETE", `/api/v1/namespaces/${ns}/secrets/${PROBE_NAME}`, { allow: [404] }),
      );
    });
    const t2 = nowMs();
    const result: CeilingResult = {
      writes: namespaces.length,
      connections: CEILING_CONNECTIONS,
      inFlight: CEILING_CONNECTIONS,
      socketsUsed: sockets.size,
      createSeconds: secs(t1 - t0),
      writesPerSecond: Math.round((namespaces.length / ((t1 - t0) / 1000)) * 10) / 10,
      deletesPerSecond: Math.round((namespaces.length / ((t2 - t1) / 1000)) * 10) / 10,
      requests: client.requests,
    };
    env.log(
      `ceiling: ${result.writes} Secret creates in ${result.createSeconds} s = ${result.writesPerSecond} writes/s ` +
        `(${CEILING_CONNECTIONS} keep-alive connections); deletes ${result.deletesPerSecond}/s`,
    );
    return result;
  } finally {
    client.close();
  }
}
