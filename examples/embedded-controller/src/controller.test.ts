import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import { sampleDockerConfigJson } from "@imagepullsecret-patcher/core/testing";
import { createJsonLogger } from "./logger.js";
import { startController } from "./controller.js";

/** A cluster nobody listens at: the engine keeps retrying until it is told to stop. */
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

describe("startController lifecycle (no cluster)", () => {
  let dir: string;
  let path: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "embedded-"));
    path = join(dir, "config.json");
    await writeFile(path, sampleDockerConfigJson("embedded-test"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("starts, keeps trying while the API server is unreachable, and stops when the signal aborts", async () => {
    const lines: string[] = [];
    const stop = new AbortController();
    // Stop once the engine has started and its source has read the file (on a busy machine that
    // can come well after the engine starts listing).
    const seen = (msg: string): boolean => lines.some((l) => l.includes(`"msg":"${msg}"`));
    const write = (line: string): void => {
      lines.push(line);
      if (seen("engine started") && seen("credential file loaded") && !stop.signal.aborted) {
        setTimeout(() => stop.abort(), 50);
      }
    };
    const logger = createJsonLogger({ stream: { write }, level: "debug" });
    const signals = ["SIGINT", "SIGTERM"].map((s) => process.listenerCount(s));
    const controller = await startController({
      kubeConfig: unreachableCluster(),
      signal: stop.signal,
      source: { file: { path } },
      logger,
      recordEvents: false,
    });
    await controller.done;
    expect(controller.mapping).toMatchObject({ name: "annotated", secretName: "example-pull-secret" });
    expect(controller.mapping.selector.description).toBe('namespaces annotated example.com/pull-secrets: "true"');
    expect(controller.mapping.source.description).toBe(`file ${path}`);
    expect(controller.mapping.source.status().state).toBe("ready");
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages[0]).toBe("controller starting");
    expect(messages.at(-1)).toBe("controller stopped");
    // No globals: it installed no signal handlers of its own.
    expect(["SIGINT", "SIGTERM"].map((s) => process.listenerCount(s))).toEqual(signals);
  }, 30_000);

  it("returns at once, stopped, for an already aborted signal", async () => {
    const stop = new AbortController();
    stop.abort();
    const controller = await startController({
      kubeConfig: unreachableCluster(),
      signal: stop.signal,
      source: { file: { path } },
      recordEvents: false,
    });
    await controller.done;
    expect(controller.status()).toEqual([expect.objectContaining({ name: "annotated", inScope: 0 })]);
  });

  it("takes a SourceProvider, named ServiceAccounts and its own secret name and annotation", async () => {
    const stop = new AbortController();
    stop.abort();
    const source = {
      description: "mine",
      secretsRead: [],
      start: () => Promise.resolve(),
      current: () => undefined,
      status: () => ({ state: "pending" as const }),
      onChange: () => () => {},
    };
    const controller = await startController({
      kubeConfig: unreachableCluster(),
      signal: stop.signal,
      source: { provider: source },
      secretName: "pull",
      annotation: "acme.io/registry",
      serviceAccounts: ["builder"],
      recordEvents: false,
    });
    await controller.done;
    expect(controller.mapping.source).toBe(source);
    expect(controller.mapping.secretName).toBe("pull");
    expect(controller.mapping.selector.description).toContain("acme.io/registry");
    expect(controller.mapping.strategy.description).toBe("ServiceAccounts builder");
  });

  it("refuses a bad source config before touching the cluster", async () => {
    await expect(
      startController({
        kubeConfig: unreachableCluster(),
        signal: new AbortController().signal,
        source: { secret: { namespace: "Bad_NS", name: "x" } },
      }),
    ).rejects.toThrow(/namespace/);
  });
});
