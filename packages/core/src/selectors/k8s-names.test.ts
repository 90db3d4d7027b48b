import { describe, expect, it } from "vitest";
import { dns1123LabelProblem, dns1123SubdomainProblem, labelKeyProblem, labelValueProblem } from "./k8s-names.js";

const segment = (n: number) => "a".repeat(n);

describe("labelKeyProblem", () => {
  it.each([
    "a",
    "A",
    "1",
    "app",
    "MyName",
    "my.name",
    "123-abc",
    "a_b",
    "a-b.c_D",
    segment(63),
    "example.com/name",
    "app.kubernetes.io/name",
    "k8s.titansoft.com/imagepullsecret-patcher-exclude",
    "a/b",
    "1.2.3/x",
    `${segment(63)}.${segment(63)}.${segment(63)}.${segment(61)}/x`, // prefix of exactly 253
    `example.com/${segment(63)}`,
    "in",
    "notin",
    "constructor",
  ])("accepts %j", (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ["", "name part must not be empty"],
    [segment(64), "name part must be at most 63 characters (got 64)"],
    [`example.com/${segment(64)}`, "name part must be at most 63 characters (got 64)"],
    ["-a", "name part must consist of alphanumeric characters"],
    ["a-", "name part must consist of alphanumeric characters"],
    ["_a", "name part must consist of alphanumeric characters"],
    ["a.", "name part must consist of alphanumeric characters"],
    ["Bad Key!", "name part must consist of alphanumeric characters"],
    ["a b", "name part must consist of alphanumeric characters"],
    ["ü", "name part must consist of alphanumeric characters"],
    ["a\u0000", "name part must consist of alphanumeric characters"],
    ["/a", "prefix before '/' must not be empty"],
    ["example.com/", "name part must not be empty"],
    ["a/b/c", "may contain at most one '/'"],
    ["Example.com/a", 'prefix "Example.com" must consist of lower case alphanumeric characters'],
    ["exa_mple.com/a", 'prefix "exa_mple.com" must consist of lower case'],
    ["-example.com/a", 'prefix "-example.com" must consist of lower case'],
    ["example..com/a", 'prefix "example..com" must consist of lower case'],
    [`${segment(63)}.${segment(63)}.${segment(63)}.${segment(62)}/x`, "must be at most 253 characters (got 254)"],
  ])("refuses %j", (key, problem) => {
    expect(labelKeyProblem(key)).toContain(problem);
  });
});

describe("labelValueProblem", () => {
  it.each(["", "a", "A", "0", "my_value", "My.Value-1", "12345", segment(63)])("accepts %j", (value) => {
    expect(labelValueProblem(value)).toBeUndefined();
  });

  it.each([
    [segment(64), "must be at most 63 characters (got 64)"],
    ["-a", "must be empty or consist of alphanumeric characters"],
    ["a-", "must be empty or consist"],
    ["a b", "must be empty or consist"],
    ["a/b", "must be empty or consist"],
    ["+1", "must be empty or consist"],
    ["-1", "must be empty or consist"],
  ])("refuses %j", (value, problem) => {
    expect(labelValueProblem(value)).toContain(problem);
  });
});

describe("dns1123LabelProblem", () => {
  it.each(["a", "0", "kube-system", "team-a1", segment(63)])("accepts %j", (name) => {
    expect(dns1123LabelProblem(name)).toBeUndefined();
  });

  it.each([
    ["", "must not be empty"],
    [segment(64), "must be at most 63 characters (got 64)"],
    ["Kube-System", "lower case alphanumeric"],
    ["-a", "lower case alphanumeric"],
    ["a-", "lower case alphanumeric"],
    ["a.b", "lower case alphanumeric"],
    ["a_b", "lower case alphanumeric"],
  ])("refuses %j", (name, problem) => {
    expect(dns1123LabelProblem(name)).toContain(problem);
  });

  it("refuses huge input by length, before any pattern matching", () => {
    expect(dns1123LabelProblem(`${"a-".repeat(500_000)}!`)).toContain("must be at most 63 characters");
  });
});

describe("dns1123SubdomainProblem", () => {
  const longest = `${segment(63)}.${segment(63)}.${segment(63)}.${segment(61)}`;
  it.each(["default", "builder", "my.sa", "a-b.c-d", longest])("accepts %j", (name) => {
    expect(dns1123SubdomainProblem(name)).toBeUndefined();
  });

  it.each([
    ["", "must not be empty"],
    [`${longest}a`, "must be at most 253 characters (got 254)"],
    ["Default", "lower case alphanumeric"],
    ["a..b", "lower case alphanumeric"],
    [".a", "lower case alphanumeric"],
    ["a_b", "lower case alphanumeric"],
  ])("refuses %j", (name, problem) => {
    expect(dns1123SubdomainProblem(name)).toContain(problem);
  });
});
