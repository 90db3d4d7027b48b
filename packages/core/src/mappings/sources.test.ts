import { describe, expect, it } from "vitest";
import { MergedSource } from "../sources/merged/merged-source.js";
import { SecretSource } from "../sources/secret/secret-source.js";
import { MAPPING_ANNOTATION } from "../selectors/annotation.js";
import { OPT_OUT_ANNOTATION } from "../selectors/opt-out.js";
import { buildMappings, builtinRegistries, ConfigError } from "./build.js";

const registries = builtinRegistries();
const build = (configs: unknown, defaultSecretName?: string) =>
  buildMappings(configs, { registries, defaultSecretName });
const hub = { secret: { name: "dockerhub", namespace: "kube-system" } };
const privateRegistry = { name: "private-registry", namespace: "kube-system" };
const vault = { vault: { address: "https://vault:8200", path: "registry/b", auth: { token: { token: "t" } } } };

function problemsOf(configs: unknown): { path: string; problem: string }[] {
  try {
    build(configs);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems.map(({ path, problem }) => ({ path, problem }));
  }
  throw new Error("expected a ConfigError");
}

describe("buildMappings: sources (merged)", () => {
  it("merges the listed sources into one, shorthand included, and reads every source Secret", () => {
    const [m] = build([{ name: "pull", sources: [hub, privateRegistry], targets: { all: {} } }]);
    expect(m?.source).toBeInstanceOf(MergedSource);
    expect(m?.source.description).toBe("merged [secret kube-system/dockerhub, secret kube-system/private-registry]");
    expect(m?.source.secretsRead).toEqual([
      { namespace: "kube-system", name: "dockerhub" },
      { namespace: "kube-system", name: "private-registry" },
    ]);
  });

  it("keeps a mapping with a plain source: as it was, with no merge around it", () => {
    const [m] = build([{ name: "pull", source: hub, targets: { all: {} } }]);
    expect(m?.source).toBeInstanceOf(SecretSource);
    expect(m?.secretName).toBe("dockerhub");
  });

  it("names the copy image-pull-secret, not a source's Secret, unless a secretName is set", () => {
    const configs = [
      { name: "a", sources: [hub, privateRegistry], targets: { namespaces: ["a"] } },
      { name: "b", sources: [hub], targets: { namespaces: ["b"] } },
      { name: "c", sources: [hub, vault], targets: { namespaces: ["c"] }, secretName: "own" },
    ];
    expect(build(configs).map((m) => m.secretName)).toEqual(["image-pull-secret", "image-pull-secret", "own"]);
    expect(build(configs, "pull").map((m) => m.secretName)).toEqual(["pull", "pull", "own"]);
  });

  it("derives an unnamed mapping's name from its first source", () => {
    const names = build([
      { sources: [hub, vault], targets: { namespaces: ["a"] }, secretName: "a" },
      { sources: [vault, hub], targets: { namespaces: ["b"] }, secretName: "b" },
    ]).map((m) => m.name);
    expect(names).toEqual(["dockerhub", "vault"]);
  });

  it.each<[string, unknown, string, string]>([
    ["both", { source: hub, sources: [hub] }, "mappings[0].sources", "use either source (one) or sources"],
    ["neither", {}, "mappings[0].source", "required: a source, or sources"],
    ["not a list", { sources: hub }, "mappings[0].sources", "expected a list of sources"],
    ["an empty list", { sources: [] }, "mappings[0].sources", "must list at least one source"],
    ["an entry with no type", { sources: [hub, {}] }, "mappings[0].sources[1]", "expected one source type, found none"],
    ["an unknown type", { sources: [{ s3: {} }] }, "mappings[0].sources[0]", 'unknown source type "s3"'],
    [
      "a bad vault entry",
      { sources: [hub, { vault: { ...vault.vault, address: "ftp://vault" } }] },
      "mappings[0].sources[1].vault.address",
      "",
    ],
    [
      "a shorthand entry without namespace",
      { sources: [hub, { name: "private-registry" }] },
      "mappings[0].sources[1].namespace",
      "required",
    ],
  ])("refuses %s with the path of the value", (_what, fields, path, problem) => {
    const problems = problemsOf([{ name: "m", targets: { all: {} }, ...(fields as object) }]);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe(path);
    expect(problems[0]?.problem).toContain(problem);
  });

  it("reports every bad entry of sources at once", () => {
    const problems = problemsOf([{ name: "m", sources: [{}, hub, { file: {} }], targets: { all: {} } }]);
    expect(problems.map((p) => p.path)).toEqual(["mappings[0].sources[0]", "mappings[0].sources[2].file.path"]);
  });
});

describe("buildMappings: the annotation selector", () => {
  const view = (annotations: Record<string, string>) => ({ name: "ns", labels: {}, annotations, phase: "Active" });

  it("selects the namespaces that name the mapping", () => {
    const [m] = build([{ name: "team-a", source: hub, targets: { annotation: {} } }]);
    expect(m?.selector.description).toBe(`namespaces annotated ${MAPPING_ANNOTATION}: team-a`);
    expect(m?.selector.matches(view({ [MAPPING_ANNOTATION]: "shared,team-a" }))).toBe(true);
    expect(m?.selector.matches(view({ [MAPPING_ANNOTATION]: "team-b" }))).toBe(false);
    expect(m?.selector.matches(view({ [MAPPING_ANNOTATION]: "team-a", [OPT_OUT_ANNOTATION]: "true" }))).toBe(false);
    expect(m?.selector.namespaceSelector?.()).toBeUndefined();
  });

  it("refuses a mapping without a written name, saying why", () => {
    const problems = problemsOf([{ source: hub, targets: { annotation: { exclude: ["kube-*"] } } }]);
    expect(problems.map((p) => p.path)).toEqual(["mappings[0].name"]);
    expect(problems[0]?.problem).toContain("required with targets: annotation");
    expect(problems[0]?.problem).toContain(MAPPING_ANNOTATION);
  });

  it("reports bad exclude entries at their path", () => {
    const problems = problemsOf([{ name: "a", source: hub, targets: { annotation: { exclude: ["ok", "Bad!"] } } }]);
    expect(problems.map((p) => p.path)).toEqual(["mappings[0].targets.annotation.exclude[1]"]);
  });
});
