import { describe, expect, it } from "vitest";
import { buildMappings, builtinRegistries, ConfigError } from "./build.js";

const registries = builtinRegistries();
const build = (configs: unknown) => buildMappings(configs, { registries, defaultSecretName: "image-pull-secret" });
const secretSource = { secret: { name: "regcred", namespace: "kube-system" } };

function errorOf(configs: unknown): ConfigError {
  try {
    build(configs);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("buildMappings", () => {
  it("builds the seed mapping: all namespaces, default ServiceAccount, skip conflicts", () => {
    const [m] = build([{ name: "default", source: secretSource, targets: { all: {} } }]);
    expect(m?.secretName).toBe("image-pull-secret");
    expect(m?.conflictPolicy).toBe("skip");
    expect(m?.source.description).toBe("secret kube-system/regcred");
    const ns = { name: "x", labels: {}, annotations: {}, phase: "Active" };
    expect(m?.selector.matches(ns)).toBe(true);
    expect(m?.strategy.selects({ namespace: "x", name: "default", labels: {}, annotations: {} }, ns)).toBe(true);
    expect(m?.strategy.selects({ namespace: "x", name: "builder", labels: {}, annotations: {} }, ns)).toBe(false);
  });

  it("accepts the target shorthands: namespaces (list) and selector (label)", () => {
    const [a, b] = build([
      { name: "a", source: secretSource, targets: { namespaces: ["team-a"] }, secretName: "a" },
      {
        name: "b",
        source: secretSource,
        targets: { selector: { matchLabels: { team: "b" } } },
        secretName: "b",
        serviceAccounts: "all",
      },
    ]);
    expect(a?.selector.matches({ name: "team-a", labels: {}, annotations: {}, phase: "Active" })).toBe(true);
    expect(b?.selector.matches({ name: "x", labels: { team: "b" }, annotations: {}, phase: "Active" })).toBe(true);
    expect(b?.selector.matches({ name: "x", labels: { team: "a" }, annotations: {}, phase: "Active" })).toBe(false);
  });

  it.each([
    [{}, "mappings", "expected a list of mappings"],
    [[], "mappings", "at least one mapping is required"],
    [[{ name: "Bad_Name", source: secretSource, targets: { all: {} } }], "mappings[0].name", "lowercase"],
    [[{ name: "a", source: secretSource, targets: { all: {} }, extra: 1 }], "mappings[0].extra", "unknown field"],
    [
      [{ name: "a", source: { s3: {} }, targets: { all: {} } }],
      "mappings[0].source",
      'unknown source type "s3"; valid types: file, secret, vault',
    ],
    [[{ name: "a", source: {}, targets: { all: {} } }], "mappings[0].source", "found none"],
    [
      [{ name: "a", source: { secret: { name: "regcred" } }, targets: { all: {} } }],
      "mappings[0].source.secret.namespace",
      "required",
    ],
    [
      [
        {
          name: "a",
          source: secretSource,
          targets: { selector: { matchExpressions: [{ key: "team", operator: "Like" }] } },
        },
      ],
      "mappings[0].targets.selector.matchExpressions[0].operator",
      "",
    ],
    [
      [{ name: "a", source: secretSource, targets: { namespaces: ["ok", "Not OK"] } }],
      "mappings[0].targets.namespaces[1]",
      "",
    ],
    [
      [{ name: "a", source: secretSource, targets: { everything: true } }],
      "mappings[0].targets",
      'unknown selector type "everything"',
    ],
    [
      [{ name: "a", source: secretSource, targets: { all: {} }, secretName: "Bad Name" }],
      "mappings[0].secretName",
      "not a valid Secret name",
    ],
    [
      [{ name: "a", source: secretSource, targets: { all: {} }, conflictPolicy: "replace" }],
      "mappings[0].conflictPolicy",
      "expected one of skip, adopt, overwrite",
    ],
    [
      [{ name: "a", source: secretSource, targets: { all: {} }, serviceAccounts: "everyone" }],
      "mappings[0].serviceAccounts",
      "unknown strategy",
    ],
    [[{ name: "a", source: { file: {} }, targets: { all: {} } }], "mappings[0].source.file.path", ""],
  ])("refuses %j at %s", (configs, path, problem) => {
    const err = errorOf(configs);
    expect(err.path).toBe(path);
    expect(err.message).toContain(problem);
  });

  it("refuses duplicate mapping names, naming the first use", () => {
    const err = errorOf([
      { name: "a", source: secretSource, targets: { all: {} }, secretName: "x" },
      { name: "a", source: secretSource, targets: { all: {} }, secretName: "y" },
    ]);
    expect(err.path).toBe("mappings[1].name");
    expect(err.problem).toContain("mappings[0]");
  });

  it("refuses two mappings that write one Secret name into the same listed namespace", () => {
    const err = errorOf([
      { name: "a", source: secretSource, targets: { namespaces: ["shared", "a"] } },
      { name: "b", source: secretSource, targets: { namespaces: ["b", "shared"] } },
    ]);
    expect(err.path).toBe("mappings[1]");
    expect(err.problem).toContain('namespace "shared"');
  });

  it("allows overlapping targets when the Secret names differ", () => {
    expect(
      build([
        { name: "a", source: secretSource, targets: { all: {} }, secretName: "a" },
        { name: "b", source: secretSource, targets: { all: {} }, secretName: "b" },
      ]),
    ).toHaveLength(2);
  });
});

describe("buildMappings: copy names", () => {
  const buildOwn = (configs: unknown, defaultSecretName?: string) =>
    buildMappings(configs, { registries, defaultSecretName });
  const fileSource = { file: { path: "/etc/registry/config.json" } };

  it("names a secret source's copies after the source Secret", () => {
    const mappings = buildOwn([
      { name: "a", source: secretSource, targets: { namespaces: ["a"] } },
      {
        name: "b",
        source: { secret: { name: "regcred-team-a", namespace: "kube-system" } },
        targets: { namespaces: ["b"] },
      },
    ]);
    expect(mappings.map((m) => m.secretName)).toEqual(["regcred", "regcred-team-a"]);
  });

  it("names other sources' copies image-pull-secret", () => {
    const vault = { vault: { address: "https://vault:8200", path: "registry/b", auth: { token: { token: "t" } } } };
    const mappings = buildOwn([
      { name: "a", source: fileSource, targets: { namespaces: ["a"] } },
      { name: "b", source: vault, targets: { namespaces: ["b"] } },
    ]);
    expect(mappings.map((m) => m.secretName)).toEqual(["image-pull-secret", "image-pull-secret"]);
  });

  it("applies defaultSecretName to every mapping without its own secretName; a mapping's own wins", () => {
    const configs = [
      { name: "a", source: secretSource, targets: { namespaces: ["a"] } },
      { name: "b", source: fileSource, targets: { namespaces: ["b"] } },
      { name: "c", source: secretSource, targets: { namespaces: ["c"] }, secretName: "own" },
    ];
    expect(buildOwn(configs).map((m) => m.secretName)).toEqual(["regcred", "image-pull-secret", "own"]);
    expect(buildOwn(configs, "pull").map((m) => m.secretName)).toEqual(["pull", "pull", "own"]);
  });

  it("keeps the source Secret itself out of reach: the seed mapping reads the copy's own name in kube-system", () => {
    const [m] = buildOwn([{ name: "default", source: secretSource, targets: { all: {} } }]);
    expect(m?.secretName).toBe("regcred");
    // "all" selects kube-system too; the engine skips a target that is one of the Secrets a source reads.
    expect(m?.selector.matches({ name: "kube-system", labels: {}, annotations: {}, phase: "Active" })).toBe(true);
    expect(m?.source.secretsRead).toEqual([{ namespace: "kube-system", name: m?.secretName }]);
  });
});

describe("buildMappings: shorthand forms", () => {
  const buildOwn = (configs: unknown) => buildMappings(configs, { registries });
  const ns = (name: string) => ({ name, labels: {}, annotations: {}, phase: "Active" });

  it("builds the multi-team sketch as written", () => {
    const sketch = [
      {
        source: { name: "regcred-team-a", namespace: "kube-system" },
        targets: [{ namespace: "team-a" }, { namespace: "team-a-dev" }],
      },
      { source: { name: "regcred-team-b", namespace: "kube-system" }, targets: [{ namespace: "team-b" }] },
    ];
    const [a, b, ...rest] = buildOwn(sketch);
    expect(rest).toEqual([]);
    expect([a?.name, b?.name]).toEqual(["regcred-team-a", "regcred-team-b"]);
    expect([a?.secretName, b?.secretName]).toEqual(["regcred-team-a", "regcred-team-b"]);
    expect(a?.source.description).toBe("secret kube-system/regcred-team-a");
    expect(b?.source.description).toBe("secret kube-system/regcred-team-b");
    expect(a?.selector.description).toBe("namespaces team-a, team-a-dev");
    expect(b?.selector.description).toBe("namespaces team-b");
    expect(["team-a", "team-a-dev", "team-b", "kube-system"].map((n) => a?.selector.matches(ns(n)))).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it("names mappings after their source, unique across the config", () => {
    const mappings = buildOwn([
      { source: secretSource, targets: [{ namespace: "a" }] },
      { source: secretSource, targets: [{ namespace: "b" }], secretName: "other" },
      { name: "regcred-3", source: secretSource, targets: [{ namespace: "c" }], secretName: "third" },
      { source: secretSource, targets: [{ namespace: "d" }], secretName: "fourth" },
      { source: { file: { path: "/x" } }, targets: [{ namespace: "e" }] },
      {
        source: { name: "regcred.team.a", namespace: "kube-system" },
        targets: [{ namespace: "f" }],
        secretName: "sixth",
      },
    ]);
    expect(mappings.map((m) => m.name)).toEqual([
      "regcred",
      "regcred-2",
      "regcred-3",
      "regcred-4",
      "file",
      "regcred-team-a",
    ]);
  });

  it("keeps derived names within 63 characters, suffix included", () => {
    const long = `${"a".repeat(70)}.b`;
    const source = { name: long, namespace: "kube-system" };
    const [x, y] = buildOwn([
      { source, targets: [{ namespace: "a" }], secretName: "x" },
      { source, targets: [{ namespace: "b" }], secretName: "y" },
    ]);
    expect(x?.name).toBe("a".repeat(63));
    expect(y?.name).toBe(`${"a".repeat(61)}-2`);
  });

  it.each([
    [{ source: { name: "regcred" }, targets: [{ namespace: "a" }] }, "mappings[0].source.namespace", "required"],
    [{ source: secretSource, targets: [] }, "mappings[0].targets", "at least one namespace"],
    [
      { source: secretSource, targets: ["team-a"] },
      "mappings[0].targets[0]",
      "expected a map like { namespace: team-a }",
    ],
    [
      { source: secretSource, targets: [{ namespaces: "a" }] },
      "mappings[0].targets[0].namespaces",
      'did you mean "namespace"?',
    ],
    [
      { source: secretSource, targets: [{ namespace: "a" }, { namespace: "Not OK" }] },
      "mappings[0].targets[1].namespace",
      "",
    ],
    [
      { source: secretSource, targets: [{ namespace: "a" }, { namespace: "a" }] },
      "mappings[0].targets[1].namespace",
      "duplicate of targets[0].namespace",
    ],
  ])("reports shorthand problems where they were written: %j", (config, path, problem) => {
    try {
      buildOwn([config]);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).path).toBe(path);
      expect((err as ConfigError).problem).toContain(problem);
      return;
    }
    throw new Error("expected a ConfigError");
  });
});

describe("buildMappings: every problem at once", () => {
  it("reports all problems of all mappings, each with its path", () => {
    const err = errorOf([
      { name: "Bad_Name", source: { secret: { name: "regcred" } }, targets: { all: {} } },
      { name: "b", source: { s3: {} }, targets: { namespaces: ["ok", "Not OK"] }, conflictPolicy: "replace" },
    ]);
    expect(err.problems.map((p) => p.path)).toEqual([
      "mappings[0].name",
      "mappings[0].source.secret.namespace",
      "mappings[1].conflictPolicy",
      "mappings[1].source",
      "mappings[1].targets.namespaces[1]",
    ]);
    expect(err.path).toBe("mappings[0].name");
    const lines = err.message.split("\n");
    expect(lines[0]).toBe("5 problems:");
    expect(lines.slice(1).map((l) => l.trim().split(":")[0])).toEqual(err.problems.map((p) => p.path));
  });

  it("reports every overlap, not just the first", () => {
    const err = errorOf([
      { name: "a", source: secretSource, targets: { namespaces: ["x"] } },
      { name: "b", source: secretSource, targets: { namespaces: ["x"] } },
      { name: "c", source: secretSource, targets: { namespaces: ["x"] } },
    ]);
    expect(err.problems.map((p) => p.path)).toEqual(["mappings[1]", "mappings[2]", "mappings[2]"]);
  });

  it("keeps a single problem a plain ConfigError of its own", () => {
    const err = errorOf([{ name: "a", source: secretSource, targets: { all: {} }, conflictPolicy: "replace" }]);
    expect(err.problems).toEqual([err]);
    expect(err.message).toBe('mappings[0].conflictPolicy: expected one of skip, adopt, overwrite, got "replace"');
  });
});

describe("buildMappings: unknown keys", () => {
  it.each([
    [
      { name: "a", source: secretSource, targets: { all: {} }, secretname: "x" },
      "mappings[0].secretname",
      'did you mean "secretName"?',
    ],
    [{ name: "a", source: secretSource, target: { all: {} } }, "mappings[0].target", 'did you mean "targets"?'],
    [
      { name: "a", source: { secret: { name: "regcred", namepsace: "kube-system" } }, targets: { all: {} } },
      "mappings[0].source.secret.namepsace",
      'did you mean "namespace"?',
    ],
    [
      { name: "a", source: { secrets: { name: "regcred", namespace: "kube-system" } }, targets: { all: {} } },
      "mappings[0].source",
      'did you mean "secret"?',
    ],
    [
      { name: "a", source: secretSource, targets: { all: { exlude: ["x"] } } },
      "mappings[0].targets.all",
      'did you mean "exclude"?',
    ],
  ])("refuses %j with a hint when one is close", (config, path, hint) => {
    const err = errorOf([config]);
    expect(err.path).toBe(path);
    expect(err.problem).toContain(hint);
  });
});
