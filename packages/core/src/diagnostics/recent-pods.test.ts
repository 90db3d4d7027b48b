import { describe, expect, it } from "vitest";
import { RecentPods } from "./recent-pods.js";

describe("RecentPods", () => {
  it("remembers what was decided and since when", () => {
    let now = 1_000;
    const recent = new RecentPods<string>(10, () => now);
    recent.set("a", "reported");
    now += 500;
    expect(recent.get("a")).toEqual({ value: "reported", ageMs: 500 });
    expect(recent.get("b")).toBeUndefined();
  });

  it("drops the least recently used entry at capacity", () => {
    const recent = new RecentPods<number>(2);
    recent.set("a", 1);
    recent.set("b", 2);
    recent.get("a");
    recent.set("c", 3);
    expect(recent.size).toBe(2);
    expect(recent.get("b")).toBeUndefined();
    expect(recent.get("a")?.value).toBe(1);
    expect(recent.get("c")?.value).toBe(3);
  });
});
