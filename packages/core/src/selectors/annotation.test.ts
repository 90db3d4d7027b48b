import { describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { PluginConfigError, type NamespaceView, type PluginContext } from "../plugins/contracts.js";
import {
  AnnotationNamespaceSelector,
  MAPPING_ANNOTATION,
  annotationSelectorFactory,
  mappingNamesIn,
} from "./annotation.js";
import { EXCLUDE_ANNOTATION } from "./exclusions.js";
import { OPT_OUT_ANNOTATION } from "./opt-out.js";

const context: PluginContext = { logger: silentLogger, mappingName: "team-a" };
const ns = (name: string, annotations: Record<string, string> = {}): NamespaceView => ({
  name,
  labels: {},
  annotations,
  phase: "Active",
});
const asking = (name: string, value: string, extra: Record<string, string> = {}): NamespaceView =>
  ns(name, { [MAPPING_ANNOTATION]: value, ...extra });

function create(config: unknown = {}, mappingName = "team-a"): AnnotationNamespaceSelector {
  const selector = annotationSelectorFactory.create(annotationSelectorFactory.validate(config), {
    ...context,
    mappingName,
  });
  expect(selector).toBeInstanceOf(AnnotationNamespaceSelector);
  return selector as AnnotationNamespaceSelector;
}

function configError(config: unknown): PluginConfigError {
  try {
    annotationSelectorFactory.validate(config);
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error(`expected ${JSON.stringify(config)} to be refused`);
}

describe("annotation selector factory", () => {
  it("is registered as `annotation` with a summary naming the annotations", () => {
    expect(annotationSelectorFactory.type).toBe("annotation");
    expect(annotationSelectorFactory.summary).toContain(MAPPING_ANNOTATION);
    expect(annotationSelectorFactory.summary).toContain(EXCLUDE_ANNOTATION);
  });

  it.each([undefined, null, true, {}, { exclude: [] }, { exclude: null }])("reads %j as no exclusion", (config) => {
    expect(annotationSelectorFactory.validate(config)).toEqual({ exclude: [] });
  });

  it("reads exclude and accepts its own output again", () => {
    const config = annotationSelectorFactory.validate({ exclude: ["kube-*", "legacy"] });
    expect(config).toEqual({ exclude: ["kube-*", "legacy"] });
    expect(annotationSelectorFactory.validate(config)).toEqual(config);
  });

  it.each<[unknown, string, string]>([
    [false, "", "got the boolean false"],
    ["team-a", "", 'got the string "team-a"'],
    [{ name: "team-a" }, "", 'unknown key "name" (allowed: exclude)'],
    [{ exclude: "kube-system" }, "exclude", "must be a list of strings"],
    [{ exclude: ["ok", "Bad!"] }, "exclude[1]", '"Bad!" is not a valid namespace name'],
    [{ exclude: ["a", "a"] }, "exclude[1]", "duplicate of exclude[0]"],
  ])("refuses %j", (config, path, problem) => {
    const error = configError(config);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });
});

describe("AnnotationNamespaceSelector", () => {
  it("selects namespaces that name the mapping, and no others", () => {
    const selector = create();
    expect(selector.matches(asking("a", "team-a"))).toBe(true);
    expect(selector.matches(asking("b", "team-b"))).toBe(false);
    expect(selector.matches(asking("c", "team-a-dev"))).toBe(false);
    expect(selector.matches(asking("d", ""))).toBe(false);
    expect(selector.matches(ns("e"))).toBe(false);
    expect(selector.matches(ns("f", { "example.com/mapping": "team-a" }))).toBe(false);
  });

  it("reads a comma-separated list of mapping names, spaces allowed", () => {
    const selector = create();
    expect(selector.matches(asking("a", "shared,team-a"))).toBe(true);
    expect(selector.matches(asking("b", " shared , team-a "))).toBe(true);
    expect(selector.matches(asking("c", "shared,,other"))).toBe(false);
    expect(create({}, "shared").matches(asking("a", "shared,team-a"))).toBe(true);
  });

  it("leaves out exclude names and globs, titansoft's annotation and the opt-out annotation", () => {
    const selector = create({ exclude: ["kube-*", "legacy"] });
    expect(selector.matches(asking("kube-system", "team-a"))).toBe(false);
    expect(selector.matches(asking("legacy", "team-a"))).toBe(false);
    expect(selector.matches(asking("x", "team-a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(false);
    expect(selector.matches(asking("y", "team-a", { [OPT_OUT_ANNOTATION]: "true" }))).toBe(false);
    expect(selector.matches(asking("z", "team-a", { [OPT_OUT_ANNOTATION]: "yes" }))).toBe(true);
  });

  it("describes what namespaces write, and has no namespaceSelector", () => {
    expect(create().description).toBe(`namespaces annotated ${MAPPING_ANNOTATION}: team-a`);
    expect(create({ exclude: ["kube-*"] }).description).toBe(
      `namespaces annotated ${MAPPING_ANNOTATION}: team-a except kube-*`,
    );
    expect(create().namespaceSelector()).toBeUndefined();
  });
});

describe("mappingNamesIn", () => {
  it.each<[string | undefined, string[]]>([
    [undefined, []],
    ["", []],
    ["a", ["a"]],
    ["a,b", ["a", "b"]],
    [" a , ,b ", ["a", "b"]],
  ])("%j → %j", (value, names) => {
    expect(mappingNamesIn(value)).toEqual(names);
  });
});
