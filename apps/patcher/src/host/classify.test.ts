import { describe, expect, it } from "vitest";
import { parseConfigText } from "../config/load.js";
import { classifyReload, sourceConfigs } from "./classify.js";

const BASE = `
mappings:
  - name: a
    source: { secret: { name: regcred, namespace: src } }
    targets: { all: {} }
`;
const load = (extra = "", base = BASE): ReturnType<typeof parseConfigText> =>
  parseConfigText(`${base}${extra}`, "config.yaml");

describe("classifyReload", () => {
  it("sees no change when only formatting or defaults differ", () => {
    expect(classifyReload(load(), load("controller: { workers: 4 }\n"))).toEqual({ kind: "unchanged" });
  });

  it("refuses settings bound at start, naming the field", () => {
    expect(classifyReload(load(), load("server: { address: ':9090' }\n"))).toMatchObject({
      kind: "refused",
      field: "server.address",
    });
    expect(classifyReload(load(), load("leaderElection: { renewDeadline: 5s }\n"))).toMatchObject({
      kind: "refused",
      field: "leaderElection.renewDeadline",
    });
    const refused = classifyReload(load(), load("leaderElection: { name: other }\n"));
    expect(refused.kind === "refused" && refused.message).toMatch(
      /^leaderElection\.name cannot change while the patcher runs; restart it/,
    );
  });

  it("refuses a change of the webhook or of diagnostics, which are started once", () => {
    expect(classifyReload(load(), load("webhook: { timeoutSeconds: 1 }\n"))).toMatchObject({
      kind: "refused",
      field: "webhook.timeoutSeconds",
    });
    expect(classifyReload(load(), load("diagnostics: { enabled: true }\n"))).toMatchObject({
      kind: "refused",
      field: "diagnostics.enabled",
    });
  });

  it("restarts the engine for every controller setting and for plugins", () => {
    for (const [edit, field] of [
      ["controller: { onMappingRemoved: retain }", "controller.onMappingRemoved"],
      ["controller: { instance: blue }", "controller.instance"],
      ["controller: { workers: 2 }", "controller.workers"],
      ["controller: { resyncInterval: 1m }", "controller.resyncInterval"],
      ["controller: { clientQps: 5 }", "controller.clientQps"],
      ["controller: { verifyCredentials: true }", "controller.verifyCredentials"],
      ["controller: { watchInactivityTimeout: 60s }", "controller.watchInactivityTimeout"],
      ["plugins: [some-plugin]", "plugins"],
    ] as const) {
      expect(classifyReload(load(), load(`${edit}\n`))).toEqual({
        kind: "apply",
        restartEngine: [field],
        mappings: false,
        logLevel: undefined,
      });
    }
  });

  it("tells a change of mappings (including top-level defaults that feed them) from one of settings", () => {
    expect(classifyReload(load(), load("secretName: other\n"))).toEqual({
      kind: "apply",
      restartEngine: [],
      mappings: true,
      logLevel: undefined,
    });
    expect(classifyReload(load(), load("conflictPolicy: adopt\n"))).toMatchObject({ mappings: true });
    expect(classifyReload(load(), load("", BASE.replace("regcred", "other")))).toMatchObject({
      restartEngine: [],
      mappings: true,
    });
    expect(
      classifyReload(
        load(),
        load(
          "controller: { onMappingRemoved: retain }\n",
          BASE.replace(
            / {2}- name: a[\s\S]*$/,
            "  - name: b\n    source: { secret: { name: x, namespace: y } }\n    targets: { all: {} }\n",
          ),
        ),
      ),
    ).toEqual({
      kind: "apply",
      restartEngine: ["controller.onMappingRemoved"],
      mappings: true,
      logLevel: undefined,
    });
  });

  it("applies a log level on its own", () => {
    expect(classifyReload(load(), load("log: { level: debug }\n"))).toEqual({
      kind: "apply",
      restartEngine: [],
      mappings: false,
      logLevel: "debug",
    });
  });
});

describe("sourceConfigs", () => {
  const named = (...names: string[]): { name: string }[] => names.map((name) => ({ name }));

  it("tells a changed entry of merged sources from an unchanged one", () => {
    const merged = (second: string): string => `
mappings:
  - name: a
    sources:
      - { secret: { name: hub, namespace: src } }
      - { secret: { name: ${second}, namespace: src } }
    targets: { all: {} }
`;
    const before = sourceConfigs(load("", merged("private")), named("a"));
    expect(before.get("a")).toBeDefined();
    expect(sourceConfigs(load("", merged("private")), named("a")).get("a")).toBe(before.get("a"));
    expect(sourceConfigs(load("", merged("other")), named("a")).get("a")).not.toBe(before.get("a"));
    expect(sourceConfigs(load(), named("a")).get("a")).not.toBe(before.get("a"));
  });

  it("knows an unnamed mapping by its derived name, which a change of its source's settings keeps", () => {
    // Both are built as mapping "vault": the name comes from the source type, not from the path.
    const unnamed = (path: string): string => `
mappings:
  - sources:
      - { vault: { address: https://vault:8200, path: ${path}, auth: { token: { tokenFile: /t } } } }
      - { name: hub, namespace: src }
    targets: { all: {} }
`;
    const before = sourceConfigs(load("", unnamed("registry/a")), named("vault"));
    expect(before.get("vault")).toBeDefined();
    expect(sourceConfigs(load("", unnamed("registry/a")), named("vault")).get("vault")).toBe(before.get("vault"));
    expect(sourceConfigs(load("", unnamed("registry/b")), named("vault")).get("vault")).not.toBe(before.get("vault"));
  });

  it("reads a source config rewritten with its keys in another order as unchanged", () => {
    const written = (source: string): string => `
mappings:
  - name: a
    sources:
      - ${source}
      - { file: { path: /etc/registry/mirror.json, pollIntervalSeconds: 60 } }
    targets: { all: {} }
`;
    const before = sourceConfigs(load("", written("{ name: hub, namespace: src }")), named("a")).get("a");
    expect(sourceConfigs(load("", written("{ namespace: src, name: hub }")), named("a")).get("a")).toBe(before);
    expect(sourceConfigs(load("", written("{ namespace: src, name: hub2 }")), named("a")).get("a")).not.toBe(before);
  });

  it("keys nothing when the built mappings do not line up with the config", () => {
    expect(sourceConfigs(load(), named("a", "b")).size).toBe(0);
  });
});
