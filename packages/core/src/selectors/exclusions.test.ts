import { describe, expect, it } from "vitest";
import { PluginConfigError } from "../plugins/contracts.js";
import { EXCLUDE_ANNOTATION, NamespaceExclusions, hasExcludeAnnotation, readExcludeList } from "./exclusions.js";

const ns = (name: string, annotations: Record<string, string> = {}) => ({ name, annotations });

function configError(fn: () => unknown): PluginConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PluginConfigError);
    return error as PluginConfigError;
  }
  throw new Error("expected a PluginConfigError");
}

describe("hasExcludeAnnotation", () => {
  it("uses titansoft's annotation key", () => {
    expect(EXCLUDE_ANNOTATION).toBe("k8s.titansoft.com/imagepullsecret-patcher-exclude");
  });

  it('excludes only on exactly "true", as titansoft did', () => {
    expect(hasExcludeAnnotation(ns("a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(true);
    for (const value of ["True", "TRUE", "1", "yes", "false", "", " true"]) {
      expect(hasExcludeAnnotation(ns("a", { [EXCLUDE_ANNOTATION]: value }))).toBe(false);
    }
    expect(hasExcludeAnnotation(ns("a"))).toBe(false);
  });

  it("ignores the key used as a label elsewhere or under another prefix", () => {
    expect(hasExcludeAnnotation(ns("a", { "imagepullsecret-patcher-exclude": "true" }))).toBe(false);
  });
});

describe("readExcludeList", () => {
  it("accepts names and globs, and nothing", () => {
    expect(readExcludeList(["kube-system", "openshift-*", "team-??"])).toEqual([
      "kube-system",
      "openshift-*",
      "team-??",
    ]);
    expect(readExcludeList(undefined)).toEqual([]);
    expect(readExcludeList(null)).toEqual([]);
    expect(readExcludeList([])).toEqual([]);
  });

  it.each<[unknown, string, string]>([
    ["kube-system", "exclude", 'must be a list of strings, got the string "kube-system"'],
    [{ a: 1 }, "exclude", "must be a list of strings, got an object"],
    [["a", "b", "Kube-System"], "exclude[2]", '"Kube-System" is not a valid namespace name'],
    [["a", 1], "exclude[1]", "must be a string, got the number 1"],
    [["a", null], "exclude[1]", "must be a string, got null"],
    [["kube_*"], "exclude[0]", '"kube_*" is not a valid namespace glob'],
    [["a", "b", "a"], "exclude[2]", 'duplicate of exclude[0] ("a")'],
  ])("refuses %j", (value, path, problem) => {
    const error = configError(() => readExcludeList(value));
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
  });

  it("uses the given path", () => {
    expect(configError(() => readExcludeList([""], "spec.exclude")).path).toBe("spec.exclude[0]");
  });
});

describe("NamespaceExclusions", () => {
  const exclusions = new NamespaceExclusions(["kube-system", "openshift-*"]);

  it("excludes by name, glob and annotation", () => {
    expect(exclusions.excludes(ns("kube-system"))).toBe(true);
    expect(exclusions.excludes(ns("openshift-monitoring"))).toBe(true);
    expect(exclusions.excludes(ns("team-a", { [EXCLUDE_ANNOTATION]: "true" }))).toBe(true);
    expect(exclusions.excludes(ns("team-a"))).toBe(false);
    expect(exclusions.excludes(ns("kube-public"))).toBe(false);
  });

  it("describes itself", () => {
    expect(exclusions.describeSuffix()).toBe(" except kube-system, openshift-*");
    expect(new NamespaceExclusions([]).describeSuffix()).toBe("");
  });
});
