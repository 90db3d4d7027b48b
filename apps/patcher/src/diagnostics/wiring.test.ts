import "reflect-metadata";
import { describe, expect, it } from "vitest";
import type { PullDiagnostics } from "./pull-diagnostics.js";
import { withDiagnostics } from "./wiring.js";

describe("withDiagnostics", () => {
  it("runs the term alone when diagnostics are off", async () => {
    let ran = false;
    await withDiagnostics(undefined, new AbortController().signal, () => Promise.resolve(void (ran = true)));
    expect(ran).toBe(true);
  });

  it("stops the diagnostics when the term ends, even if it failed", async () => {
    let stopped = false;
    const diagnostics = {
      run: (signal: AbortSignal) =>
        new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(void (stopped = true)))),
    } as unknown as PullDiagnostics;
    const term = withDiagnostics(diagnostics, new AbortController().signal, () => Promise.reject(new Error("boom")));
    await expect(term).rejects.toThrow("boom");
    expect(stopped).toBe(true);
  });
});
