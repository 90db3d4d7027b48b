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
      { name: "b", source: secretSource, targets: { selector: { matchLabels: { team: "b" } } }, secretName: "b", serviceAccounts: "all" },
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
    [[{ name: "a", source: { s3: {} }, targets: { all: {} } }], "mappings[0].source", 'unknown source type "s3"; valid types: file, secret, vault'],
    [[{ name: "a", source: {}, targets: { all: {} } }], "mappings[0].source", "found none"],
    [[{ name: "a", source: { secret: { name: "regcred" } }, targets: { all: {} } }], "mappings[0].source.secret.namespace", "required"],
    [[{ name: "a", source: secretSource, targets: { selector: { matchExpressions: [{ key: "team", operator: "Like" }] } } }], "mappings[0].targets.selector.matchExpressions[0].operator", ""],
    [[{ name: "a", source: secretSource, targets: { namespaces: ["ok", "Not OK"] } }], "mappings[0].targets.namespaces[1]", ""],
    [[{ name: "a", source: secretSource, targets: { everything: true } }], "mappings[0].targets", 'unknown selector type "everything"'],
    [[{ name: "a", source: secretSource, targets: { all: {} }, secretName: "Bad Name" }], "mappings[0].secretName", "not a valid Secret name"],
    [[{ name: "a", source: secretSource, targets: { all: {} }, conflictPolicy: "replace" }], "mappings[0].conflictPolicy", "expected one of skip, adopt, overwrite"],
    [[{ name: "a", source: secretSource, targets: { all: {} }, serviceAccounts: "everyone" }], "mappings[0].serviceAccounts", "unknown strategy"],
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
