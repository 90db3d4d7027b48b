import { describe, expect, it } from "vitest";
import { PluginConfigError, type NamespaceView, type PluginContext } from "../plugins/contracts.js";
import { silentLogger } from "../logging/logger.js";
import { EXCLUDE_ANNOTATION } from "./exclusions.js";
import { LabelNamespaceSelector, labelSelectorFactory } from "./label.js";
import { LabelSelectorError, compileLabelSelector } from "./label-selector.js";

const context: PluginContext = { logger: silentLogger, mappingName: "test" };
const ns = (
  name: string,
  labels: Record<string, string> = {},
  annotations: Record<string, string> = {},
): NamespaceView => ({
  name,
  labels,
  annotations,
  phase: "Active",
});

function configError(config: unknown): PluginConfigError {
  try {
    labelSelectorFactory.validate(config);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe("label selector factory: config forms", () => {
  it("is registered as `label`", () => {
    expect(labelSelectorFactory.type).toBe("label");
    expect(labelSelectorFactory.summary).toContain("label selector");
  });

  it.each<[string, unknown, string]>([
    [
      "the structured form",
      { matchLabels: { env: "prod" }, matchExpressions: [{ key: "team", operator: "In", values: ["b", "a"] }] },
      "env=prod,team in (a,b)",
    ],
    ["the string form", { selector: "team in (b,a), env==prod" }, "env=prod,team in (a,b)"],
    ["the structured form under selector", { selector: { matchLabels: { env: "prod" } } }, "env=prod"],
    ["a bare string", "env=prod", "env=prod"],
    ["an empty object", {}, ""],
    ["an empty string", { selector: "" }, ""],
    ["null structured fields", { matchLabels: null }, ""],
  ])("reads %s", (_name, config, selector) => {
    expect(labelSelectorFactory.validate(config)).toEqual({ selector, exclude: [] });
  });

  it("reads exclude next to either form", () => {
    expect(labelSelectorFactory.validate({ selector: "env=prod", exclude: ["kube-*"] })).toEqual({
      selector: "env=prod",
      exclude: ["kube-*"],
    });
    expect(labelSelectorFactory.validate({ matchLabels: { env: "prod" }, exclude: ["a"] })).toEqual({
      selector: "env=prod",
      exclude: ["a"],
    });
  });

  it("accepts its own output again", () => {
    const config = labelSelectorFactory.validate({
      matchExpressions: [{ key: "a", operator: "In", values: ["", "x"] }],
      exclude: ["b-*"],
    });
    expect(labelSelectorFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [
      undefined,
      "",
      'expected a label selector: { matchLabels: {...}, matchExpressions: [...] } or { selector: "key=value" }, got nothing',
    ],
    [null, "", "got null"],
    [true, "", "got the boolean true"],
    [["env=prod"], "", "got a list"],
    [
      { matchLabel: { a: "b" } },
      "",
      'unknown key "matchLabel" (allowed: selector, matchLabels, matchExpressions, exclude)',
    ],
    [{ selector: "a=b", matchLabels: { a: "b" } }, "selector", "use either selector or matchLabels, not both"],
    [
      { selector: "a=b", matchLabels: {}, matchExpressions: [] },
      "selector",
      "use either selector or matchLabels/matchExpressions, not both",
    ],
    [
      { selector: 5 },
      "selector",
      'expected a label selector string (e.g. "env=prod") or an object with matchLabels/matchExpressions, got the number 5',
    ],
    [{ selector: "env in (a" }, "selector", 'expected "," or ")" at position 9, found end of string'],
    [{ selector: "Bad_=x" }, "selector", 'invalid label key "Bad_" at position 0'],
    ["a b", "", 'at position 2, found "b"'],
    [
      { selector: { matchExpressions: [{ key: "a", operator: "in", values: ["x"] }] } },
      "selector.matchExpressions[0].operator",
      'unknown operator "in"',
    ],
    [
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      "matchExpressions[0].values",
      "must be empty or absent when operator is Exists",
    ],
    [{ matchLabels: { "example.com/team": "a b" } }, 'matchLabels["example.com/team"]', 'invalid label value "a b"'],
    [{ selector: "a", exclude: ["ok", "Not-Ok"] }, "exclude[1]", '"Not-Ok" is not a valid namespace name'],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });
});

describe("LabelNamespaceSelector", () => {
  const create = (config: unknown) => {
    const selector = labelSelectorFactory.create(labelSelectorFactory.validate(config), context);
    expect(selector).toBeInstanceOf(LabelNamespaceSelector);
    return selector as LabelNamespaceSelector;
  };

  it("selects namespaces by label", () => {
    const selector = create({
      matchLabels: { "imagepullsecret/enabled": "true" },
      matchExpressions: [{ key: "tier", operator: "NotIn", values: ["sandbox"] }],
    });
    expect(selector.matches(ns("a", { "imagepullsecret/enabled": "true" }))).toBe(true);
    expect(selector.matches(ns("b", { "imagepullsecret/enabled": "true", tier: "sandbox" }))).toBe(false);
    expect(selector.matches(ns("c", { "imagepullsecret/enabled": "false" }))).toBe(false);
    expect(selector.matches(ns("d"))).toBe(false);
  });

  it("applies exclude after the labels", () => {
    const selector = create({ selector: "env=prod", exclude: ["legacy-*"] });
    expect(selector.matches(ns("shop", { env: "prod" }))).toBe(true);
    expect(selector.matches(ns("legacy-shop", { env: "prod" }))).toBe(false);
  });

  it("honours the titansoft exclude annotation", () => {
    const selector = create({ selector: "env=prod" });
    expect(selector.matches(ns("shop", { env: "prod" }, { [EXCLUDE_ANNOTATION]: "true" }))).toBe(false);
    expect(create({}).matches(ns("shop", {}, { [EXCLUDE_ANNOTATION]: "true" }))).toBe(false);
  });

  it("selects everything with an empty selector", () => {
    const selector = create({});
    expect(selector.matches(ns("anything"))).toBe(true);
    expect(selector.description).toBe("all namespaces");
    expect(selector.labelSelector).toBe("");
  });

  it("exposes the canonical selector and describes itself", () => {
    const selector = create({ selector: "b=2, a==1", exclude: ["x"] });
    expect(selector.labelSelector).toBe("a=1,b=2");
    expect(selector.description).toBe('namespaces matching "a=1,b=2" except x');
  });

  it("refuses an invalid selector when built directly", () => {
    expect(() => new LabelNamespaceSelector({ selector: "a in", exclude: [] })).toThrow(LabelSelectorError);
  });
});

describe("label selector: namespaceSelector", () => {
  const create = (selector: string, exclude: string[] = []) => new LabelNamespaceSelector({ selector, exclude });
  const nameKey = "kubernetes.io/metadata.name";

  it("is empty for the empty selector", () => {
    expect(create("").namespaceSelector()).toEqual({});
  });

  it("puts equalities in matchLabels and the other operators in matchExpressions", () => {
    expect(
      create("env=prod, team in (b,a), tier notin (x), owner != bob, audited, !legacy").namespaceSelector(),
    ).toEqual({
      matchLabels: { env: "prod" },
      matchExpressions: [
        { key: "audited", operator: "Exists" },
        { key: "legacy", operator: "DoesNotExist" },
        { key: "owner", operator: "NotIn", values: ["bob"] },
        { key: "team", operator: "In", values: ["a", "b"] },
        { key: "tier", operator: "NotIn", values: ["x"] },
      ],
    });
  });

  it("keeps a second equality on one key as In, so both still apply", () => {
    expect(create("a=1,a=2").namespaceSelector()).toEqual({
      matchLabels: { a: "1" },
      matchExpressions: [{ key: "a", operator: "In", values: ["2"] }],
    });
  });

  it("leaves out > and <, which only widens the selection", () => {
    expect(create("size>3, env=prod, rank<2").namespaceSelector()).toEqual({ matchLabels: { env: "prod" } });
  });

  it("adds exact-name exclusions and leaves globs to matches", () => {
    expect(create("env=prod", ["kube-*", "prod-legacy"]).namespaceSelector()).toEqual({
      matchLabels: { env: "prod" },
      matchExpressions: [{ key: nameKey, operator: "NotIn", values: ["prod-legacy"] }],
    });
  });

  it("selects at least every namespace that matches selects", () => {
    const selector = create("env in (prod,staging), team != ops, !legacy, size>3", ["kube-*", "old"]);
    const server = compileLabelSelector(selector.namespaceSelector());
    const cases: [string, Record<string, string>][] = [
      ["a", { env: "prod", size: "4" }],
      ["b", { env: "staging", team: "ops" }],
      ["old", { env: "prod" }],
      ["kube-x", { env: "prod", size: "9" }],
      ["c", { env: "dev" }],
      ["d", { env: "prod", legacy: "yes", size: "5" }],
      ["e", { env: "prod", size: "1" }],
    ];
    for (const [name, labels] of cases) {
      const matched = selector.matches(ns(name, labels));
      const selected = server.matches({ ...labels, [nameKey]: name });
      if (matched) expect(selected, name).toBe(true);
    }
    expect(server.matches({ env: "prod", [nameKey]: "old" })).toBe(false);
    expect(server.matches({ env: "prod", size: "1", [nameKey]: "e" })).toBe(true);
  });
});
