// What each source kind of the `sources` scenario runs against: the config the patcher gets, the environment its
// identity comes from, and the registry host that tells its copies apart. The cloud sources talk to the same local
// stand-ins as their e2e tests: moto for ECR and STS, the metadata server stand-in for gcp, Entra ID and ACR
// exchange stand-ins for acr.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SOURCE } from "../patcher.ts";
import { ensureMotoServer } from "../../src/moto/install.ts";
import { MotoServer } from "../../src/moto/moto-server.ts";
import { MetadataServer } from "../../src/gcp/metadata-server.ts";

export const SOURCE_KINDS = ["secret", "ecr", "gcp"] as const;
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

export async function startRig(kind: SourceKind, workDir: string, log: (line: string) => void): Promise<SourceRig> {
  const dir = join(workDir, `source-${kind}`);
  mkdirSync(dir, { recursive: true });
  if (kind === "ecr") return ecrRig(dir, log);
  if (kind === "gcp") return gcpRig();
  return secretRig();
}
