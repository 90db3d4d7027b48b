import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import { InMemoryLock } from "@imagepullsecret-patcher/core";
import { sampleDockerConfigJson } from "@imagepullsecret-patcher/core/testing";
import { createJsonLogger } from "./logger.js";
import { startElectedController, type ElectedController } from "./elected.js";

/** A cluster nobody listens at: a leader's engine keeps retrying until its term ends. */
function unreachableCluster(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "nowhere", server: "http://127.0.0.1:9", skipTLSVerify: true }],
    users: [{ name: "u", token: "t" }],
    contexts: [{ name: "c", cluster: "nowhere", user: "u" }],
    currentContext: "c",
  });
  return kc;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("startElectedController (in-memory lock, no cluster)", () => {
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "embedded-ha-"));
    path = join(dir, "config.json");
    await writeFile(path, sampleDockerConfigJson("embedded-ha"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("runs the engine only in the leader, and hands over when the leader stops", async () => {
    const lock = new InMemoryLock();
    const replicas = ["a", "b"].map((identity) => {
      const lines: string[] = [];
      const stop = new AbortController();
      const logger = createJsonLogger({
        stream: { write: (l: string) => lines.push(l) },
        level: "info",
        fields: { replica: identity },
      });
      const controller: ElectedController = startElectedController({
        kubeConfig: unreachableCluster(),
        signal: stop.signal,
        source: { file: { path } },
        logger,
        recordEvents: false,
        leaderElection: {
          namespace: "ns",
          identity,
          leaseDurationMs: 1000,
          renewDeadlineMs: 600,
          retryPeriodMs: 100,
          lock,
        },
      });
      const messages = (): string[] => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
      return { identity, stop, controller, messages };
    });
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];

    await until("a leader", () => replicas.some((r) => r.controller.elector.isLeader));
    const [leader, follower] = a.controller.elector.isLeader ? [a, b] : [b, a];
    await until("the leader's engine", () => leader.messages().includes("engine started"));
    await sleep(300);
    expect(follower.controller.elector.isLeader).toBe(false);
    expect(follower.controller.elector.currentLeader).toBe(leader.identity);
    expect(follower.messages()).not.toContain("engine started");
    expect(follower.controller.status()).toEqual([]);

    leader.stop.abort();
    await leader.controller.done;
    expect(leader.messages()).toContain("controller stopped");
    expect(lock.stored?.record.holderIdentity).not.toBe(leader.identity);
    await until("the follower to take over", () => follower.messages().includes("engine started"));
    expect(follower.controller.elector.isLeader).toBe(true);
    expect(lock.stored?.record).toMatchObject({ holderIdentity: follower.identity, leaderTransitions: 1 });

    follower.stop.abort();
    await follower.controller.done;
    expect(lock.stored?.record.holderIdentity).toBe("");
  }, 30_000);
});
