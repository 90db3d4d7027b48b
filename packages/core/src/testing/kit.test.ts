// The kit's own tests: each rule must catch an implementation that breaks it, and only that rule.
import { describe, expect, it } from "vitest";
import { parseDockerConfigJson, sha256, type DockerConfigJson } from "../credentials/docker-config.js";
import {
  PluginConfigError,
  type NamespaceView,
  type SelectorFactory,
  type SourceProvider,
  type SourceStatus,
  type SourceValue,
  type TargetSelector,
} from "../plugins/contracts.js";
import {
  ContractViolation,
  patchStrategyChecks,
  pluginFactoryChecks,
  resolveTestApi,
  sampleDockerConfigJson,
  sourceProviderChecks,
  targetSelectorChecks,
  describeSourceProviderContract,
  type ContractCheck,
  type SourceHarness,
  type TestApi,
} from "./index.js";

type Flaw =
  | "none"
  | "unvalidated"
  | "drops-value-on-failure"
  | "noisy"
  | "silent"
  | "ignores-abort"
  | "leaks-timer"
  | "lazy-start"
  | "keeps-error"
  | "no-expiry"
  | "leaks-secret";

/** A hand-written source with one chosen flaw; its backend is a variable. */
class ToySource implements SourceProvider {
  readonly description: string;
  value: SourceValue | undefined;
  state: SourceStatus = { state: "pending" };
  timers = 0;
  reads = 0;
  stopped = false;
  started = false;
  readonly listeners = new Set<() => void>();

  constructor(
    readonly flaw: Flaw,
    public backend: () => { bytes: string; expiresAt?: Date | undefined } | Error,
  ) {
    this.description = "toy backend";
  }

  async start(signal: AbortSignal): Promise<void> {
    if (signal.aborted && this.flaw !== "ignores-abort") return;
    this.started = true;
    signal.addEventListener("abort", () => {
      if (this.flaw === "ignores-abort") return;
      this.stopped = true;
      if (this.flaw !== "leaks-timer") this.timers = 0;
    });
    this.timers = 1;
    if (this.flaw === "lazy-start") {
      setTimeout(() => void this.refresh(), 0);
      return;
    }
    await this.refresh();
  }

  refresh(): Promise<void> {
    if (this.stopped || !this.started) return Promise.resolve();
    this.reads++;
    const answer = this.backend();
    const before = this.key();
    if (answer instanceof Error) {
      if (this.flaw === "drops-value-on-failure") this.value = undefined;
      const error =
        this.flaw === "leaks-secret"
          ? `toy backend: ${answer.message}`
          : `toy backend: ${answer.message.replace(/contract-\S+/g, "[x]")}`;
      this.state = { state: this.value ? "degraded" : "pending", error };
    } else {
      let credential: DockerConfigJson;
      if (this.flaw === "unvalidated") {
        const bytes = Buffer.from(answer.bytes);
        credential = { bytes, hash: sha256(bytes), registries: ["registry.contract.test"] };
      } else {
        try {
          credential = parseDockerConfigJson(answer.bytes, this.description);
        } catch (err) {
          this.state = { state: this.value ? "degraded" : "pending", error: (err as Error).message };
          if (before !== this.key()) this.emit();
          return Promise.resolve();
        }
      }
      const expiresAt = this.flaw === "no-expiry" ? undefined : answer.expiresAt;
      this.value = { credential, fetchedAt: new Date(), expiresAt };
      const error = this.flaw === "keeps-error" ? this.state.error : undefined;
      this.state = { state: "ready", error, lastSuccessAt: new Date(), expiresAt };
    }
    if (this.value) this.state = { ...this.state, expiresAt: this.value.expiresAt };
    const changed = before !== this.key();
    if (this.flaw === "noisy" || (changed && this.flaw !== "silent")) this.emit();
    return Promise.resolve();
  }

  /** What a listener can observe, timestamps aside. */
  key(): string {
    return JSON.stringify([this.value?.credential.hash, this.value?.expiresAt, this.state.state, this.state.error]);
  }

  emit(): void {
    for (const l of [...this.listeners]) l();
  }
  current(): SourceValue | undefined {
    return this.value;
  }
  status(): SourceStatus {
    return this.state;
  }
  onChange(listener: () => void): () => void {
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }
}

function toyHarness(flaw: Flaw): () => SourceHarness {
  return () => {
    const source = new ToySource(flaw, () => new Error("nothing served"));
    return {
      source,
      serve: (secret, options) => {
        source.backend = () => ({ bytes: sampleDockerConfigJson(secret), expiresAt: options?.expiresAt });
      },
      fail: () => {
        // The backend's error names the kept password; only the "leaks-secret" source passes it on.
        source.backend = () => new Error(`backend down, last password ${leakMarker(source)}`);
      },
      serveInvalid: () => {
        source.backend = () => ({ bytes: "{not json" });
      },
      refresh: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        await source.refresh();
      },
      elapse: () => source.refresh(),
      pendingTimers: () => source.timers,
      backendReads: () => source.reads,
    };
  };
}

/** The password inside the kept value, so a source that copies errors verbatim leaks it. */
function leakMarker(source: ToySource): string {
  if (!source.value) return "";
  const auths = (JSON.parse(source.value.credential.bytes.toString()) as { auths: Record<string, { auth: string }> })
    .auths;
  const auth = Object.values(auths)[0]?.auth ?? "";
  return Buffer.from(auth, "base64").toString().split(":")[1] ?? "";
}

async function failures(checks: ContractCheck[]): Promise<Record<string, string>> {
  const failed: Record<string, string> = {};
  for (const c of checks) {
    try {
      await c.run();
    } catch (err) {
      expect(err, `${c.name} threw something other than a ContractViolation: ${String(err)}`).toBeInstanceOf(
        ContractViolation,
      );
      failed[c.name] = (err as Error).message;
    }
  }
  return failed;
}

describe("SourceProvider contract checks", () => {
  it("pass for a correct source", async () => {
    expect(await failures(sourceProviderChecks(toyHarness("none"), { expiry: true, expiryToleranceMs: 0 }))).toEqual(
      {},
    );
  });

  it.each<[Flaw, string, RegExp]>([
    [
      "unvalidated",
      "exposes only validated values: an invalid first value leaves it pending",
      /current\(\) must stay undefined/,
    ],
    [
      "drops-value-on-failure",
      "keeps the last good value while the backend fails (degraded), then recovers to ready",
      /current\(\) is undefined/,
    ],
    [
      "noisy",
      "fires onChange when the value changes, not on an identical refresh",
      /identical refresh: onChange fired 1 time/,
    ],
    ["silent", "fires onChange when the value changes, not on an identical refresh", /did not fire onChange/],
    [
      "ignores-abort",
      "stops when the signal aborts: no more reads, events or timers",
      /after stop: current\(\) holds the credential served as B/,
    ],
    ["leaks-timer", "stops when the signal aborts: no more reads, events or timers", /1 timer\(s\) still pending/],
    [
      "lazy-start",
      "start() resolves once the first attempt has settled, with the served value",
      /right after start\(\): current\(\) is undefined/,
    ],
    [
      "keeps-error",
      "start() resolves after a failed first attempt: pending, with an error",
      /a ready source must clear its error/,
    ],
    [
      "no-expiry",
      "reports expiresAt, in current() and status(), and keeps it with the last good value",
      /current\(\)\.expiresAt is undefined/,
    ],
    [
      "leaks-secret",
      "keeps the last good value while the backend fails (degraded), then recovers to ready",
      /contains the secret served as A/,
    ],
  ])("catch a source that is %s", async (flaw, check, message) => {
    const failed = await failures(sourceProviderChecks(toyHarness(flaw), { expiry: true, expiryToleranceMs: 0 }));
    expect(Object.keys(failed)).toContain(check);
    expect(failed[check]).toMatch(message);
  });

  it("name every rule", () => {
    expect(sourceProviderChecks(toyHarness("none")).map((c) => c.name)).toHaveLength(9);
    expect(sourceProviderChecks(toyHarness("none"), { expiry: true }).map((c) => c.name)).toHaveLength(10);
  });
});

describe("TargetSelector and PatchStrategy contract checks", () => {
  const good: TargetSelector = { description: "team a", matches: (ns) => ns.labels.team === "a" };
  let calls = 0;
  const flawed: Record<string, () => TargetSelector> = {
    "no description": () => ({ description: " ", matches: () => true }),
    "a truthy non-boolean": () => ({ description: "x", matches: (ns) => ns.labels.team as unknown as boolean }),
    "an async answer": () => ({ description: "x", matches: () => Promise.resolve(true) as unknown as boolean }),
    "a clock": () => ({ description: "x", matches: () => Date.now() % 2 === 0 }),
    randomness: () => ({ description: "x", matches: () => Math.random() > 0.5 }),
    "hidden state": () => ({ description: "x", matches: () => ++calls % 3 === 0 }),
    "a mutation": () => ({
      description: "x",
      matches: (ns: NamespaceView) => {
        (ns.labels as Record<string, string>).seen = "yes";
        return true;
      },
    }),
    "a wrong decision": () => ({ description: "x", matches: () => false }),
    "a throw": () => ({
      description: "x",
      matches: () => {
        throw new Error("boom");
      },
    }),
  };

  it("pass for a correct selector and strategy", async () => {
    expect(
      await failures(
        targetSelectorChecks({
          create: () => good,
          matching: [{ name: "a", labels: { team: "a" }, annotations: {}, phase: "Active" }],
        }),
      ),
    ).toEqual({});
    expect(
      await failures(patchStrategyChecks(() => ({ description: "default", selects: (sa) => sa.name === "default" }))),
    ).toEqual({});
  });

  it.each(Object.keys(flawed))("catch a selector with %s", async (flaw) => {
    const create = flawed[flaw] as () => TargetSelector;
    const failed = await failures(
      targetSelectorChecks({
        create,
        matching: [{ name: "a", labels: { team: "a" }, annotations: {}, phase: "Active" }],
      }),
    );
    expect(Object.keys(failed).length, JSON.stringify(failed)).toBeGreaterThan(0);
  });

  it("catch a strategy that modifies the ServiceAccount", async () => {
    const failed = await failures(
      patchStrategyChecks(() => ({
        description: "x",
        selects: (sa) => {
          (sa.annotations as Record<string, string>).touched = "1";
          return true;
        },
      })),
    );
    expect(failed["does not modify what it is given"]).toMatch(/modified its input|frozen input/);
  });
});

describe("PluginFactory contract checks", () => {
  const factory: SelectorFactory<{ team: string }> = {
    type: "team",
    summary: "namespaces of one team",
    validate(config) {
      if (typeof config !== "object" || config === null || typeof (config as { team?: unknown }).team !== "string") {
        throw new PluginConfigError("team", "required, a string");
      }
      return { team: (config as { team: string }).team };
    },
    create: (config) => ({ description: `team ${config.team}`, matches: (ns) => ns.labels.team === config.team }),
  };

  it("pass for a correct factory", async () => {
    expect(
      await failures(
        pluginFactoryChecks({
          factory,
          valid: [{ team: "a" }],
          invalid: [{ config: {}, path: "team" }],
          idempotent: true,
        }),
      ),
    ).toEqual({});
  });

  it("catch a bad type, a foreign error class, a wrong path and a mutating validate", async () => {
    const failed = await failures(
      pluginFactoryChecks({
        factory: {
          ...factory,
          type: "Team_Selector",
          validate(config: unknown) {
            if (config === null) throw new Error("plain error");
            (config as Record<string, unknown>).normalised = true;
            return config;
          },
        },
        valid: [{ team: "a" }],
        invalid: [{ config: null, path: "team" }],
      }),
    );
    expect(failed["has a lower-case type and a one-line summary"]).toMatch(/type must be lower-case/);
    expect(failed["refuses invalid configs with a PluginConfigError naming the path"]).toMatch(
      /not a PluginConfigError/,
    );
    expect(
      failed["validates the valid configs without modifying them, and creates a described plugin from each"],
    ).toMatch(/refused a valid config/);
  });
});

describe("runner resolution", () => {
  it("uses vitest by default and any describe/it pair when given", () => {
    expect(typeof resolveTestApi(undefined).describe).toBe("function");
    const registered: string[] = [];
    const api: TestApi = {
      describe: (name, body) => {
        registered.push(name);
        body();
      },
      it: (name) => registered.push(`  ${name}`),
    };
    describeSourceProviderContract("toy", toyHarness("none"), { testApi: api });
    expect(registered[0]).toBe("toy: SourceProvider contract");
    expect(registered).toHaveLength(10);
  });
});
