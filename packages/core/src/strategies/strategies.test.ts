import { describe, expect, it } from "vitest";
import {
  PluginConfigError,
  type NamespaceView,
  type PluginContext,
  type ServiceAccountView,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { PluginRegistry } from "../plugins/registry.js";
import { silentLogger } from "../logging/logger.js";
import { LabelSelectorError } from "../selectors/label-selector.js";
import {
  AllServiceAccountsStrategy,
  DefaultServiceAccountStrategy,
  LabelSelectorStrategy,
  NamedServiceAccountsStrategy,
  allStrategyFactory,
  builtinStrategyFactories,
  defaultStrategyFactory,
  namedStrategyFactory,
  selectorStrategyFactory,
} from "./index.js";

const context: PluginContext = { logger: silentLogger, mappingName: "test" };
const namespace: NamespaceView = { name: "team-a", labels: {}, annotations: {}, phase: "Active" };
const sa = (name: string, labels: Record<string, string> = {}): ServiceAccountView => ({
  namespace: "team-a",
  name,
  labels,
  annotations: {},
});

function configError<T>(factory: StrategyFactory<T>, config: unknown): PluginConfigError {
  try {
    factory.validate(config);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe("builtin strategies", () => {
  it("register as default, all, named and selector", () => {
    const registry = new PluginRegistry<StrategyFactory>("strategy");
    for (const factory of builtinStrategyFactories) registry.register(factory);
    expect(registry.types()).toEqual(["all", "default", "named", "selector"]);
    for (const factory of builtinStrategyFactories) expect(factory.summary.length).toBeGreaterThan(10);
  });
});

describe("default strategy", () => {
  it.each([undefined, null, true, {}])("takes %j as its (empty) config", (config) => {
    expect(defaultStrategyFactory.validate(config)).toEqual({});
  });

  it("refuses options", () => {
    const error = configError(defaultStrategyFactory, { names: ["x"] });
    expect(error.path).toBe("");
    expect(error.problem).toBe('unknown key "names" (this plugin takes no configuration)');
    expect(configError(defaultStrategyFactory, "default").problem).toContain("takes no configuration");
  });

  it("selects only the ServiceAccount named default", () => {
    const strategy = defaultStrategyFactory.create({}, context);
    expect(strategy).toBeInstanceOf(DefaultServiceAccountStrategy);
    expect(strategy.selects(sa("default"), namespace)).toBe(true);
    expect(strategy.selects(sa("builder"), namespace)).toBe(false);
    expect(strategy.selects(sa("Default"), namespace)).toBe(false);
    expect(strategy.description).toBe('ServiceAccount "default"');
  });
});

describe("all strategy", () => {
  it.each([undefined, null, true, {}])("takes %j as its (empty) config", (config) => {
    expect(allStrategyFactory.validate(config)).toEqual({});
  });

  it("refuses options", () => {
    expect(configError(allStrategyFactory, { except: ["x"] }).problem).toContain('unknown key "except"');
    expect(configError(allStrategyFactory, 0).problem).toContain("got the number 0");
  });

  it("selects every ServiceAccount", () => {
    const strategy = allStrategyFactory.create({}, context);
    expect(strategy).toBeInstanceOf(AllServiceAccountsStrategy);
    for (const name of ["default", "builder", "deployer"]) expect(strategy.selects(sa(name), namespace)).toBe(true);
    expect(strategy.description).toBe("all ServiceAccounts");
  });
});

describe("named strategy", () => {
  it("reads names, keeping their order", () => {
    const longest = `${"a".repeat(63)}.${"a".repeat(63)}.${"a".repeat(63)}.${"a".repeat(61)}`;
    expect(namedStrategyFactory.validate({ names: ["default", "builder", "my.sa", longest] })).toEqual({
      names: ["default", "builder", "my.sa", longest],
    });
  });

  it("accepts its own output again", () => {
    const config = namedStrategyFactory.validate({ names: ["a", "b"] });
    expect(namedStrategyFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [undefined, "", "expected an object like { names: [default, builder] }, got nothing"],
    [["default"], "", "got a list"],
    [{}, "names", "is required"],
    [{ names: [] }, "names", "must list at least one ServiceAccount name"],
    [{ names: "default" }, "names", 'must be a list of strings, got the string "default"'],
    [{ name: ["default"] }, "", 'unknown key "name" (allowed: names)'],
    [
      { names: ["default", "Builder"] },
      "names[1]",
      '"Builder" is not a valid ServiceAccount name: must consist of lower case alphanumeric characters',
    ],
    [{ names: ["a_b"] }, "names[0]", '"a_b" is not a valid ServiceAccount name'],
    [{ names: ["a".repeat(254)] }, "names[0]", "must be at most 253 characters (got 254)"],
    [{ names: ["ok", 3] }, "names[1]", "must be a string, got the number 3"],
    [{ names: ["a", "b", "a"] }, "names[2]", 'duplicate of names[0] ("a")'],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(namedStrategyFactory, config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });

  it("selects the listed ServiceAccounts", () => {
    const strategy = namedStrategyFactory.create({ names: ["default", "builder"] }, context);
    expect(strategy).toBeInstanceOf(NamedServiceAccountsStrategy);
    expect(strategy.selects(sa("default"), namespace)).toBe(true);
    expect(strategy.selects(sa("builder"), namespace)).toBe(true);
    expect(strategy.selects(sa("deployer"), namespace)).toBe(false);
    expect(strategy.description).toBe("ServiceAccounts default, builder");
  });
});

describe("selector strategy", () => {
  it.each<[string, unknown, string]>([
    ["a string", "app=web", "app=web"],
    [
      "the structured form",
      { matchLabels: { app: "web" }, matchExpressions: [{ key: "tier", operator: "Exists" }] },
      "app=web,tier",
    ],
    ["a wrapped string", { selector: "tier in (b,a)" }, "tier in (a,b)"],
    ["a wrapped structured form", { selector: { matchLabels: { app: "web" } } }, "app=web"],
    ["the empty selector", {}, ""],
  ])("reads %s", (_name, config, selector) => {
    expect(selectorStrategyFactory.validate(config)).toEqual({ selector });
  });

  it("accepts its own output again", () => {
    const config = selectorStrategyFactory.validate({
      matchExpressions: [{ key: "a", operator: "NotIn", values: ["x"] }],
    });
    expect(selectorStrategyFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [undefined, "", "expected a ServiceAccount label selector"],
    [42, "", "got the number 42"],
    [{ names: ["a"] }, "", 'unknown key "names" (allowed: selector, matchLabels, matchExpressions)'],
    [{ selector: "app=", matchLabels: {} }, "selector", "use either selector or matchLabels, not both"],
    ["app in", "", 'expected "(" after "in" at position 6, found end of string'],
    [{ selector: "app in (a b)" }, "selector", 'expected "," or ")" at position 10, found "b"'],
    [
      { matchExpressions: [{ key: "app", operator: "Exists", values: ["x"] }] },
      "matchExpressions[0].values",
      "must be empty or absent",
    ],
    [{ selector: { matchLabels: { app: 1 } } }, "selector.matchLabels.app", "quote it in YAML"],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(selectorStrategyFactory, config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });

  it("selects ServiceAccounts by label", () => {
    const strategy = selectorStrategyFactory.create(
      selectorStrategyFactory.validate({ selector: "patch-pull-secret=true,!skip" }),
      context,
    );
    expect(strategy).toBeInstanceOf(LabelSelectorStrategy);
    expect(strategy.selects(sa("a", { "patch-pull-secret": "true" }), namespace)).toBe(true);
    expect(strategy.selects(sa("b", { "patch-pull-secret": "true", skip: "" }), namespace)).toBe(false);
    expect(strategy.selects(sa("c"), namespace)).toBe(false);
    expect(strategy.description).toBe('ServiceAccounts matching "patch-pull-secret=true,!skip"');
    expect((strategy as LabelSelectorStrategy).labelSelector).toBe("patch-pull-secret=true,!skip");
  });

  it("looks at ServiceAccount labels, not namespace labels", () => {
    const strategy = selectorStrategyFactory.create({ selector: "app=web" }, context);
    expect(strategy.selects(sa("a"), { ...namespace, labels: { app: "web" } })).toBe(false);
  });

  it("selects every ServiceAccount with an empty selector", () => {
    const strategy = selectorStrategyFactory.create({ selector: "" }, context);
    expect(strategy.selects(sa("anything"), namespace)).toBe(true);
    expect(strategy.description).toBe("all ServiceAccounts");
  });

  it("refuses an invalid selector when built directly", () => {
    expect(() => new LabelSelectorStrategy({ selector: "a in" })).toThrow(LabelSelectorError);
  });
});
