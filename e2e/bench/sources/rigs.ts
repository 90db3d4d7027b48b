// What each source kind of the `sources` scenario runs against: the config the patcher gets, the environment its
// identity comes from, and the registry host that tells its copies apart. The cloud sources talk to the same local
// stand-ins as their e2e tests: moto for ECR and STS, the metadata server stand-in for gcp, Entra ID and ACR
// exchange stand-ins (https, a test CA the patcher trusts through NODE_EXTRA_CA_CERTS) for acr.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SOURCE } from "../patcher.ts";
import { ensureMotoServer } from "../../src/moto/install.ts";
import { MotoServer } from "../../src/moto/moto-server.ts";
import { MetadataServer } from "@imagepullsecret-patcher/source-gcp/testing";
import { AcrExchangeStandIn, EntraStandIn, createTestTls } from "@imagepullsecret-patcher/source-acr/testing";

export const SOURCE_KINDS = ["secret", "ecr", "gcp", "acr"] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface SourceRig {
  kind: SourceKind;
  /** The mapping's `source:` value. */
  source: Record<string, unknown>;
  /** The patcher's environment beyond the image's. */
  env: Record<string, string>;
  /** A registry host only this kind's copies hold. */
  host: string;
  close(): Promise<void>;
}

const ECR_REGION = "eu-west-1";
const ECR_ACCOUNT = "123456789012";
const GCP_HOST = "europe-docker.pkg.dev";

function secretRig(): SourceRig {
  return {
    kind: "secret",
    source: { secret: { name: SOURCE.name, namespace: SOURCE.namespace } },
    env: {},
    host: "registry.bench.example",
    close: () => Promise.resolve(),
  };
}

/** IRSA's environment: a role and a token file; moto does not verify the token, STS still issues keys for it. */
async function ecrRig(dir: string, log: (line: string) => void): Promise<SourceRig> {
  const moto = await MotoServer.start(await ensureMotoServer(log));
  const tokenFile = join(dir, "web-identity-token");
  writeFileSync(tokenFile, "bench-web-identity-token");
  return {
    kind: "ecr",
    source: { ecr: { registries: [{ region: ECR_REGION, registryId: ECR_ACCOUNT }] } },
    env: {
      AWS_ROLE_ARN: `arn:aws:iam::${ECR_ACCOUNT}:role/patcher`,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_REGION: ECR_REGION,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_CONFIG_FILE: join(dir, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-aws-credentials"),
    },
    host: `${ECR_ACCOUNT}.dkr.ecr.${ECR_REGION}.amazonaws.com`,
    close: () => moto.stop(),
  };
}

async function gcpRig(): Promise<SourceRig> {
  const metadata = await MetadataServer.start({ tokenPrefix: "ya29.bench-" });
  return {
    kind: "gcp",
    source: { gcp: { registries: [GCP_HOST] } },
    // GOOGLE_CLOUD_PROJECT spares google-auth-library's project lookup.
    env: { GCE_METADATA_HOST: metadata.host, GOOGLE_CLOUD_PROJECT: "bench-project" },
    host: GCP_HOST,
    close: () => metadata.stop(),
  };
}

/** Azure workload identity's environment: a federated token file, against Entra ID and registry stand-ins over https. */
async function acrRig(dir: string): Promise<SourceRig> {
  const tls = await createTestTls(dir);
  const tokenFile = join(dir, "azure-identity-token");
  writeFileSync(tokenFile, "bench-federated-token");
  const ids = { tenantId: "11111111-2222-3333-4444-555555555555", clientId: "66666666-7777-8888-9999-000000000000" };
  const entra = await EntraStandIn.start({
    tls: tls.serving,
    ...ids,
    clientSecret: "unused",
    federatedToken: () => "bench-federated-token",
    marker: "bench-",
    tokenLifetimeSeconds: 3600,
  });
  const acr = await AcrExchangeStandIn.start({
    tls: tls.serving,
    accessTokenTenant: (token) => entra.valid(token),
    marker: "bench-",
    refreshTokenLifetimeSeconds: 3 * 3600,
  });
  return {
    kind: "acr",
    source: { acr: { registries: [acr.registry], disableInstanceDiscovery: true, allowOtherRegistryHosts: true } },
    env: {
      AZURE_CLIENT_ID: ids.clientId,
      AZURE_TENANT_ID: ids.tenantId,
      AZURE_FEDERATED_TOKEN_FILE: tokenFile,
      AZURE_AUTHORITY_HOST: entra.authorityHost,
      NODE_EXTRA_CA_CERTS: tls.caFile,
    },
    host: acr.registry,
    close: async () => {
      await acr.close();
      await entra.close();
    },
  };
}

export async function startRig(kind: SourceKind, workDir: string, log: (line: string) => void): Promise<SourceRig> {
  const dir = join(workDir, `source-${kind}`);
  mkdirSync(dir, { recursive: true });
  if (kind === "ecr") return ecrRig(dir, log);
  if (kind === "gcp") return gcpRig();
  if (kind === "acr") return acrRig(dir);
  return secretRig();
}
