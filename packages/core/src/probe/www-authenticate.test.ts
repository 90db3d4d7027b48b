import { describe, expect, it } from "vitest";
import { parseChallenges } from "./www-authenticate.js";

describe("parseChallenges, edge cases", () => {
  it("skips token68 data after a scheme instead of reading it as a parameter", () => {
    expect(parseChallenges('Negotiate abc+/==, Basic realm="r"')).toEqual([
      { scheme: "negotiate", params: {} },
      { scheme: "basic", params: { realm: "r" } },
    ]);
  });

  it("reads unquoted values, spaces around '=' and names in any case", () => {
    expect(parseChallenges("Bearer Realm = https://auth.example/token , service=reg")).toEqual([
      { scheme: "bearer", params: { realm: "https://auth.example/token", service: "reg" } },
    ]);
  });

  it("forgives a missing closing quote and stray characters", () => {
    expect(parseChallenges('Basic realm="open')).toEqual([{ scheme: "basic", params: { realm: "open" } }]);
    expect(parseChallenges('" ; Basic realm=x')).toEqual([{ scheme: "basic", params: { realm: "x" } }]);
    expect(parseChallenges("")).toEqual([]);
  });
});
