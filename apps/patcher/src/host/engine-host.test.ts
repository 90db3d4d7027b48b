import { setImmediate as tick } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Mapping, MappingStatus, SourceProvider, SourceStatus } from "@imagepullsecret-patcher/core";
import { parseConfigText, type LoadedConfig } from "../config/load.js";
import { EngineHost, ReloadRefused, type HostedEngine } from "./engine-host.js";

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await tick();
}

/** Like the built-in sources: a second start() throws, and it runs until its signal aborts. */
class FakeSource implements SourceProvider {
  readonly description: string;
  starts = 0;
  signal: AbortSignal | undefined;
  constructor(readonly mapping: string) {
    this.description = `fake ${mapping}`;
  }
  start(signal: AbortSignal): Promise<void> {
    if (this.starts++ > 0) return Promise.reject(new Error(`${this.description}: already started`));
    this.signal = signal;
    return Promise.resolve();
  }
  current(): undefined {
    return undefined;
  }
  status(): SourceStatus {
    return { state: this.signal && !this.signal.aborted ? "ready" : "pending" };
  }
  onChange(): () => void {
    return () => {};
  }
  get running(): boolean {
    return !!this.signal && !this.signal.aborted;
  }
}

/** Records what the host hands it; starts its mappings' sources the way core's Engine does. */
class FakeEngine implements HostedEngine {
  readonly history: string[][] = [];
  readonly startErrors: string[] = [];
  mappings: readonly Mapping[] = [];
  retired: string[] = [];
  running = false;
  stopped = false;
  #signal: AbortSignal | undefined;
  constructor(
    readonly config: LoadedConfig,
    mappings: readonly Mapping[],
  ) {
    this.setMappings(mappings);
  }
  get settings(): LoadedConfig["config"]["controller"] {
    return this.config.config.controller;
  }
  get synced(): boolean {
    return this.running;
  }
  readonly msSinceLastWatchEvent = 0;
  status(): MappingStatus[] {
    return this.mappings.map(
      (m) =>
        ({
          name: m.name,
          source: m.source.description,
          sourceState: m.source.status().state,
          inScope: 0,
          inSync: 0,
          conflicting: 0,
          failing: 0,
          waiting: 0,
        }) as MappingStatus,
    );
  }
  setMappings(mappings: readonly Mapping[]): void {
    for (const old of this.mappings) if (!mappings.some((m) => m.name === old.name)) this.retired.push(old.name);
    this.mappings = mappings;
    this.history.push(mappings.map((m) => m.name));
    if (this.running) for (const m of mappings) this.#start(m);
  }
  #started = new Set<SourceProvider>();
  #start(m: Mapping): void {
    if (this.#started.has(m.source) || !this.#signal) return;
    this.#started.add(m.source);
    m.source.start(this.#signal).catch((err: unknown) => this.startErrors.push((err as Error).message));
  }
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    this.running = true;
    for (const m of this.mappings) this.#start(m);
    await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
    this.running = false;
    this.stopped = true;
  }
}

function config(text: string): LoadedConfig {
  return parseConfigText(text, "config.yaml");
}

const TWO = `
mappings:
  - name: a
    source: { fake: { v: 1 } }
    targets: { all: {} }
  - name: b
    source: { fake: { v: 1 } }
    targets: { all: {} }
`;

function harness(initial: LoadedConfig): { host: EngineHost; engines: FakeEngine[]; sources: FakeSource[] } {
  const engines: FakeEngine[] = [];
  const sources: FakeSource[] = [];
  const host = new EngineHost({
    config: initial,
    buildMappings: (c) => {
      const out = c.mappings.map((raw) => {
        const r = raw as { name: string; source: unknown };
        if (JSON.stringify(r.source).includes("broken"))
          throw new Error(`config.yaml: mappings: ${r.name}: broken source`);
        const source = new FakeSource(r.name);
        sources.push(source);
        return {
          name: r.name,
          secretName: "pull",
          source,
          selector: { description: "all", matches: () => true },
          strategy: { description: "default", selects: () => true },
          conflictPolicy: "skip",
        } satisfies Mapping;
      });
      return Promise.resolve(out);
    },
    buildEngine: (c, mappings) => {
      const engine = new FakeEngine(c, mappings);
      engines.push(engine);
      return Promise.resolve(engine);
    },
    logger: silent,
  });
  return { host, engines, sources };
}

describe("EngineHost", () => {
  it("builds new sources for every leadership term, so a second term never restarts a stopped source", async () => {
    const { host, engines, sources } = harness(config(TWO));
    const term1 = new AbortController();
    const run1 = host.runTerm(term1.signal);
    await settle();
    expect(sources.filter((s) => s.running).map((s) => s.mapping)).toEqual(["a", "b"]);
    term1.abort(); // lease lost (e.g. an API outage longer than renewDeadline)
    await run1;
    expect(sources.every((s) => !s.running)).toBe(true);

    const term2 = new AbortController(); // the same replica wins the lease again
    const run2 = host.runTerm(term2.signal);
    await settle();
    expect(engines).toHaveLength(2);
    expect(engines[1]?.startErrors).toEqual([]);
    const second = engines[1]?.mappings.map((m) => m.source) ?? [];
    const first = engines[0]?.mappings.map((m) => m.source) ?? [];
    expect(second.some((s) => first.includes(s))).toBe(false);
    expect(sources.filter((s) => s.running).map((s) => s.mapping)).toEqual(["a", "b"]);
    expect(sources.every((s) => s.starts <= 1)).toBe(true);
    term2.abort();
    await run2;
  });

  it("builds a term from the latest applied config, settings included, not the one it started with", async () => {
    const { host, engines } = harness(config(TWO));
    // A follower (no term running) receives a reload.
    await host.apply(
      config(
        `${TWO.replace(/ {2}- name: b[\s\S]*$/, "")}controller: { workers: 8, onMappingRemoved: retain, instance: blue }\n`,
      ),
    );
    const term = new AbortController();
    const run = host.runTerm(term.signal);
    await settle();
    expect(engines).toHaveLength(1);
    expect(engines[0]?.settings).toMatchObject({ workers: 8, onMappingRemoved: "retain", instance: "blue" });
    expect(engines[0]?.mappings.map((m) => m.name)).toEqual(["a"]);
    term.abort();
    await run;
  });

  it("retain and a removal in one edit: the old engine never sees the removal; the new one gets retain and learns what was removed", async () => {
    const { host, engines, sources } = harness(config(TWO));
    const term = new AbortController();
    const run = host.runTerm(term.signal);
    await settle();
    const old = engines[0] as FakeEngine;
    expect(old.settings.onMappingRemoved).toBe("delete");

    const plan = await host.apply(
      config(`${TWO.replace(/ {2}- name: b[\s\S]*$/, "")}controller: { onMappingRemoved: retain }\n`),
    );
    expect(plan).toMatchObject({ kind: "apply", restartEngine: ["controller.onMappingRemoved"], mappings: true });
    await settle();
    // The engine running with `delete` was stopped without ever being told b is gone.
    expect(old.stopped).toBe(true);
    expect(old.history).toEqual([["a", "b"]]);
    expect(old.retired).toEqual([]);
    // Its replacement runs with `retain` and knows b was removed by this reload.
    const next = engines[1] as FakeEngine;
    expect(next.settings.onMappingRemoved).toBe("retain");
    expect(next.history).toEqual([["a", "b"], ["a"]]);
    expect(next.retired).toEqual(["b"]);
    expect(next.running).toBe(true);
    expect(host.engine).toBe(next);
    // The old engine's sources are stopped and not started again; the new one has its own.
    expect(next.startErrors).toEqual([]);
    expect(sources.filter((s) => s.running).map((s) => s.mapping)).toEqual(["a"]);
    term.abort();
    await run;
    expect(engines).toHaveLength(2);
  });

  it("hands a change of mappings alone to the running engine, keeping unchanged sources and stopping removed or replaced ones", async () => {
    const { host, engines } = harness(config(TWO));
    const term = new AbortController();
    const run = host.runTerm(term.signal);
    await settle();
    const engine = engines[0] as FakeEngine;
    const [a, b] = engine.mappings.map((m) => m.source);
    await host.apply(
      config(
        `${TWO.replace("name: b\n    source: { fake: { v: 1 } }", "name: b\n    source: { fake: { v: 2 } }")}  - name: c\n    source: { fake: { v: 1 } }\n    targets: { all: {} }\n`,
      ),
    );
    await settle();
    expect(engines).toHaveLength(1);
    expect(engine.mappings.map((m) => m.name)).toEqual(["a", "b", "c"]);
    expect(engine.mappings[0]?.source).toBe(a);
    expect(engine.mappings[1]?.source).not.toBe(b);
    expect(engine.status().map((s) => s.sourceState)).toEqual(["ready", "ready", "ready"]);
    expect(b?.status().state).toBe("pending"); // the replaced source was stopped

    await host.apply(config(TWO.replace(/ {2}- name: b[\s\S]*$/, "")));
    await settle();
    expect(engine.retired).toEqual(["b", "c"]);
    expect(engine.startErrors).toEqual([]);
    term.abort();
    await run;
  });

  for (const [edit, field] of [
    ["server: { address: ':9999' }", "server.address"],
    ["leaderElection: { enabled: true }", "leaderElection.enabled"],
    ["leaderElection: { leaseDuration: 30s }", "leaderElection.leaseDuration"],
  ] as const) {
    it(`refuses a change of ${field} by name and keeps running the previous config`, async () => {
      const initial = config(TWO);
      const { host, engines } = harness(initial);
      const term = new AbortController();
      const run = host.runTerm(term.signal);
      await settle();
      const refused = await host
        .apply(config(`${TWO}${edit}\ncontroller: { workers: 9 }\n`))
        .catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ReloadRefused);
      expect((refused as ReloadRefused).field).toBe(field);
      expect((refused as Error).message).toContain(field);
      expect(host.config).toBe(initial);
      expect(engines).toHaveLength(1);
      expect(engines[0]?.running).toBe(true);
      term.abort();
      await run;
    });
  }

  it("refuses a config whose mappings cannot be built and changes nothing", async () => {
    const initial = config(TWO);
    const { host, engines } = harness(initial);
    const term = new AbortController();
    const run = host.runTerm(term.signal);
    await settle();
    await expect(
      host.apply(
        config(`${TWO.replace("{ fake: { v: 1 } }", "{ fake: { broken: true } }")}controller: { workers: 2 }\n`),
      ),
    ).rejects.toThrow(/broken source/);
    expect(host.config).toBe(initial);
    expect(engines).toHaveLength(1);
    expect(engines[0]?.history).toEqual([["a", "b"]]);
    term.abort();
    await run;
  });

  it("applies a new log level without restarting the engine", async () => {
    const levels: string[] = [];
    const initial = config(TWO);
    const engines: FakeEngine[] = [];
    const host = new EngineHost({
      config: initial,
      buildMappings: () => Promise.resolve([]),
      buildEngine: (c, m) => Promise.resolve(engines[engines.push(new FakeEngine(c, m)) - 1] as FakeEngine),
      setLogLevel: (level) => levels.push(level),
      logger: silent,
    });
    const term = new AbortController();
    const run = host.runTerm(term.signal);
    await settle();
    await host.apply(config(`${TWO}log: { level: debug }\n`));
    expect(levels).toEqual(["debug"]);
    expect(engines).toHaveLength(1);
    term.abort();
    await run;
  });
});
