import { describe, expect, it } from "vitest";
import { deletionBudget } from "./deletion-budget.js";

describe("deletionBudget", () => {
  it("allows `perMinute` deletions at once, then one every 60/perMinute seconds", () => {
    let now = 0;
    const budget = deletionBudget(10, () => now);
    const first = Array.from({ length: 11 }, () => budget.tryTake());
    expect(first.filter(Boolean)).toHaveLength(10);
    expect(first[10]).toBe(false);
    now += 5_900;
    expect(budget.tryTake()).toBe(false);
    now += 200;
    expect(budget.tryTake()).toBe(true);
    expect(budget.tryTake()).toBe(false);
  });
});
