import { describe, expect, it } from "vitest";
import { builtinRegistries, planKey } from "@imagepullsecret-patcher/core";
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
    const loaded = parseConfigText(
      "source:\n  secret:\n    name: regcred\n    namespace: kube-system\n",
      "config.yaml",
    );
    expect(loaded.mappings).toEqual([
      {
        name: "default",
        source: { secret: { name: "regcred", namespace: "kube-system" } },
        targets: { all: {} },
        serviceAccounts: undefined,
        conflictPolicy: undefined,
      },
    ]);
    const [m] = buildConfiguredMappings(loaded, { registries: builtinRegistries() });
    expect(m?.secretName).toBe("regcred");
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
    [
      "unknown top-level field",
      "source: {secret: {name: a, namespace: b}}\nsecretname: x\n",
      "secretname",
      'unknown field "secretname"',
      2,
    ],
    [
      "wrong type",
      "source: {secret: {name: a, namespace: b}}\ncontroller:\n  workers: many\n",
      "controller.workers",
      "expected number",
      3,
    ],
    [
      "bad duration",
      "source: {secret: {name: a, namespace: b}}\ncontroller:\n  resyncInterval: 10 minutes\n",
      "controller.resyncInterval",
      "duration",
      3,
    ],
    [
      "unknown source type",
      "mappings:\n  - name: a\n    source:\n      s3: {bucket: x}\n    targets: {all: {}}\n",
      "mappings[0].source",
      'unknown source type "s3"',
      4,
    ],
    ["missing source field", "source:\n  secret:\n    name: regcred\n", "source.secret.namespace", "required", 3],
    [
      "invalid label selector",
      "mappings:\n  - name: a\n    source: {secret: {name: a, namespace: b}}\n    targets:\n      selector: 'team in (a'\n",
      "mappings[0].targets.selector",
      "",
      5,
    ],
    [
      "duplicate mapping names",
      "mappings:\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [y]}}\n",
      "mappings[1].name",
      "already used",
      3,
    ],
    [
      "same secret into one namespace",
      "mappings:\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n  - {name: b, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n",
      "mappings[1]",
      'both write Secret "a" into namespace "x"',
      3,
    ],
    [
      "secretName not DNS-1123",
      "secretName: Image_Pull\nsource: {secret: {name: a, namespace: b}}\n",
      "secretName",
      '"Image_Pull" is not a valid Secret name',
      1,
    ],
    ["empty mappings", "mappings: []\n", "mappings", "at least one mapping", 1],
    [
      "missing file path",
      "mappings:\n  - name: a\n    source: {file: {}}\n    targets: {all: {}}\n",
      "mappings[0].source.file.path",
      "",
      3,
    ],
    [
      "invalid Vault URL",
      "mappings:\n  - name: a\n    source: {vault: {address: 'not a url', path: registry, auth: {token: {token: t}}}}\n    targets: {all: {}}\n",
      "mappings[0].source.vault.address",
      "",
      3,
    ],
    ["seed and mappings together", "source: {secret: {name: a, namespace: b}}\nmappings: []\n", "source", "either", 1],
    [
      "bad conflict policy",
      "conflictPolicy: clobber\nsource: {secret: {name: a, namespace: b}}\n",
      "conflictPolicy",
      "skip",
      1,
    ],
    [
      "bad strategy",
      "serviceAccounts: everyone\nsource: {secret: {name: a, namespace: b}}\n",
      "serviceAccounts",
      "unknown strategy",
      1,
    ],
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
    expect(splitPath("mappings[1].targets.selector.matchLabels")).toEqual([
      "mappings",
      1,
      "targets",
      "selector",
      "matchLabels",
    ]);
    expect(splitPath("")).toEqual([]);
  });
});

const MULTI_TEAM_SKETCH = `mappings:
  - source:
      name: regcred-team-a
      namespace: kube-system
    targets:
      - namespace: team-a
      - namespace: team-a-dev
  - source:
      name: regcred-team-b
      namespace: kube-system
    targets:
      - namespace: team-b
`;

const build = (text: string) =>
  buildConfiguredMappings(parseConfigText(text, "config.yaml"), { registries: builtinRegistries() });
const ns = (name: string) => ({
  name,
  uid: `uid-${name}`,
  resourceVersion: "1",
  labels: {},
  annotations: {},
  phase: "Active",
});

describe("copy names", () => {
  it("names the seed form's copies after the source Secret", () => {
    expect(
      build("source:\n  secret:\n    name: regcred\n    namespace: kube-system\n").map((m) => m.secretName),
    ).toEqual(["regcred"]);
    expect(
      build("source:\n  secret:\n    name: regcred-team-a\n    namespace: kube-system\n").map((m) => m.secretName),
    ).toEqual(["regcred-team-a"]);
  });

  it("names the full form's copies after each mapping's source Secret, image-pull-secret for other sources", () => {
    const text = `
mappings:
  - name: a
    source: { secret: { name: regcred-team-a, namespace: kube-system } }
    targets: { namespaces: [team-a] }
  - name: b
    source: { file: { path: /etc/registry/b.json } }
    targets: { namespaces: [team-b] }
`;
    expect(build(text).map((m) => m.secretName)).toEqual(["regcred-team-a", "image-pull-secret"]);
  });

  it("applies a top-level secretName to every mapping without its own; a mapping's own wins", () => {
    const mappings = `mappings:
  - name: a
    source: { secret: { name: regcred-team-a, namespace: kube-system } }
    targets: { namespaces: [team-a] }
  - name: b
    source: { secret: { name: regcred-team-b, namespace: kube-system } }
    targets: { namespaces: [team-b] }
    secretName: pull-b
`;
    expect(build(mappings).map((m) => m.secretName)).toEqual(["regcred-team-a", "pull-b"]);
    expect(build(`secretName: pull\n${mappings}`).map((m) => m.secretName)).toEqual(["pull", "pull-b"]);
    expect(
      build("secretName: pull\nsource: {secret: {name: regcred, namespace: kube-system}}\n").map((m) => m.secretName),
    ).toEqual(["pull"]);
  });

  it("never writes a seed copy over its source: kube-system is selected, and the engine skips the source Secret", () => {
    const [m] = build("source:\n  secret:\n    name: regcred\n    namespace: kube-system\n");
    if (!m) throw new Error("no mapping");
    expect(m.secretName).toBe("regcred");
    expect(m.selector.matches(ns("kube-system"))).toBe(true);
    const plan = planKey({
      mapping: { ...m, active: true },
      instance: "default",
      namespaceName: "kube-system",
      namespace: ns("kube-system"),
      credential: undefined,
      sourceSecrets: m.source.secretsRead ?? [],
      secret: undefined,
      serviceAccounts: [],
      claimedBy: undefined,
      retainOnRemoval: false,
    });
    expect(plan.outcome).toBe("skipped");
    expect(plan.actions).toEqual([]);
    expect(plan.reason).toContain("kube-system/regcred");
  });
});

describe("shorthand forms", () => {
  it("accepts the multi-team sketch verbatim", () => {
    const [a, b, ...rest] = build(MULTI_TEAM_SKETCH);
    expect(rest).toEqual([]);
    expect([a?.name, b?.name]).toEqual(["regcred-team-a", "regcred-team-b"]);
    expect([a?.secretName, b?.secretName]).toEqual(["regcred-team-a", "regcred-team-b"]);
    expect([a?.source.description, b?.source.description]).toEqual([
      "secret kube-system/regcred-team-a",
      "secret kube-system/regcred-team-b",
    ]);
    expect([a?.selector.description, b?.selector.description]).toEqual([
      "namespaces team-a, team-a-dev",
      "namespaces team-b",
    ]);
    expect(a?.strategy.description).toContain("default");
  });

  it("accepts the shorthands in the seed form too", () => {
    const [m] = build("source: {name: regcred, namespace: kube-system}\ntargets:\n  - namespace: team-a\n");
    expect([m?.name, m?.secretName, m?.source.description, m?.selector.description]).toEqual([
      "default",
      "regcred",
      "secret kube-system/regcred",
      "namespaces team-a",
    ]);
  });

  it("makes derived mapping names unique", () => {
    const text = `
mappings:
  - source: {name: regcred, namespace: kube-system}
    targets: [{namespace: a}]
  - source: {name: regcred, namespace: kube-system}
    targets: [{namespace: b}]
    secretName: other
  - source: {file: {path: /x}}
    targets: [{namespace: c}]
  - source: {file: {path: /y}}
    targets: [{namespace: d}]
    secretName: other-file
`;
    expect(build(text).map((m) => m.name)).toEqual(["regcred", "regcred-2", "file", "file-2"]);
  });

  it("names the path and line of a shorthand's problem", () => {
    const err = fail(
      "mappings:\n  - source: {name: regcred}\n    targets:\n      - namespace: team-a\n      - namespace: Team_B\n",
    );
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ["mappings[0].source.namespace", 2],
      ["mappings[0].targets[1].namespace", 5],
    ]);
  });
});

describe("every problem at once", () => {
  it("reports the schema's and the mappings' problems together, each with its path and line, one per line", () => {
    const text = `controller:
  workers: many
log: {level: loud}
mappings:
  - name: Bad_Name
    source: {secret: {name: regcred}}
    targets: {all: {}}
  - name: b
    source: {s3: {}}
    targets: {namespaces: [x]}
`;
    const err = fail(text);
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ["controller.workers", 2],
      ["log.level", 3],
      ["mappings[0].name", 5],
      ["mappings[0].source.secret.namespace", 6],
      ["mappings[1].source", 9],
    ]);
    expect(err.message.split("\n")).toEqual([
      "config.yaml: 5 problems:",
      ...err.problems.map((p) => `  ${p.path}: ${p.problem} (line ${p.line})`),
    ]);
  });

  it("reports several mapping problems from the plugins", () => {
    const err = fail(
      "mappings:\n  - {name: a, source: {file: {}}, targets: {all: {}}, conflictPolicy: clobber}\n  - {name: a, source: {secret: {name: a, namespace: b}}, targets: {namespaces: [x]}}\n",
    );
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ["mappings[0].conflictPolicy", 2],
      ["mappings[0].source.file.path", 2],
      ["mappings[1].name", 3],
    ]);
  });
});

describe("unknown keys", () => {
  it.each([
    [
      "top level",
      "source: {secret: {name: a, namespace: b}}\nsecretname: x\n",
      "secretname",
      'did you mean "secretName"?',
      2,
    ],
    [
      "top level, case",
      "source: {secret: {name: a, namespace: b}}\nMappings: []\n",
      "Mappings",
      'did you mean "mappings"?',
      2,
    ],
    [
      "controller",
      "source: {secret: {name: a, namespace: b}}\ncontroller:\n  worker: 2\n",
      "controller.worker",
      'did you mean "workers"?',
      3,
    ],
    [
      "leaderElection",
      "source: {secret: {name: a, namespace: b}}\nleaderElection:\n  enable: true\n",
      "leaderElection.enable",
      'did you mean "enabled"?',
      3,
    ],
    [
      "mappings[i]",
      "mappings:\n  - name: a\n    source: {secret: {name: a, namespace: b}}\n    targets: {all: {}}\n    secretname: x\n",
      "mappings[0].secretname",
      'did you mean "secretName"?',
      5,
    ],
    [
      "plugin config",
      "mappings:\n  - name: a\n    source:\n      secret: {name: a, namepsace: b}\n    targets: {all: {}}\n",
      "mappings[0].source.secret.namepsace",
      'did you mean "namespace"?',
      4,
    ],
  ])("refuses an unknown key (%s) with a did-you-mean", (_what, text, path, hint, line) => {
    const err = fail(text);
    expect(err.path).toBe(path);
    expect(err.message).toContain(hint);
    expect(err.line).toBe(line);
  });

  it("lists the valid keys when none is close", () => {
    const err = fail("source: {secret: {name: a, namespace: b}}\ncontroller: {colour: blue}\n");
    expect(err.problem).toBe(
      'unknown field "colour" (valid: workers, resyncInterval, clientQps, clientBurst, watchInactivityTimeout, onMappingRemoved, verifyCredentials, instance)',
    );
  });

  it("reports unknown keys together with the mappings' problems", () => {
    const err = fail("secretname: pull\nmappings:\n  - source: {name: regcred}\n    targets: [{namespace: a}]\n");
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ["secretname", 1],
      ["mappings[0].source.namespace", 3],
    ]);
  });

  it("reports each unknown key on its own line", () => {
    const err = fail("source: {secret: {name: a, namespace: b}}\nsecretname: x\nworkers: 2\n");
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ["secretname", 2],
      ["workers", 3],
    ]);
  });
});

describe("controller.watchInactivityTimeout", () => {
  it.each(["30s", "59s", 10, 0, "0s"])("refuses %j: under the 60s floor", (value) => {
    const err = fail(
      `source: {secret: {name: a, namespace: b}}\ncontroller:\n  watchInactivityTimeout: ${JSON.stringify(value)}\n`,
    );
    expect(err.path).toBe("controller.watchInactivityTimeout");
    expect(err.problem).toBe("must be at least 60s: a shorter window relists idle watches constantly");
    expect(err.line).toBe(3);
  });

  it("accepts the floor and above", () => {
    const timeout = (value: string | number) =>
      parseConfigText(
        `source: {secret: {name: a, namespace: b}}\ncontroller:\n  watchInactivityTimeout: ${JSON.stringify(value)}\n`,
        "config.yaml",
      ).config.controller.watchInactivityTimeout;
    expect(["60s", "1m", 90, "330s"].map(timeout)).toEqual(["60s", "1m", 90, "330s"]);
    expect(() => timeout("59.9s")).toThrow(/at least 60s/);
  });
});

describe("cloud source types", () => {
  it("names the cloud sources, not loaded yet, in an unknown source type's message, with a hint", () => {
    const err = fail("mappings:\n  - name: a\n    source:\n      ecrr: {}\n    targets: {all: {}}\n");
    const problem = err.problems.find((p) => p.path === "mappings[0].source")?.problem ?? "";
    expect(problem).toMatch(
      /^unknown source type "ecrr"; valid types: .*secret.*, and the cloud sources ecr, gcp, acr/,
    );
    expect(problem).toContain('did you mean "ecr"?');
  });

  it("does not refuse a cloud source type when the schema check runs without its package", () => {
    const text =
      "mappings:\n  - name: a\n    source:\n      gcp: {registries: [gcr.io]}\n    targets: {all: {}}\nlog: {level: loud}\n";
    let problems: readonly { path: string; problem: string }[] = [];
    try {
      parseConfigText(text, "config.yaml");
    } catch (err) {
      problems = (err as ConfigFileError).problems;
    }
    expect(problems.map((p) => p.path)).toEqual(["log.level"]);
  });
});
