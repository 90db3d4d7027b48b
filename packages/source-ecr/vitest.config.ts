import { defineConfig } from "vitest/config";

export default defineConfig({
  // Generous: these bound hangs (real sockets, real timers); they are not assertions about speed.
  test: { include: ["src/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 60_000 },
});
