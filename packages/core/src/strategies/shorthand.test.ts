import { describe, expect, it } from "vitest";
import { PluginConfigError, type PluginContext, type StrategyFactory } from "../plugins/contracts.js";
import { PluginRegistry } from "../plugins/registry.js";
import { silentLogger } from "../logging/logger.js";
import { builtinStrategyFactories } from "./index.js";
import { strategyFromShorthand } from "./shorthand.js";

function shorthandError(value: unknown): PluginConfigError {
  try {
    strategyFromShorthand(value);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe("strategyFromShorthand", () => {
  it.each<[unknown, unknown]>([
    ["default", { type: "default", config: {} }],
    ["all", { type: "all", config: {} }],
    [["default", "builder"], { type: "named", config: { names: ["default", "builder"] } }],
    [{ selector: "app=web" }, { type: "selector", config: { selector: "app=web" } }],
    [{ selector: "b=1, a==2" }, { type: "selector", config: { selector: "a=2,b=1" } }],
    [{ selector: { matchLabels: { app: "web" } } }, { type: "selector", config: { selector: "app=web" } }],
    [{ selector: "" }, { type: "selector", config: { selector: "" } }],
  ])("maps %j", (value, expected) => {
    expect(strategyFromShorthand(value)).toEqual(expected);
  });

  it("yields configs the registered factories accept and build", () => {
    const registry = new PluginRegistry<StrategyFactory>("strategy");
    for (const factory of builtinStrategyFactories) registry.register(factory);
    const context: PluginContext = { logger: silentLogger, mappingName: "test" };
    for (const value of ["default", "all", ["builder"], { selector: "app=web" }]) {
      const ref = strategyFromShorthand(value);
      const factory = registry.get(ref.type);
      expect(factory.validate(ref.config)).toEqual(ref.config);
      expect(factory.create(ref.config, context).description).toBeTruthy();
    }
  });

  it.each<[unknown, string, string]>([
    [
      "everything",
      "",
      'unknown strategy "everything"; expected "default", "all", a list of ServiceAccount names, or { selector: ... }',
    ],
    ["Default", "", 'unknown strategy "Default"; did you mean "default"?'],
    [" all ", "", 'did you mean "all"?'],
    ["", "", 'unknown strategy ""'],
    ["named", "", 'unknown strategy "named"'],
    [[], "", "must list at least one ServiceAccount name"],
    [["default", "Builder"], "[1]", '"Builder" is not a valid ServiceAccount name'],
    [["default", 1], "[1]", "must be a string, got the number 1"],
    [["a", "a"], "[1]", 'duplicate of [0] ("a")'],
    [{}, "", 'empty object; expected "default", "all"'],
    [{ names: ["a"] }, "", 'unknown key "names" in strategy shorthand'],
    [{ selector: "a=b", type: "x" }, "", 'unknown key "type" in strategy shorthand'],
    [{ selector: 3 }, "selector", "expected a label selector string"],
    [{ selector: "app in (a" }, "selector", 'expected "," or ")" at position 9, found end of string'],
    [
      { selector: { matchExpressions: [{ key: "a", operator: "Equals", values: ["x"] }] } },
      "selector.matchExpressions[0].operator",
      'unknown operator "Equals"',
    ],
    [undefined, "", "got nothing"],
    [null, "", "got null"],
    [true, "", "got the boolean true"],
    [7, "", "got the number 7"],
  ])("refuses %j", (value, path, problem) => {
    const error = shorthandError(value);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });
});
