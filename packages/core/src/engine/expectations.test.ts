import { describe, expect, it } from "vitest";
import { Expectations } from "./expectations.js";

// resourceVersions here are deliberately not numbers, and not in any order: only equality counts.
describe("Expectations", () => {
  const clock = (): { now: () => number; advance: (ms: number) => void } => {
    let t = 0;
    return { now: () => t, advance: (ms) => (t += ms) };
  };

  it("waits until the cache shows the version the write returned", () => {
    const e = new Expectations();
    e.expect("secret/ns/pull", "zz", "aa", "zz");
    expect(e.pending("secret/ns/pull", "zz")).toBe(true);
    e.observe("secret/ns/pull", "aa");
    expect(e.pending("secret/ns/pull", "aa")).toBe(false);
    expect(e.size).toBe(0);
  });

  it("is met at once when the watch delivered the write before it was recorded", () => {
    const e = new Expectations();
    e.expect("sa/ns/default", "k9", "b2", "b2");
    expect(e.size).toBe(0);
  });

  it("is met by any other change from the version the write was planned from (someone wrote after us)", () => {
    const e = new Expectations();
    e.expect("sa/ns/default", "k9", "b2", "k9");
    expect(e.pending("sa/ns/default", "q0")).toBe(false);
  });

  it("treats a delete as met once the object is gone, or replaced by another", () => {
    const e = new Expectations();
    e.expect("secret/ns/a", "m1", "", "m1");
    expect(e.pending("secret/ns/a", "m1")).toBe(true);
    expect(e.pending("secret/ns/a", "")).toBe(false);
    e.expect("secret/ns/b", "m1", "", "m1");
    e.observe("secret/ns/b", "n7");
    expect(e.size).toBe(0);
  });

  it("does not take the middle of a delete-and-create (absent) for its end", () => {
    const e = new Expectations();
    e.expect("secret/ns/pull", "old", "new", "old");
    e.observe("secret/ns/pull", "");
    expect(e.pending("secret/ns/pull", "")).toBe(true);
    e.observe("secret/ns/pull", "new");
    expect(e.size).toBe(0);
  });

  it("waits for a create until the object shows up", () => {
    const e = new Expectations();
    e.expect("secret/ns/pull", "", "c3", "");
    expect(e.pending("secret/ns/pull", "")).toBe(true);
    expect(e.pending("secret/ns/pull", "c3")).toBe(false);
  });

  it("gives up after its TTL, so a lost watch event never blocks a key for good", () => {
    const c = clock();
    const e = new Expectations(c.now, 1_000);
    e.expect("secret/ns/pull", "x", "y", "x");
    e.expect("secret/ns/other", "x", "y", "x");
    c.advance(999);
    expect(e.pending("secret/ns/pull", "x")).toBe(true);
    c.advance(2);
    expect(e.pending("secret/ns/pull", "x")).toBe(false);
    e.prune();
    expect(e.size).toBe(0);
  });
});
