import { describe, expect, it } from "vitest";
import { PluginConfigError, type NamespaceView, type PluginContext } from "../plugins/contracts.js";
import { silentLogger } from "../logging/logger.js";
import { EXCLUDE_ANNOTATION } from "./exclusions.js";
import { NamespaceListSelector, listSelectorFactory } from "./list.js";

const context: PluginContext = { logger: silentLogger, mappingName: "test" };
const ns = (name: string, annotations: Record<string, string> = {}): NamespaceView => ({
  name,
  labels: {},
  annotations,
  phase: "Active",
});

function configError(config: unknown): PluginConfigError {
  try {
    listSelectorFactory.validate(config);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe("list selector factory", () => {
  it("is registered as `list`", () => {
    expect(listSelectorFactory.type).toBe("list");
    expect(listSelectorFactory.summary).toContain("namespaces");
  });

  it("reads names, keeping their order", () => {
    expect(listSelectorFactory.validate({ namespaces: ["team-b", "team-a", "a".repeat(63)] })).toEqual({
      namespaces: ["team-b", "team-a", "a".repeat(63)],
    });
  });

  it("accepts its own output again", () => {
    const config = listSelectorFactory.validate({ namespaces: ["a", "b"] });
    expect(listSelectorFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [undefined, "", "expected an object like { namespaces: [team-a, team-b] }, got nothing"],
    [["team-a"], "", "got a list"],
    ["team-a", "", 'got the string "team-a"'],
    [{}, "namespaces", "is required"],
    [{ namespaces: null }, "namespaces", "is required"],
    [{ namespaces: [] }, "namespaces", "must list at least one namespace"],
    [{ namespaces: "team-a" }, "namespaces", 'must be a list of strings, got the string "team-a"'],
    [{ namespace: ["a"] }, "", 'unknown key "namespace" (allowed: namespaces)'],
    [{ namespaces: ["a"], exclude: ["b"] }, "", 'unknown key "exclude" (allowed: namespaces)'],
    [
      { namespaces: ["a", "Team-B"] },
      "namespaces[1]",
      '"Team-B" is not a valid namespace name: must consist of lower case alphanumeric characters',
    ],
    [{ namespaces: ["a", "b", "a.b"] }, "namespaces[2]", '"a.b" is not a valid namespace name'],
    [{ namespaces: ["a".repeat(64)] }, "namespaces[0]", "must be at most 63 characters (got 64)"],
    [{ namespaces: [""] }, "namespaces[0]", "must not be empty"],
    [{ namespaces: ["a", 7] }, "namespaces[1]", "must be a string, got the number 7 (quote it in YAML)"],
    [{ namespaces: ["team-*"] }, "namespaces[0]", '"team-*" is a glob; list takes exact namespace names'],
    [{ namespaces: ["a", "b", "c", "b"] }, "namespaces[3]", 'duplicate of namespaces[1] ("b")'],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
    expect(error.message).toBe(path ? `${path}: ${error.problem}` : error.problem);
  });
});

describe("NamespaceListSelector", () => {
  const selector = listSelectorFactory.create(
    listSelectorFactory.validate({ namespaces: ["team-a", "team-b"] }),
    context,
  ) as NamespaceListSelector;

  it("is a NamespaceListSelector", () => {
    expect(selector).toBeInstanceOf(NamespaceListSelector);
  });

  it("selects exactly the listed names", () => {
    expect(selector.matches(ns("team-a"))).toBe(true);
    expect(selector.matches(ns("team-b"))).toBe(true);
    expect(selector.matches(ns("team-c"))).toBe(false);
    expect(selector.matches(ns("team-a2"))).toBe(false);
  });

  it("does not consult the exclude annotation: the list is explicit", () => {
    expect(selector.matches(ns("team-a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(true);
  });

  it("describes itself", () => {
    expect(selector.description).toBe("namespaces team-a, team-b");
    expect(selector.namespaces).toEqual(["team-a", "team-b"]);
  });
});

describe("list selector: namespaceSelector", () => {
  it("selects the listed names by their name label, sorted", () => {
    const selector = new NamespaceListSelector({ namespaces: ["team-b", "team-a"] });
    expect(selector.namespaceSelector()).toEqual({
      matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["team-a", "team-b"] }],
    });
  });
});
