import { describe, expect, it } from "vitest";
import { mappingsOfNote } from "./stuck-pods.js";

describe("mappingsOfNote", () => {
  it("reads every mapping a MissingPullSecret note names, and nothing from other notes", () => {
    const note =
      'Pulling image "r.example/app:1" failed and spec.imagePullSecrets lacks Secret "a-pull" of mapping "team-a", ' +
      'Secret "b-pull" of mapping "team-b": the Pod was created before its ServiceAccount was patched';
    expect(mappingsOfNote(note)).toEqual(["team-a", "team-b"]);
    expect(mappingsOfNote("Back-off pulling image")).toEqual([]);
    expect(mappingsOfNote(undefined)).toEqual([]);
  });
});
