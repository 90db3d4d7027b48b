// The test CA is made once per vitest run, before the workers start: Node reads NODE_EXTRA_CA_CERTS
// only at start-up, and MSAL talks to https authorities only. vitest.config.ts calls prepareSharedTls.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServingPair } from "./https-stand-in.js";
import { createTestTls } from "./test-ca.js";

const DIR_VARIABLE = "ACR_SOURCE_TEST_TLS_DIR";

/** Makes the CA and serving pair, and sets NODE_EXTRA_CA_CERTS for the workers vitest starts next. */
export async function prepareSharedTls(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "source-acr-tls-"));
  const tls = await createTestTls(dir);
  writeFileSync(join(dir, "serving.pem"), tls.serving.certPem);
  writeFileSync(join(dir, "serving-key.pem"), tls.serving.keyPem, { mode: 0o600 });
  process.env.NODE_EXTRA_CA_CERTS = tls.caFile;
  process.env[DIR_VARIABLE] = dir;
}

/** The serving pair prepareSharedTls made, for stand-ins in a test worker. */
export function sharedTls(): ServingPair {
  const dir = process.env[DIR_VARIABLE];
  if (!dir) throw new Error(`${DIR_VARIABLE} is not set: run these tests through this package's vitest.config.ts`);
  return {
    certPem: readFileSync(join(dir, "serving.pem"), "utf8"),
    keyPem: readFileSync(join(dir, "serving-key.pem"), "utf8"),
  };
}
