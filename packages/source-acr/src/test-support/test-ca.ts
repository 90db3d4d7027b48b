// A throwaway CA and a 127.0.0.1 serving certificate for the Azure stand-ins. MSAL refuses authorities
// that are not https (msal-common UrlString.validateAsUri) and ACR's exchange is https too, so the
// process under test trusts this CA through NODE_EXTRA_CA_CERTS, as it would a corporate CA.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCertificateAuthority, issueServingCertificate } from "@imagepullsecret-patcher/core/admission-tls";
import type { ServingPair } from "./https-stand-in.js";

export interface TestTls {
  readonly serving: ServingPair;
  /** The CA certificate, PEM, written to a file for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
}

/** Writes `<dir>/ca.pem` and returns it with a serving pair for 127.0.0.1 and localhost. */
export async function createTestTls(dir: string): Promise<TestTls> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "azure stand-in test CA", now });
  const serving = await issueServingCertificate(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], now });
  const caFile = join(dir, "ca.pem");
  writeFileSync(caFile, ca.certPem);
  return { serving: { certPem: serving.certPem, keyPem: serving.keyPem }, caFile };
}
