import { describe, expect, it } from "vitest";
import { imagePullSecretsPatch } from "./pod-patch.js";

describe("imagePullSecretsPatch", () => {
  it.each([
    ["absent", undefined],
    ["null", null],
    ["empty", []],
  ])("writes the whole field when it is %s", (_name, existing) => {
    expect(imagePullSecretsPatch(existing, ["regcred", "mirror"])).toEqual([
      { op: "add", path: "/spec/imagePullSecrets", value: [{ name: "regcred" }, { name: "mirror" }] },
    ]);
  });

  it("appends each missing name, in wanted order, after the existing entries", () => {
    expect(imagePullSecretsPatch([{ name: "own" }], ["b", "a"])).toEqual([
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "b" } },
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "a" } },
    ]);
  });

  it("skips names already present", () => {
    expect(imagePullSecretsPatch([{ name: "a" }, { name: "own" }], ["a", "b"])).toEqual([
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "b" } },
    ]);
  });

  it("collapses repeated wanted names and ignores empty ones", () => {
    expect(imagePullSecretsPatch(undefined, ["a", "", "b", "a"])).toEqual([
      { op: "add", path: "/spec/imagePullSecrets", value: [{ name: "a" }, { name: "b" }] },
    ]);
  });

  it("returns no operation when nothing is missing", () => {
    expect(imagePullSecretsPatch([{ name: "a" }, { name: "b" }], ["b", "a", "b"])).toEqual([]);
    expect(imagePullSecretsPatch(undefined, [])).toEqual([]);
    expect(imagePullSecretsPatch([{ name: "x" }], [])).toEqual([]);
  });

  it("appends when the existing entries have no name", () => {
    expect(imagePullSecretsPatch([{}], ["a"])).toEqual([
      { op: "add", path: "/spec/imagePullSecrets/-", value: { name: "a" } },
    ]);
  });
});
