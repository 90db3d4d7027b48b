import { describe, expect, it } from "vitest";
import { PluginConfigError, type NamespaceView, type PluginContext } from "../plugins/contracts.js";
import { silentLogger } from "../logging/logger.js";
import { AllNamespacesSelector, allSelectorFactory } from "./all.js";
import { EXCLUDE_ANNOTATION } from "./exclusions.js";

const context: PluginContext = { logger: silentLogger, mappingName: "test" };
const ns = (
  name: string,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
): NamespaceView => ({
  name,
  labels,
  annotations,
  phase: "Active",
});

function configError(config: unknown): PluginConfigError {
  try {
    allSelectorFactory.validate(config);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe("all selector factory", () => {
  it("is registered as `all` with a summary", () => {
    expect(allSelectorFactory.type).toBe("all");
    expect(allSelectorFactory.summary).toContain(EXCLUDE_ANNOTATION);
  });

  it.each([undefined, null, true, {}, { exclude: [] }, { exclude: null }])("reads %j as no exclusion", (config) => {
    expect(allSelectorFactory.validate(config)).toEqual({ exclude: [] });
  });

  it("reads exclude", () => {
    expect(allSelectorFactory.validate({ exclude: ["kube-system", "openshift-*"] })).toEqual({
      exclude: ["kube-system", "openshift-*"],
    });
  });

  it("accepts its own output again", () => {
    const config = allSelectorFactory.validate({ exclude: ["kube-*"] });
    expect(allSelectorFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [false, "", "expected an object like { exclude: [kube-system] } or nothing, got the boolean false"],
    ["kube-system", "", 'got the string "kube-system"'],
    [["kube-system"], "", "got a list"],
    [{ excludes: [] }, "", 'unknown key "excludes" (allowed: exclude)'],
    [{ exclude: "kube-system" }, "exclude", "must be a list of strings"],
    [{ exclude: ["a", "b", "Bad!"] }, "exclude[2]", '"Bad!" is not a valid namespace name'],
    [{ exclude: ["a", "a"] }, "exclude[1]", "duplicate of exclude[0]"],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });
});

describe("AllNamespacesSelector", () => {
  const selector = allSelectorFactory.create(
    allSelectorFactory.validate({ exclude: ["kube-system", "openshift-*"] }),
    context,
  );

  it("selects every namespace not excluded", () => {
    expect(selector.matches(ns("default"))).toBe(true);
    expect(selector.matches(ns("team-a", {}, { any: "label" }))).toBe(true);
    expect(selector.matches(ns("kube-system"))).toBe(false);
    expect(selector.matches(ns("openshift-operators"))).toBe(false);
    expect(selector.matches(ns("kube-public"))).toBe(true);
  });

  it("never selects a namespace annotated with the titansoft exclude annotation", () => {
    expect(selector.matches(ns("team-a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(false);
    expect(new AllNamespacesSelector({ exclude: [] }).matches(ns("team-a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(
      false,
    );
    expect(selector.matches(ns("team-a", { [EXCLUDE_ANNOTATION]: "false" }))).toBe(true);
  });

  it("leaves terminating namespaces to the engine", () => {
    expect(selector.matches({ ...ns("team-a"), phase: "Terminating" })).toBe(true);
  });

  it("describes itself", () => {
    expect(selector.description).toBe("all namespaces except kube-system, openshift-*");
    expect(new AllNamespacesSelector({ exclude: [] }).description).toBe("all namespaces");
  });
});

describe("all selector: namespaceSelector", () => {
  const create = (exclude: string[]) => new AllNamespacesSelector({ exclude });

  it("selects every namespace without exclusions", () => {
    expect(create([]).namespaceSelector()).toEqual({});
  });

  it("excludes exact names and leaves globs to matches", () => {
    expect(create(["kube-*", "team-b", "default"]).namespaceSelector()).toEqual({
      matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["default", "team-b"] }],
    });
  });

  it("says nothing when every exclusion is a glob", () => {
    expect(create(["kube-*", "openshift-?"]).namespaceSelector()).toEqual({});
  });
});
