import { describe, expect, it } from "vitest";
import { builtinRegistries } from "@imagepullsecret-patcher/core";
import { ConfigFileError, buildConfiguredMappings, parseConfigText, splitPath } from "./load.js";

function fail(text: string): ConfigFileError {
  try {
    const loaded = parseConfigText(text, "config.yaml");
    buildConfiguredMappings(loaded, { registries: builtinRegistries() });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return err as ConfigFileError;
  }
  throw new Error("expected the config to be refused");
}

describe("config files", () => {
  it("accepts the seed form verbatim: one mapping to all namespaces with the default ServiceAccount", () => {
    const loaded = parseConfigText("source:\n  secret:\n    name: regcred\n    namespace: kube-system\n", "config.yaml");
    expect(loaded.mappings).toEqual([
      { name: "default", source: { secret: { name: "regcred", namespace: "kube-system" } }, targets: { all: {} }, serviceAccounts: undefined, conflictPolicy: undefined },
    ]);
    const [m] = buildConfiguredMappings(loaded, { registries: builtinRegistries() });
    expect(m?.secretName).toBe("image-pull-secret");
    expect(m?.strategy.description).toContain("default");
    expect(loaded.config.controller.workers).toBe(4);
  });

  it("accepts the full form with defaults taken from the top level", () => {
    const text = `
secretName: pull
serviceAccounts: all
mappings:
  - name: team-a
    source: { secret: { name: regcred-team-a, namespace: kube-system } }
    targets: { namespaces: [team-a, team-a-dev] }
  - name: team-b
    source: { file: { path: /etc/registry/b.json } }
    targets: { selector: { matchLabels: { team: b } } }
    serviceAccounts: [default, builder]
    secretName: pull-b
    conflictPolicy: adopt
controller: { workers: 8, resyncInterval: 5m }
leaderElection: { enabled: true }
`;
    const loaded = parseConfigText(text, "config.yaml");
    const mappings = buildConfiguredMappings(loaded, { registries: builtinRegistries() });
    expect(mappings.map((m) => [m.name, m.secretName, m.conflictPolicy])).toEqual([
      ["team-a", "pull", "skip"],
      ["team-b", "pull-b", "adopt"],
    ]);
    expect(mappings[0]?.strategy.description).toContain("all");
    expect(loaded.config.controller.workers).toBe(8);
    expect(loaded.config.leaderElection.enabled).toBe(true);
  });

  it.each([
    ["not YAML", "source: [unclosed\n", "", "not valid YAML", 2],
    ["a list at the top", "- a\n- b\n", "", "expected a map at the top level", 1],
    ["nothing to do", "secretName: x\n", "", "nothing to do", 1],
    ["unknown top-level field", "source: {secret: {name: a, namespace: b}}\nsecretname: x\n", "secretname", 'unknown field "secretname"', 2],
    ["wrong type", "source: {secret: {name: a, namespace: b}}\ncontroller:\n  workers: many\n", "controller.workers", "expected number", 3],
    ["bad duration", "source: {secret: {name: a, namespace: b}}\ncontroller:\n  resyncInterval: 10 minutes\n", "controller.resyncInterval", "duration", 3],
    ["unknown source type", "mappings:\n  - name: a\n    source:\n      s3: {bucket: x}\n    targets: {all: {}}\n", "mappings[0].source", 'unknown source type "s3"', 4],
    ["missing source field", "source:\n  secret:\n    name: regcred\n", "source.secret.namespace", "required", 3],
    ["invalid label selector", "mappings:\n  - name: a\n    source: {secret: {name: a, namespace: b}}\n    targets:\n      selector: 'team in (a'\n", "mappings[0].targets.selector", "", 5],
    ["duplicate mapping names", "mappings:\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [y]}}\n", "mappings[1].name", "already used", 3],
    ["same secret into one namespace", "mappings:\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n  - {name: b, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n", "mappings[1]", 'both write Secret "image-pull-secret" into namespace "x"', 3],
    ["secretName not DNS-1123", "secretName: Image_Pull\nsource: {secret: {name: a, namespace: b}}\n", "secretName", "not a valid Secret name", 1],
    ["empty mappings", "mappings: []\n", "mappings", "at least one mapping", 1],
    ["missing file path", "mappings:\n  - name: a\n    source: {file: {}}\n    targets: {all: {}}\n", "mappings[0].source.file.path", "", 3],
    ["invalid Vault URL", "mappings:\n  - name: a\n    source: {vault: {address: 'not a url', path: registry, auth: {token: {token: t}}}}\n    targets: {all: {}}\n", "mappings[0].source.vault.address", "", 3],
    ["seed and mappings together", "source: {secret: {name: a, namespace: b}}\nmappings: []\n", "source", "either", 1],
    ["bad conflict policy", "conflictPolicy: clobber\nsource: {secret: {name: a, namespace: b}}\n", "conflictPolicy", "skip", 1],
    ["bad strategy", "serviceAccounts: everyone\nsource: {secret: {name: a, namespace: b}}\n", "serviceAccounts", "unknown strategy", 1],
  ])("refuses %s, naming the field and the line", (_what, text, path, problem, line) => {
    const err = fail(text);
    expect(err.path).toBe(path);
    expect(err.message).toContain(problem);
    expect(err.line).toBe(line);
    expect(err.message).toContain("config.yaml");
  });
});

describe("splitPath", () => {
  it("splits dotted and indexed paths", () => {
    expect(splitPath("mappings[1].targets.selector.matchLabels")).toEqual(["mappings", 1, "targets", "selector", "matchLabels"]);
    expect(splitPath("")).toEqual([]);
  });
});
