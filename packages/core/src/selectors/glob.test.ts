import { describe, expect, it } from "vitest";
import { compileGlob, globMatches, hasWildcards, namespacePatternProblem } from "./glob.js";

describe("globMatches", () => {
  it.each([
    ["kube-system", "kube-system", true],
    ["kube-system", "kube-system2", false],
    ["kube-system", "my-kube-system", false],
    ["openshift-*", "openshift-monitoring", true],
    ["openshift-*", "openshift-", true],
    ["openshift-*", "openshift", false],
    ["openshift-*", "my-openshift-x", false],
    ["*-system", "kube-system", true],
    ["*-system", "kube-system-x", false],
    ["team-*-prod", "team-a-prod", true],
    ["team-*-prod", "team--prod", true],
    ["team-*-prod", "team-a-staging", false],
    ["*", "", true],
    ["*", "anything", true],
    ["**", "x", true],
    ["?", "", false],
    ["?", "a", true],
    ["?", "ab", false],
    ["team-??", "team-ab", true],
    ["team-??", "team-a", false],
    ["team-??", "team-abc", false],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "abc", true],
    ["a*b*c", "axxbyy", false],
    ["a*b*c", "acb", false],
    ["*a*b", "xaxbxb", true],
    ["*ab", "aab", true],
    ["a*", "b", false],
    ["", "", true],
    ["", "a", false],
  ])("%j vs %j → %s", (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  // Names never contain these, but the matcher must treat them literally rather than as regex.
  it.each([
    ["a.b", "a.b", true],
    ["a.b", "axb", false],
    [".*", ".anything", true],
    [".*", "anything", false],
    ["a+b", "a+b", true],
    ["a+b", "aab", false],
    ["(x)", "(x)", true],
    ["(x)", "x", false],
    ["[ab]", "[ab]", true],
    ["[ab]", "a", false],
    ["^a$", "^a$", true],
    ["^a$", "a", false],
    ["a|b", "a", false],
    ["a|b", "a|b", true],
    ["\\d", "\\d", true],
    ["\\d", "1", false],
    ["a{2}", "aa", false],
    ["$(rm)*", "$(rm)-x", true],
    ["*.example", "www.example", true],
    ["*.example", "wwwxexample", false],
  ])("treats regex syntax literally: %j vs %j → %s", (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it("counts code points for ?", () => {
    expect(globMatches("a?c", "a😀c")).toBe(true);
  });

  it("stays fast on adversarial patterns", () => {
    const started = performance.now();
    expect(globMatches("*a*a*a*a*a*a*a*a*b", "a".repeat(5000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("compileGlob", () => {
  it("reports whether the pattern is literal", () => {
    expect(compileGlob("kube-system").isLiteral).toBe(true);
    expect(compileGlob("kube-*").isLiteral).toBe(false);
    expect(compileGlob("kube-?").isLiteral).toBe(false);
    expect(compileGlob("kube-*").pattern).toBe("kube-*");
  });

  it("is reusable", () => {
    const glob = compileGlob("team-*");
    expect(["team-a", "team-b", "other"].map((n) => glob.matches(n))).toEqual([true, true, false]);
  });

  it("hasWildcards", () => {
    expect(hasWildcards("a*")).toBe(true);
    expect(hasWildcards("a?")).toBe(true);
    expect(hasWildcards("a.b")).toBe(false);
  });
});

describe("namespacePatternProblem", () => {
  it.each([
    "kube-system",
    "default",
    "openshift-*",
    "*",
    "team-??",
    "*-system",
    "a".repeat(63),
    `${"a".repeat(63)}*`,
    `${"a".repeat(62)}?*`,
  ])("accepts %j", (pattern) => {
    expect(namespacePatternProblem(pattern)).toBeUndefined();
  });

  it.each([
    ["", '"" is not a valid namespace name: must not be empty'],
    ["Kube-System", '"Kube-System" is not a valid namespace name'],
    ["a.b", '"a.b" is not a valid namespace name'],
    ["-x", '"-x" is not a valid namespace name'],
    ["a".repeat(64), "must be at most 63 characters (got 64)"],
    ["kube_*", '"kube_*" is not a valid namespace glob'],
    ["Kube-*", '"Kube-*" is not a valid namespace glob'],
    ["kube.*", '"kube.*" is not a valid namespace glob'],
    ["kube system*", "not a valid namespace glob"],
    ["[a-z]*", "not a valid namespace glob"],
    [`${"a".repeat(64)}*`, "can never match: it needs 64 characters"],
    [`${"a".repeat(63)}?`, "can never match: it needs 64 characters"],
  ])("refuses %j", (pattern, problem) => {
    expect(namespacePatternProblem(pattern)).toContain(problem);
  });
});
