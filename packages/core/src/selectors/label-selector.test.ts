import { describe, expect, it } from "vitest";
import {
  type CompiledLabelSelector,
  LabelSelectorError,
  type Requirement,
  type StructuredSelector,
  compileLabelSelector,
  formatRequirement,
  parseLabelSelector,
  requirementMatches,
  requirementsFromStructured,
} from "./label-selector.js";

function stringError(input: string): LabelSelectorError {
  try {
    compileLabelSelector(input);
  } catch (error) {
    expect(error).toBeInstanceOf(LabelSelectorError);
    return error as LabelSelectorError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

function structuredError(input: unknown): LabelSelectorError {
  try {
    compileLabelSelector(input as StructuredSelector);
  } catch (error) {
    expect(error).toBeInstanceOf(LabelSelectorError);
    return error as LabelSelectorError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be refused`);
}

const req = (key: string, operator: Requirement["operator"], values: string[] = []): Requirement => ({
  key,
  operator,
  values,
});

describe("parseLabelSelector: operators", () => {
  it.each<[string, Requirement]>([
    ["a=b", req("a", "Equals", ["b"])],
    ["a==b", req("a", "Equals", ["b"])],
    ["a!=b", req("a", "NotEquals", ["b"])],
    ["a in (x,y)", req("a", "In", ["x", "y"])],
    ["a notin (x)", req("a", "NotIn", ["x"])],
    ["a", req("a", "Exists")],
    ["!a", req("a", "DoesNotExist")],
    ["a>1", req("a", "GreaterThan", ["1"])],
    ["a<10", req("a", "LessThan", ["10"])],
    ["example.com/tier=Back_end.1", req("example.com/tier", "Equals", ["Back_end.1"])],
  ])("parses %j", (input, expected) => {
    expect(parseLabelSelector(input)).toEqual([expected]);
  });

  it("ANDs comma-separated requirements", () => {
    const selector = compileLabelSelector("env=prod,tier in (web,api),!legacy");
    expect(selector.requirements).toHaveLength(3);
    expect(selector.matches({ env: "prod", tier: "web" })).toBe(true);
    expect(selector.matches({ env: "prod", tier: "db" })).toBe(false);
    expect(selector.matches({ env: "prod", tier: "web", legacy: "" })).toBe(false);
    expect(selector.matches({ env: "dev", tier: "web" })).toBe(false);
  });

  it("tolerates spaces, tabs and newlines around every token", () => {
    const spaced = compileLabelSelector(
      " \t env \n= prod ,\r\n tier  in  (  web ,  api  ) , ! legacy , x  !=  y , z notin(a) ",
    );
    expect(spaced.toString()).toBe("env=prod,!legacy,tier in (api,web),x!=y,z notin (a)");
    expect(compileLabelSelector("a==b").toString()).toBe(
      compileLabelSelector("a = = b".replace("= =", "==")).toString(),
    );
  });

  it("does not take other whitespace as a separator", () => {
    // Go only skips ' ', \t, \r and \n; a no-break space becomes part of the key and fails validation.
    expect(stringError("a\u00a0=b").problem).toContain('invalid label key "a\u00a0"');
  });

  it.each(["", "   ", "\t\n"])("treats %j as the empty selector that matches everything", (input) => {
    const selector = compileLabelSelector(input);
    expect(selector.isEmpty).toBe(true);
    expect(selector.requirements).toEqual([]);
    expect(selector.toString()).toBe("");
    expect(selector.matches({})).toBe(true);
    expect(selector.matches({ any: "thing" })).toBe(true);
  });

  it("lexes special characters greedily like Kubernetes", () => {
    expect(parseLabelSelector("a!=b")).toEqual([req("a", "NotEquals", ["b"])]);
    expect(parseLabelSelector("a==b")).toEqual([req("a", "Equals", ["b"])]);
    // `=!` is `=` then `!`, and `!` is no value.
    expect(stringError("a=!b").message).toBe('expected a value after "=" at position 2, found "!"');
    // `===` is `==` then `=`.
    expect(stringError("a===b").message).toBe('expected a value after "==" at position 3, found "="');
  });
});

describe("parseLabelSelector: Kubernetes quirks kept on purpose", () => {
  it.each<[string, Requirement]>([
    ["a=", req("a", "Equals", [""])],
    ["a==", req("a", "Equals", [""])],
    ["a!=", req("a", "NotEquals", [""])],
    ["a in ()", req("a", "In", [""])],
    ["a notin ()", req("a", "NotIn", [""])],
    ["a in (,x)", req("a", "In", ["", "x"])],
    ["a in (x,)", req("a", "In", ["", "x"])],
    ["a in (x,,y)", req("a", "In", ["", "x", "y"])],
    ["a in (,)", req("a", "In", [""])],
    ["a in (,,)", req("a", "In", [""])],
    ["a in (x,,)", req("a", "In", ["", "x"])],
    ["a in (x,,,y)", req("a", "In", ["", "x", "y"])],
    ["a in (y,x,y)", req("a", "In", ["x", "y"])],
    ["in in (in)", req("in", "In", ["in"])],
    ["notin notin (notin,in)", req("notin", "NotIn", ["in", "notin"])],
    ["a=in", req("a", "Equals", ["in"])],
    ["a=notin", req("a", "Equals", ["notin"])],
    ["in", req("in", "Exists")],
    ["!notin", req("notin", "DoesNotExist")],
    ["in=x", req("in", "Equals", ["x"])],
    ["a>007", req("a", "GreaterThan", ["007"])],
  ])("parses %j", (input, expected) => {
    expect(parseLabelSelector(input)).toEqual([expected]);
  });

  it("keeps an empty value before the next requirement", () => {
    expect(parseLabelSelector("a=,b")).toEqual([req("a", "Equals", [""]), req("b", "Exists")]);
  });
});

describe("parseLabelSelector: errors name the problem and the position", () => {
  it.each<[string, number, string]>([
    [",a", 0, 'expected a label key or "!" at position 0, found ","'],
    ["=a", 0, 'expected a label key or "!" at position 0, found "="'],
    ["(a)", 0, 'expected a label key or "!" at position 0, found "("'],
    ["a,", 2, 'expected a label key or "!" after "," at position 2, found end of string'],
    ["a=b,", 4, 'expected a label key or "!" after "," at position 4, found end of string'],
    ["a,,b", 2, 'expected a label key or "!" after "," at position 2, found ","'],
    [
      "a b",
      2,
      'expected an operator (=, ==, !=, in, notin, >, <), "," or end of string after label key "a" at position 2, found "b"',
    ],
    ["Bad Key!", 4, 'after label key "Bad" at position 4, found "Key"'],
    ["a (b)", 2, 'after label key "a" at position 2, found "("'],
    ["a!b", 1, 'after label key "a" at position 1, found "!"'],
    ["a=b c", 4, 'expected "," or end of string at position 4, found "c"'],
    ["a in (x)y", 8, 'expected "," or end of string at position 8, found "y"'],
    ["a in b", 5, 'expected "(" after "in" at position 5, found "b"'],
    ["a notin", 7, 'expected "(" after "notin" at position 7, found end of string'],
    ["a in (b", 7, 'expected "," or ")" at position 7, found end of string'],
    ["a in (b c)", 8, 'expected "," or ")" at position 8, found "c"'],
    ["a in (b,", 8, 'expected a value or "," at position 8, found end of string'],
    ["a in (=)", 6, 'expected a value, "," or ")" at position 6, found "="'],
    ["a in (", 6, 'expected a value, "," or ")" at position 6, found end of string'],
    ["a=(b)", 2, 'expected a value after "=" at position 2, found "("'],
    ["a!=)", 3, 'expected a value after "!=" at position 3, found ")"'],
    ["!", 1, "expected a label key at position 1, found end of string"],
    ["!!a", 1, 'expected a label key at position 1, found "!"'],
    [
      "!a=b",
      2,
      'expected "," or end of string after "!a" (a does-not-exist requirement takes no operator or value) at position 2, found "="',
    ],
    ["!a in (x)", 3, 'after "!a" (a does-not-exist requirement takes no operator or value) at position 3, found "in"'],
    ["a>b", 2, 'value "b" for label key "a" at position 2 must be an integer for the ">" operator'],
    ["a<", 2, 'value "" for label key "a" at position 2 must be an integer for the "<" operator'],
    ["a>1.5", 2, "must be an integer"],
    ["a>9223372036854775808", 2, "must be an integer"],
    ["a>-1", 2, 'invalid label value "-1" for key "a" at position 2'],
  ])("%j → position %i", (input, position, message) => {
    const error = stringError(input);
    expect(error.position).toBe(position);
    expect(error.path).toBe("");
    expect(error.message).toContain(message);
    expect(error.problem).toBe(error.message);
    expect(error.name).toBe("LabelSelectorError");
  });

  it.each<[string, number, string]>([
    ["-bad=x", 0, 'invalid label key "-bad" at position 0: name part must consist of alphanumeric characters'],
    ["x=1, bad_/y=2", 5, 'invalid label key "bad_/y" at position 5: prefix "bad_" must consist of lower case'],
    ["Example.com/a", 0, 'invalid label key "Example.com/a" at position 0: prefix "Example.com"'],
    ["a/b/c", 0, "may contain at most one '/'"],
    ["/a", 0, "prefix before '/' must not be empty"],
    ["!a/", 1, 'invalid label key "a/" at position 1: name part must not be empty'],
    [`ok,${"k".repeat(64)}=v`, 3, "name part must be at most 63 characters (got 64)"],
    [`${"p".repeat(254)}/k`, 0, "must be at most 253 characters (got 254)"],
    ["a\u0000b", 0, 'invalid label key "a\\u0000b" at position 0'],
  ])("validates the key of %j", (input, position, message) => {
    const error = stringError(input);
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
  });

  it.each<[string, number, string]>([
    [
      "a=b-",
      2,
      'invalid label value "b-" for key "a" at position 2: must be empty or consist of alphanumeric characters',
    ],
    ["a in (ok, -bad)", 10, 'invalid label value "-bad" for key "a" at position 10'],
    ["a notin (x/y)", 9, 'invalid label value "x/y" for key "a" at position 9'],
    [`a!=${"v".repeat(64)}`, 3, "must be at most 63 characters (got 64)"],
  ])("validates the values of %j", (input, position, message) => {
    const error = stringError(input);
    expect(error.position).toBe(position);
    expect(error.message).toContain(message);
  });

  it("accepts keys and values at exactly their limits", () => {
    const key = `${"p".repeat(63)}.${"p".repeat(63)}.${"p".repeat(63)}.${"p".repeat(61)}/${"k".repeat(63)}`;
    const value = "v".repeat(63);
    const selector = compileLabelSelector(`${key}=${value}`);
    expect(selector.matches({ [key]: value })).toBe(true);
  });

  it("refuses non-string input at runtime", () => {
    expect(() => parseLabelSelector(42 as unknown as string)).toThrow(
      "expected a label selector string, got the number 42",
    );
  });
});

describe("matching", () => {
  const match = (selector: string, labels: Record<string, string>) => compileLabelSelector(selector).matches(labels);

  it.each<[string, Record<string, string>, boolean]>([
    ["a=b", { a: "b" }, true],
    ["a=b", { a: "c" }, false],
    ["a=b", {}, false],
    ["a=", { a: "" }, true],
    ["a=", {}, false],
    ["a==b", { a: "b" }, true],
    ["a!=b", { a: "c" }, true],
    ["a!=b", { a: "b" }, false],
    ["a!=b", {}, true], // absent keys satisfy != as in Kubernetes
    ["a in (x,y)", { a: "y" }, true],
    ["a in (x,y)", { a: "z" }, false],
    ["a in (x,y)", {}, false],
    ["a in ()", { a: "" }, true],
    ["a notin (x)", { a: "y" }, true],
    ["a notin (x)", { a: "x" }, false],
    ["a notin (x)", {}, true],
    ["a", { a: "" }, true],
    ["a", {}, false],
    ["!a", {}, true],
    ["!a", { a: "" }, false],
    ["a>1", { a: "2" }, true],
    ["a>1", { a: "1" }, false],
    ["a>1", {}, false],
    ["a>1", { a: "x" }, false],
    ["a>1", { a: "1.5" }, false],
    ["a<10", { a: "9" }, true],
    ["a<10", { a: "10" }, false],
    ["a<10", { a: "-3" }, true], // Go's ParseInt reads signed label values
    ["a<10", { a: "+3" }, true],
    ["a<10", { a: "" }, false],
    ["a>007", { a: "8" }, true],
    ["a>9007199254740992", { a: "9007199254740993" }, true], // beyond 2^53: compared exactly
    ["a<9223372036854775807", { a: "9223372036854775808" }, false], // overflows int64: no match
  ])("%j on %j → %s", (selector, labels, expected) => {
    expect(match(selector, labels)).toBe(expected);
  });

  it("is case-sensitive in keys and values", () => {
    expect(match("App=Web", { app: "web" })).toBe(false);
    expect(match("App=Web", { App: "Web" })).toBe(true);
  });

  it("never looks at Object.prototype", () => {
    expect(match("constructor", {})).toBe(false);
    expect(match("!toString", {})).toBe(true);
    expect(match("hasOwnProperty!=x", {})).toBe(true);
    expect(match("constructor", { constructor: "x" })).toBe(true);
    const bare = Object.create(null) as Record<string, string>;
    bare["a"] = "b";
    expect(match("a=b", bare)).toBe(true);
  });

  it("treats a non-string label value as absent", () => {
    const labels = { a: undefined } as unknown as Record<string, string>;
    expect(match("a", labels)).toBe(false);
    expect(match("!a", labels)).toBe(true);
  });

  it("exposes single-requirement matching", () => {
    expect(requirementMatches(req("a", "In", ["x"]), { a: "x" })).toBe(true);
    expect(requirementMatches(req("a", "GreaterThan", ["x"]), { a: "1" })).toBe(false);
  });
});

describe("structured selectors", () => {
  it("compiles matchLabels and matchExpressions into one AND", () => {
    const selector = compileLabelSelector({
      matchLabels: { team: "a", "app.kubernetes.io/part-of": "shop" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "staging"] },
        { key: "tier", operator: "NotIn", values: ["db"] },
        { key: "owner", operator: "Exists" },
        { key: "legacy", operator: "DoesNotExist", values: [] },
      ],
    });
    expect(selector.toString()).toBe(
      "app.kubernetes.io/part-of=shop,env in (prod,staging),!legacy,owner,team=a,tier notin (db)",
    );
    const labels = { team: "a", "app.kubernetes.io/part-of": "shop", env: "prod", owner: "me" };
    expect(selector.matches(labels)).toBe(true);
    expect(selector.matches({ ...labels, legacy: "yes" })).toBe(false);
    expect(selector.matches({ ...labels, tier: "db" })).toBe(false);
    expect(selector.matches({ ...labels, env: "dev" })).toBe(false);
    expect(selector.matches({ team: "a", env: "prod", owner: "me" })).toBe(false);
  });

  it.each<[string, unknown]>([
    ["{}", {}],
    ["empty matchLabels", { matchLabels: {} }],
    ["empty matchExpressions", { matchExpressions: [] }],
    ["null fields", { matchLabels: null, matchExpressions: null }],
  ])("treats %s as matching everything", (_name, input) => {
    const selector = compileLabelSelector(input as StructuredSelector);
    expect(selector.isEmpty).toBe(true);
    expect(selector.toString()).toBe("");
    expect(selector.matches({})).toBe(true);
    expect(selector.matches({ a: "b" })).toBe(true);
  });

  it("dedups and sorts values, and allows the empty value", () => {
    expect(
      compileLabelSelector({
        matchExpressions: [{ key: "a", operator: "In", values: ["y", "x", "x", ""] }],
      }).toString(),
    ).toBe("a in (,x,y)");
    expect(compileLabelSelector({ matchLabels: { a: "" } }).toString()).toBe("a=");
  });

  it("accepts null values for Exists", () => {
    expect(requirementsFromStructured({ matchExpressions: [{ key: "a", operator: "Exists", values: null }] })).toEqual([
      req("a", "Exists"),
    ]);
  });

  it.each<[string, unknown, string, string]>([
    [
      "a string where an object belongs",
      42,
      "",
      "expected a label selector object with matchLabels and/or matchExpressions, got the number 42",
    ],
    ["a list", [], "", "got a list"],
    ["null", null, "", "got null"],
    ["an unknown key", { matchLabel: {} }, "", 'unknown key "matchLabel" (allowed: matchLabels, matchExpressions)'],
    [
      "matchLabels as a list",
      { matchLabels: ["a"] },
      "matchLabels",
      "must be a map of label keys to values, got a list",
    ],
    [
      "a bad matchLabels key",
      { matchLabels: { "Bad Key!": "x" } },
      'matchLabels["Bad Key!"]',
      'invalid label key "Bad Key!": name part must consist',
    ],
    ["a bad prefixed key", { matchLabels: { "a/b/c": "x" } }, 'matchLabels["a/b/c"]', "may contain at most one '/'"],
    [
      "a 64-char key",
      { matchLabels: { ["k".repeat(64)]: "x" } },
      `matchLabels.${"k".repeat(64)}`,
      "name part must be at most 63 characters (got 64)",
    ],
    [
      "a bad matchLabels value",
      { matchLabels: { app: "a b" } },
      "matchLabels.app",
      'invalid label value "a b": must be empty or consist',
    ],
    [
      "a 64-char value",
      { matchLabels: { app: "v".repeat(64) } },
      "matchLabels.app",
      "must be at most 63 characters (got 64)",
    ],
    [
      "a numeric value",
      { matchLabels: { tier: 1 } },
      "matchLabels.tier",
      "must be a string, got the number 1 (quote it in YAML)",
    ],
    [
      "a boolean value",
      { matchLabels: { on: true } },
      "matchLabels.on",
      "must be a string, got the boolean true (quote it in YAML)",
    ],
    [
      "matchExpressions as an object",
      { matchExpressions: {} },
      "matchExpressions",
      "must be a list of {key, operator, values}, got an object",
    ],
    [
      "an expression that is a string",
      { matchExpressions: ["a=b"] },
      "matchExpressions[0]",
      'expected an object with key, operator and values, got the string "a=b"',
    ],
    [
      "an unknown expression field",
      { matchExpressions: [{ key: "a", operator: "Exists", value: ["x"] }] },
      "matchExpressions[0]",
      'unknown key "value" (allowed: key, operator, values)',
    ],
    ["a missing key", { matchExpressions: [{ operator: "Exists" }] }, "matchExpressions[0].key", "is required"],
    [
      "a numeric key",
      { matchExpressions: [{ key: 5, operator: "Exists" }] },
      "matchExpressions[0].key",
      "must be a string, got the number 5",
    ],
    [
      "a bad key",
      { matchExpressions: [{ key: "-a", operator: "Exists" }] },
      "matchExpressions[0].key",
      'invalid label key "-a"',
    ],
    ["a missing operator", { matchExpressions: [{ key: "a" }] }, "matchExpressions[0].operator", "is required"],
    [
      "a lower-case operator",
      { matchExpressions: [{ key: "a", operator: "in", values: ["x"] }] },
      "matchExpressions[0].operator",
      'unknown operator "in"; expected one of In, NotIn, Exists, DoesNotExist; operators are case-sensitive, did you mean "In"?',
    ],
    [
      "the Gt operator",
      { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] },
      "matchExpressions[0].operator",
      'unknown operator "Gt"',
    ],
    [
      "the = operator",
      { matchExpressions: [{ key: "a", operator: "=", values: ["1"] }] },
      "matchExpressions[0].operator",
      'unknown operator "="',
    ],
    [
      "In without values",
      { matchExpressions: [{ key: "a", operator: "In" }] },
      "matchExpressions[0].values",
      "must be a non-empty list when operator is In",
    ],
    [
      "NotIn with []",
      { matchExpressions: [{ key: "a", operator: "NotIn", values: [] }] },
      "matchExpressions[0].values",
      "must be a non-empty list when operator is NotIn",
    ],
    [
      "Exists with values",
      { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] },
      "matchExpressions[0].values",
      "must be empty or absent when operator is Exists",
    ],
    [
      "DoesNotExist with values",
      { matchExpressions: [{ key: "a", operator: "DoesNotExist", values: ["x"] }] },
      "matchExpressions[0].values",
      "must be empty or absent when operator is DoesNotExist",
    ],
    [
      "values as a string",
      { matchExpressions: [{ key: "a", operator: "In", values: "x" }] },
      "matchExpressions[0].values",
      'must be a list of strings, got the string "x"',
    ],
    [
      "a bad value",
      { matchExpressions: [{ key: "a", operator: "In", values: ["ok", "no way"] }] },
      "matchExpressions[0].values[1]",
      'invalid label value "no way"',
    ],
    [
      "a numeric value in a list",
      { matchExpressions: [{ key: "a", operator: "In", values: [1] }] },
      "matchExpressions[0].values[0]",
      "quote it in YAML",
    ],
    [
      "an error in the second expression",
      {
        matchExpressions: [
          { key: "a", operator: "Exists" },
          { key: "b", operator: "Nope" },
        ],
      },
      "matchExpressions[1].operator",
      'unknown operator "Nope"',
    ],
  ])("refuses %s", (_name, input, path, problem) => {
    const error = structuredError(input);
    expect(error.path).toBe(path);
    expect(error.problem).toContain(problem);
    expect(error.position).toBeUndefined();
    expect(error.message).toBe(path ? `${path}: ${error.problem}` : error.problem);
  });

  it("prefixes error paths with basePath", () => {
    expect(() => requirementsFromStructured({ matchExpressions: [{ key: "a" }] }, "selector")).toThrow(
      "selector.matchExpressions[0].operator: is required",
    );
  });

  it("gives the same requirements as the equivalent string", () => {
    const structured = compileLabelSelector({
      matchLabels: { a: "1" },
      matchExpressions: [
        { key: "b", operator: "In", values: ["x", "y"] },
        { key: "c", operator: "DoesNotExist" },
      ],
    });
    const text = compileLabelSelector("!c, b in (y,x), a=1");
    expect(structured.requirements).toEqual(text.requirements);
    expect(structured.toString()).toBe(text.toString());
  });
});

describe("canonical toString", () => {
  it.each<[string, string]>([
    ["a==b", "a=b"],
    ["b=1,a=2", "a=2,b=1"],
    ["a in (z,y,y)", "a in (y,z)"],
    ["a=b,a=b", "a=b"],
    ["a=1,a", "a,a=1"],
    ["!c, b, a notin (x)", "a notin (x),b,!c"],
    ["x>1,x<5", "x<5,x>1"],
    ["a in (x) , a in (x)", "a in (x)"],
    ["in in (in)", "in in (in)"],
  ])("%j → %j", (input, canonical) => {
    expect(compileLabelSelector(input).toString()).toBe(canonical);
    expect(String(compileLabelSelector(input))).toBe(canonical);
  });

  const sampleLabels: Record<string, string>[] = [
    {},
    { a: "" },
    { a: "b" },
    { a: "x", b: "1" },
    { in: "in", notin: "x" },
    { "example.com/k": "v", x: "3" },
    { a: "y", b: "2", c: "", x: "10" },
  ];

  function expectRoundTrip(selector: CompiledLabelSelector): void {
    const again = compileLabelSelector(selector.toString());
    expect(again.toString()).toBe(selector.toString());
    expect(again.requirements).toEqual(selector.requirements);
    for (const labels of sampleLabels) expect(again.matches(labels)).toBe(selector.matches(labels));
  }

  it.each([
    "",
    "a",
    "!a",
    "a=",
    "a!=",
    "a=b",
    "a==b",
    "a in ()",
    "a in (,x)",
    "a notin (x,,y)",
    "in",
    "!in",
    "notin=in",
    "in in (in,notin)",
    "notin notin (notin)",
    "x>3,x<10",
    "example.com/k in (v,w),a,!b,c!=d",
    " a = b , c in ( d , e ) ",
  ])("round-trips %j", (input) => {
    expectRoundTrip(compileLabelSelector(input));
  });

  it("round-trips structured selectors through their string form", () => {
    expectRoundTrip(
      compileLabelSelector({
        matchLabels: { a: "b", "example.com/k": "v" },
        matchExpressions: [
          { key: "c", operator: "In", values: ["", "x"] },
          { key: "d", operator: "NotIn", values: ["y"] },
          { key: "e", operator: "Exists" },
          { key: "f", operator: "DoesNotExist" },
        ],
      }),
    );
  });

  it("round-trips randomly generated selectors", () => {
    // Small deterministic PRNG so failures reproduce.
    let seed = 0x2f6b;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const keys = ["a", "b", "in", "notin", "example.com/k", "A_1.z"];
    const values = ["", "x", "y", "in", "notin", "V-1", "0", "12"];
    const pick = <T>(list: readonly T[]): T => list[random(list.length)] as T;
    for (let round = 0; round < 300; round++) {
      const parts: string[] = [];
      const count = random(5);
      for (let i = 0; i < count; i++) {
        const key = pick(keys);
        switch (random(8)) {
          case 0:
            parts.push(key);
            break;
          case 1:
            parts.push(`!${key}`);
            break;
          case 2:
            parts.push(`${key}=${pick(values)}`);
            break;
          case 3:
            parts.push(`${key}==${pick(values)}`);
            break;
          case 4:
            parts.push(`${key}!=${pick(values)}`);
            break;
          case 5:
            parts.push(`${key} in (${[pick(values), pick(values)].join(",")})`);
            break;
          case 6:
            parts.push(`${key} notin (${pick(values)})`);
            break;
          default:
            parts.push(`${key}${pick([">", "<"])}${pick(["0", "12", "007"])}`);
        }
      }
      const input = parts.join(pick([",", " , ", ",\t"]));
      expectRoundTrip(compileLabelSelector(input));
    }
  });

  it("formats single requirements", () => {
    expect(formatRequirement(req("a", "In", ["x", "y"]))).toBe("a in (x,y)");
    expect(formatRequirement(req("a", "DoesNotExist"))).toBe("!a");
    expect(formatRequirement(req("a", "GreaterThan", ["1"]))).toBe("a>1");
  });

  it("returns frozen results", () => {
    const selector = compileLabelSelector("a in (x,y)");
    expect(Object.isFrozen(selector)).toBe(true);
    expect(Object.isFrozen(selector.requirements)).toBe(true);
    expect(Object.isFrozen(selector.requirements[0])).toBe(true);
    expect(Object.isFrozen(selector.requirements[0]?.values)).toBe(true);
  });
});
