import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/**/*.e2e.test.ts"],
          // The soak runs in a vitest process of its own, beside these (scripts/e2e.sh).
          exclude: ["tests/soak.e2e.test.ts"],
          // One control plane per run, shared by every file; each file makes its own namespaces.
          globalSetup: ["./src/support/global-setup.ts"],
          // Generous: these bound hangs, they are not assertions about speed.
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Files share one API server; running them one at a time keeps the 2-core machine responsive.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "soak",
          include: ["tests/soak.e2e.test.ts"],
          globalSetup: ["./src/support/global-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
