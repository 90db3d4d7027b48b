import { describe, expect, it } from "vitest";
import { PluginConfigError } from "../plugins/contracts.js";
import {
  childPath,
  describeValue,
  indexPath,
  isPlainObject,
  joinPath,
  readStringList,
  validateNoConfig,
} from "./validation.js";

describe("config validation helpers", () => {
  it("recognises plain objects only", () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
    expect(isPlainObject("x")).toBe(false);
  });

  it("describes values without dumping them", () => {
    expect(describeValue(undefined)).toBe("nothing");
    expect(describeValue(null)).toBe("null");
    expect(describeValue([1])).toBe("a list");
    expect(describeValue({ secret: "x" })).toBe("an object");
    expect(describeValue("s")).toBe('the string "s"');
    expect(describeValue(3)).toBe("the number 3");
    expect(describeValue(false)).toBe("the boolean false");
  });

  it("builds paths", () => {
    expect(childPath("", "exclude")).toBe("exclude");
    expect(childPath("a", "b")).toBe("a.b");
    expect(childPath("matchLabels", "example.com/x")).toBe('matchLabels["example.com/x"]');
    expect(indexPath("exclude", 2)).toBe("exclude[2]");
    expect(joinPath("", "[1]")).toBe("[1]");
    expect(joinPath("selector", "")).toBe("selector");
    expect(joinPath("selector", "matchExpressions[0]")).toBe("selector.matchExpressions[0]");
    expect(joinPath("names", "[1]")).toBe("names[1]");
  });

  it("reads string lists", () => {
    expect(readStringList(["a", "a"], "x")).toEqual(["a", "a"]);
    expect(() => readStringList(["a", "a"], "x", { refuseDuplicates: true })).toThrow('x[1]: duplicate of x[0] ("a")');
    expect(() => readStringList([], "x", { emptyProblem: "needs one" })).toThrow("x: needs one");
  });

  it.each([undefined, null, true, {}])("reads %j as no config", (config) => {
    expect(validateNoConfig(config)).toEqual({});
  });

  it.each<[unknown, string]>([
    [{ names: [] }, 'unknown key "names" (this plugin takes no configuration)'],
    [false, "takes no configuration (use {} or leave it empty), got the boolean false"],
    ["x", 'got the string "x"'],
  ])("refuses %j where no config belongs", (config, problem) => {
    expect(() => validateNoConfig(config)).toThrow(PluginConfigError);
    expect(() => validateNoConfig(config)).toThrow(problem);
  });
});
