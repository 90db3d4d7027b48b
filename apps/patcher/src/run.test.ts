import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { MappingStatus } from "@imagepullsecret-patcher/core";
import type { HostedEngine } from "./host/engine-host.js";
import { readiness } from "./run.js";

function engine(states: [string, string, string?][], synced = true): HostedEngine {
  const status = (): MappingStatus[] =>
    states.map(
      ([name, sourceState, sourceError]) =>
        ({
          name,
          source: `secret src/${name}`,
          sourceState,
          sourceError,
          inScope: 1,
          inSync: 1,
          conflicting: 0,
          failing: 0,
          waiting: 0,
        }) as MappingStatus,
    );
  return { run: () => Promise.resolve(), setMappings: () => {}, synced, msSinceLastWatchEvent: 0, status };
}

describe("readiness", () => {
  it("fails, naming the missing verb, while a watch is refused (e.g. titansoft's RBAC has no watch)", () => {
    const refused = 'watch /api/v1/namespaces failed: HTTP 403 Forbidden (RBAC: the patcher needs "watch" here)';
    const probe = readiness({
      elector: undefined,
      engine: { ...engine([["a", "ready"]]), problems: () => [refused] },
      configError: undefined,
    });
    expect(probe.ok).toBe(false);
    expect(probe.detail.watchProblems).toEqual([refused]);
  });

  it("is ready when the engine synced and every source is ready", () => {
    const probe = readiness({ elector: undefined, engine: engine([["a", "ready"]]), configError: undefined });
    expect(probe).toEqual({
      ok: true,
      detail: { leader: "disabled", cachesSynced: true, degradedSources: [], configError: undefined },
    });
  });

  it("fails, naming the mapping and the error, when the engine reports a source that failed to start", () => {
    const probe = readiness({
      elector: undefined,
      engine: engine([
        ["a", "ready"],
        ["b", "failed", "file /etc/creds/b.json: already started"],
      ]),
      configError: undefined,
    });
    expect(probe.ok).toBe(false);
    expect(probe.detail.degradedSources).toEqual(["b: file /etc/creds/b.json: already started"]);
  });

  it("fails for a pending or degraded source without an error text, by its state", () => {
    const probe = readiness({
      elector: undefined,
      engine: engine([
        ["a", "pending"],
        ["b", "degraded", "vault: 503"],
      ]),
      configError: undefined,
    });
    expect(probe.ok).toBe(false);
    expect(probe.detail.degradedSources).toEqual(["a: pending", "b: vault: 503"]);
  });

  it("is not ready while a leader has no engine (being replaced after a reload)", () => {
    expect(
      readiness({ elector: { state: "leader", isLeader: true }, engine: undefined, configError: undefined }).ok,
    ).toBe(false);
  });

  it("is ready as a known follower without an engine, and not while the lease state is unknown", () => {
    expect(
      readiness({ elector: { state: "follower", isLeader: false }, engine: undefined, configError: undefined }).ok,
    ).toBe(true);
    expect(
      readiness({ elector: { state: "unknown", isLeader: false }, engine: undefined, configError: undefined }).ok,
    ).toBe(false);
  });
});
