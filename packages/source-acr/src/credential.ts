import {
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from "@azure/identity";
import type { AcrConfig } from "./config.js";

/** The variables this source reads, the ones `DefaultAzureCredential` and the AKS workload identity webhook use. */
export type AzureEnvironment = Readonly<Record<string, string | undefined>>;

export type ResolvedKind = "workloadIdentity" | "managedIdentity" | "clientSecret";

/** What to sign in with, from the config and the environment. `missing` lists what must still be set. */
export interface IdentityChoice {
  readonly kind: ResolvedKind;
  readonly tenantId?: string | undefined;
  readonly clientId?: string | undefined;
  readonly authorityHost?: string | undefined;
  readonly disableInstanceDiscovery: boolean;
  readonly tokenFilePath?: string | undefined;
  readonly clientSecret?: string | undefined;
  /** Settings this kind needs that neither config nor environment gave, named as the user would set them. */
  readonly missing: readonly string[];
}

const LABELS: Record<ResolvedKind, string> = {
  workloadIdentity: "workload identity",
  managedIdentity: "managed identity",
  clientSecret: "client secret",
};

/** `workload identity`, `managed identity` or `client secret`: for descriptions and logs. */
export function credentialLabel(kind: ResolvedKind): string {
  return LABELS[kind];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/**
 * `auto` follows `DefaultAzureCredential`'s order without its probing: a client secret in the
 * environment, else a federated token file (workload identity), else managed identity.
 */
function resolveKind(config: AcrConfig, env: AzureEnvironment): ResolvedKind {
  if (config.credential !== "auto") return config.credential;
  if (nonEmpty(env.AZURE_CLIENT_SECRET)) return "clientSecret";
  if (nonEmpty(env.AZURE_FEDERATED_TOKEN_FILE)) return "workloadIdentity";
  return "managedIdentity";
}

/** Decides the credential once, when the source is created. Never throws: what is missing is reported by the first fetch. */
export function chooseCredential(config: AcrConfig, env: AzureEnvironment): IdentityChoice {
  const kind = resolveKind(config, env);
  const tenantId = config.tenantId ?? nonEmpty(env.AZURE_TENANT_ID);
  const clientId = config.clientId ?? nonEmpty(env.AZURE_CLIENT_ID);
  if (kind === "managedIdentity") return { kind, clientId, tenantId, disableInstanceDiscovery: false, missing: [] };
  const base = {
    tenantId,
    clientId,
    authorityHost: config.authorityHost ?? nonEmpty(env.AZURE_AUTHORITY_HOST),
    disableInstanceDiscovery: config.disableInstanceDiscovery,
  };
  const missing: string[] = [];
  if (!tenantId) missing.push("tenantId (or AZURE_TENANT_ID)");
  if (!clientId) missing.push("clientId (or AZURE_CLIENT_ID)");
  if (kind === "workloadIdentity") {
    const tokenFilePath = nonEmpty(env.AZURE_FEDERATED_TOKEN_FILE);
    if (!tokenFilePath) missing.push("AZURE_FEDERATED_TOKEN_FILE");
    return { kind, ...base, tokenFilePath, missing };
  }
  const clientSecret = nonEmpty(env.AZURE_CLIENT_SECRET);
  if (!clientSecret) missing.push("AZURE_CLIENT_SECRET");
  return { kind, ...base, clientSecret, missing };
}

// The polling source retries with its own backoff; a library retry inside one attempt only hides the failure longer.
const RETRY = { maxRetries: 0 };

/** The `@azure/identity` credential for a complete choice (`missing` empty). */
export function buildCredential(choice: IdentityChoice): TokenCredential {
  const cloud = {
    ...(choice.authorityHost === undefined ? {} : { authorityHost: choice.authorityHost }),
    disableInstanceDiscovery: choice.disableInstanceDiscovery,
    retryOptions: RETRY,
  };
  switch (choice.kind) {
    case "workloadIdentity":
      return new WorkloadIdentityCredential({
        tenantId: choice.tenantId,
        clientId: choice.clientId,
        tokenFilePath: choice.tokenFilePath,
        ...cloud,
      });
    case "clientSecret":
      return new ClientSecretCredential(choice.tenantId ?? "", choice.clientId ?? "", choice.clientSecret ?? "", cloud);
    case "managedIdentity":
      return choice.clientId === undefined
        ? new ManagedIdentityCredential()
        : new ManagedIdentityCredential({ clientId: choice.clientId });
  }
}
