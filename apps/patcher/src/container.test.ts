import "reflect-metadata";
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it, vi } from "vitest";
import type * as CoreModule from "@imagepullsecret-patcher/core";
import { parseConfigText } from "./config/load.js";

const constructed = vi.hoisted(() => [] as Record<string, unknown>[]);

vi.mock("@imagepullsecret-patcher/core", async (importOriginal) => {
  const core = await importOriginal<typeof CoreModule>();
  class RecordingEngine extends core.Engine {
    constructor(options: ConstructorParameters<typeof core.Engine>[0]) {
      super(options);
      constructed.push(options as unknown as Record<string, unknown>);
    }
  }
  return { ...core, Engine: RecordingEngine };
});

const { createPatcherContainer, Tokens } = await import("./container.js");

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1" }],
    users: [{ name: "u" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

describe("composition root", () => {
  it("gives the engine the write gate and the config's settings", async () => {
    let leading = true;
    const config = parseConfigText(
      "mappings:\n  - name: a\n    source: { secret: { name: r, namespace: s } }\n    targets: { all: {} }\ncontroller: { onMappingRemoved: retain, workers: 3, instance: blue }\n",
      "config.yaml",
    );
    const di = await createPatcherContainer({
      config,
      kubeConfig: kubeConfig(),
      logger: silent,
      canWrite: () => leading,
    });
    di.resolve(Tokens.Engine);
    const options = constructed.at(-1) as {
      canWrite?: () => boolean;
      retainOnMappingRemoval?: boolean;
      workers?: number;
      instance?: string;
    };
    expect(options).toMatchObject({ retainOnMappingRemoval: true, workers: 3, instance: "blue" });
    expect(options.canWrite?.()).toBe(true);
    leading = false;
    expect(options.canWrite?.()).toBe(false);
  });

  it("passes no write gate without leader election", async () => {
    const config = parseConfigText("source: { secret: { name: r, namespace: s } }\n", "config.yaml");
    const di = await createPatcherContainer({ config, kubeConfig: kubeConfig(), logger: silent });
    di.resolve(Tokens.Engine);
    expect((constructed.at(-1) as { canWrite?: unknown }).canWrite).toBeUndefined();
  });
});
