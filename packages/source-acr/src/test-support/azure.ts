// Both stand-ins wired together for this package's tests: an Entra ID that accepts one client's secret
// and federated token, and a registry whose exchange accepts the access tokens that Entra issued.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AcrExchangeStandIn } from "./acr-exchange-stand-in.js";
import { EntraStandIn } from "./entra-stand-in.js";
import { sharedTls } from "./shared-tls.js";

export const TENANT_ID = "5f1c2a9e-0b7d-4c3e-9a8f-2d6b1e4c7a90";
export const CLIENT_ID = "0e8b7c6d-5a4f-4e3d-8c2b-1a0f9e8d7c6b";
/** Every token either stand-in issues has a signature part starting with this. */
export const MARKER = "acr-Test-Marker-";
export const CLIENT_SECRET = "client-Secret-Value-0123456789xyz";
export const FEDERATED_TOKEN =
  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6cGF0Y2hlcjpwIn0.federated-Sig-42";

export interface Azure {
  readonly entra: EntraStandIn;
  readonly acr: AcrExchangeStandIn;
  readonly tokenFile: string;
  /** Workload identity settings, as the AKS webhook injects them. */
  readonly workloadEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function startAzure(): Promise<Azure> {
  const tls = sharedTls();
  const dir = mkdtempSync(join(tmpdir(), "source-acr-"));
  const tokenFile = join(dir, "azure-identity-token");
  writeFileSync(tokenFile, FEDERATED_TOKEN);
  const entra = await EntraStandIn.start({
    tls,
    tenantId: TENANT_ID,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    federatedToken: () => FEDERATED_TOKEN,
    marker: MARKER,
  });
  const acr = await AcrExchangeStandIn.start({ tls, accessTokenTenant: (t) => entra.valid(t), marker: MARKER });
  return {
    entra,
    acr,
    tokenFile,
    workloadEnv: { AZURE_CLIENT_ID: CLIENT_ID, AZURE_TENANT_ID: TENANT_ID, AZURE_FEDERATED_TOKEN_FILE: tokenFile },
    close: async () => {
      await acr.close();
      await entra.close();
    },
  };
}
