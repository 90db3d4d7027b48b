import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Generous: CI machines have 2 cores and may be busy; these bound hangs, they assert nothing.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
