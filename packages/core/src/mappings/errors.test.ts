import { describe, expect, it } from "vitest";
import { ConfigError, closestMatch, didYouMean, editDistance, withUnknownKeyHint } from "./errors.js";

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["abc", "abc", 0],
    ["namepsace", "namespace", 2],
    ["target", "targets", 1],
    ["kitten", "sitting", 3],
  ])("%s → %s is %i", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe("closestMatch", () => {
  it("prefers a case-insensitive match, then the nearest within 2 edits", () => {
    expect(closestMatch("SECRETNAME", ["secretName", "source"])).toBe("secretName");
    expect(closestMatch("sorce", ["secretName", "source"])).toBe("source");
    expect(closestMatch("colour", ["secretName", "source"])).toBeUndefined();
    expect(didYouMean("colour", ["source"])).toBe("");
    expect(didYouMean("sorce", ["source"])).toBe('; did you mean "source"?');
  });
});

describe("withUnknownKeyHint", () => {
  it.each([
    ["namepsace", "unknown field (valid: name, namespace)", "namespace"],
    ["file.pollIntervalSecond", "unknown key; valid keys: path, pollIntervalSeconds", "pollIntervalSeconds"],
    ["auth.kubernetes.rol", "unknown key; allowed keys: role, mount, jwtFile", "role"],
    ["all", 'unknown key "exlude" (allowed: exclude)', "exclude"],
  ])("hints at %s", (path, problem, hint) => {
    expect(withUnknownKeyHint(path, problem)).toBe(`${problem}; did you mean "${hint}"?`);
  });

  it("leaves other messages alone", () => {
    expect(withUnknownKeyHint("path", "required, a non-empty string")).toBe("required, a non-empty string");
  });
});

describe("ConfigError.of", () => {
  it("returns a lone problem as it is, and lists several in one message", () => {
    const a = new ConfigError("a", "bad");
    expect(ConfigError.of([a])).toBe(a);
    const all = ConfigError.of([a, new ConfigError("b", "worse")]);
    expect(all).toBeInstanceOf(ConfigError);
    expect([all.path, all.problem]).toEqual(["a", "bad"]);
    expect(all.message).toBe("2 problems:\n  a: bad\n  b: worse");
    expect(ConfigError.of([all, new ConfigError("c", "worst")]).problems.map((p) => p.path)).toEqual(["a", "b", "c"]);
  });
});
