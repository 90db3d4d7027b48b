import { defineConfig } from "vitest/config";
import { prepareSharedTls } from "./src/test-support/shared-tls.js";

export default defineConfig(async () => {
  // The stand-ins serve https with a test CA the workers must trust from their first line on.
  await prepareSharedTls();
  // Generous: these bound hangs (real sockets, real timers); they are not assertions about speed.
  return { test: { include: ["src/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 60_000 } };
});
