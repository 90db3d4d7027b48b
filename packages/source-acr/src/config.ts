import { PluginConfigError } from "@imagepullsecret-patcher/core";

/** How the source signs in to Microsoft Entra ID. `auto` picks one from the environment (see `chooseCredential`). */
export type CredentialKind = "auto" | "workloadIdentity" | "managedIdentity" | "clientSecret";
export const CREDENTIAL_KINDS: readonly CredentialKind[] = [
  "auto",
  "workloadIdentity",
  "managedIdentity",
  "clientSecret",
];

/** Config of the `acr` source, as users write it under `source:` in config.yaml. */
export interface AcrConfig {
  /** Login servers to make credentials for, e.g. `myregistry.azurecr.io`; each becomes a key under `auths`. */
  readonly registries: readonly string[];
  /** Default `auto`. */
  readonly credential: CredentialKind;
  /** Entra tenant (ID or domain). Default: `AZURE_TENANT_ID`, else the `tid` claim of the Entra token. */
  readonly tenantId?: string | undefined;
  /** Application (client) ID, or a user-assigned managed identity's client ID. Default: `AZURE_CLIENT_ID`. */
  readonly clientId?: string | undefined;
  /** Entra endpoint for sovereign or private clouds. Default: `AZURE_AUTHORITY_HOST`, else `https://login.microsoftonline.com`. */
  readonly authorityHost?: string | undefined;
  /** Skip the instance discovery call to login.microsoftonline.com (Azure Stack, private clouds). Default false. */
  readonly disableInstanceDiscovery: boolean;
  /** Entra scope of the access token the registry exchanges. Default {@link DEFAULT_ACR_SCOPE}. */
  readonly scope: string;
  /**
   * Accept login servers outside Azure's registry domains ({@link ACR_DOMAINS}), for Azure Stack Hub and private
   * clouds. Default false: the source sends each registry an Entra access token, which a host that is not a registry
   * could spend at real ones, so a mistyped host must not receive it.
   */
  readonly allowOtherRegistryHosts: boolean;
}

/** Domains of ACR login servers: Azure's public cloud, Azure Government and Azure operated by 21Vianet. */
export const ACR_DOMAINS: readonly string[] = ["azurecr.io", "azurecr.us", "azurecr.cn"];

function isAcrHost(host: string): boolean {
  const name = host.replace(/:[0-9]+$/, "");
  return ACR_DOMAINS.some((domain) => name.endsWith(`.${domain}`));
}

/** The scope of ACR's own audience, accepted by registries in Azure's public cloud. */
export const DEFAULT_ACR_SCOPE = "https://containerregistry.azure.net/.default";

const KEYS = [
  "registries",
  "credential",
  "tenantId",
  "clientId",
  "authorityHost",
  "disableInstanceDiscovery",
  "scope",
  "allowOtherRegistryHosts",
];
// A login server: a host name or address, with an optional port. No scheme, path or credentials.
const REGISTRY = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/;
// Tenant IDs are GUIDs or verified domain names.
const TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]*$/;
const CLIENT_ID = /^[A-Za-z0-9-]+$/;

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return `a ${typeof value}`;
}

function optionalText(
  record: Record<string, unknown>,
  key: string,
  pattern: RegExp,
  shape: string,
): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw new PluginConfigError(key, `must be a string, got ${describeType(value)}`);
  if (!pattern.test(value)) throw new PluginConfigError(key, `must be ${shape}, got ${JSON.stringify(value)}`);
  return value;
}

function registriesOf(record: Record<string, unknown>, allowOtherHosts: boolean): string[] {
  const value = record.registries;
  if (value === undefined) throw new PluginConfigError("registries", "is required (e.g. [myregistry.azurecr.io])");
  if (!Array.isArray(value)) throw new PluginConfigError("registries", `must be a list, got ${describeType(value)}`);
  if (value.length === 0) throw new PluginConfigError("registries", "must name at least one registry");
  const seen = new Set<string>();
  return value.map((entry: unknown, i) => {
    const path = `registries[${i}]`;
    if (typeof entry !== "string") throw new PluginConfigError(path, `must be a string, got ${describeType(entry)}`);
    if (!REGISTRY.test(entry)) {
      const hint = entry.includes("/") ? " (the login server only: no https:// and no path)" : "";
      throw new PluginConfigError(path, `must be a registry login server such as myregistry.azurecr.io${hint}`);
    }
    const host = entry.toLowerCase();
    if (!allowOtherHosts && !isAcrHost(host)) {
      throw new PluginConfigError(
        path,
        `${JSON.stringify(entry)} is not in an ACR domain (${ACR_DOMAINS.map((d) => `*.${d}`).join(", ")}): it would be sent an Entra access token; set allowOtherRegistryHosts: true for Azure Stack Hub or a private cloud`,
      );
    }
    if (seen.has(host)) throw new PluginConfigError(path, `repeats ${JSON.stringify(entry)}`);
    seen.add(host);
    return host;
  });
}

function credentialOf(record: Record<string, unknown>): CredentialKind {
  const value = record.credential ?? "auto";
  if (typeof value !== "string" || !CREDENTIAL_KINDS.includes(value as CredentialKind)) {
    throw new PluginConfigError(
      "credential",
      `must be one of ${CREDENTIAL_KINDS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as CredentialKind;
}

function authorityHostOf(record: Record<string, unknown>): string | undefined {
  const value = record.authorityHost;
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new PluginConfigError("authorityHost", `must be a string, got ${describeType(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new PluginConfigError("authorityHost", "must be a URL such as https://login.microsoftonline.us");
  }
  // MSAL refuses authorities that are not https (msal-common UrlString.validateAsUri).
  if (url.protocol !== "https:") throw new PluginConfigError("authorityHost", "must be an https URL");
  if (url.username || url.password || url.search || url.hash) {
    throw new PluginConfigError("authorityHost", "must not carry credentials, a query or a fragment");
  }
  return value;
}

function scopeOf(record: Record<string, unknown>): string {
  const value = record.scope ?? DEFAULT_ACR_SCOPE;
  if (typeof value !== "string" || !/^https:\/\/[^\s/]+\/\.default$/.test(value)) {
    throw new PluginConfigError("scope", `must be a resource's .default scope such as ${DEFAULT_ACR_SCOPE}`);
  }
  return value;
}

function flag(record: Record<string, unknown>, key: string): boolean {
  const value = record[key] ?? false;
  if (typeof value !== "boolean") throw new PluginConfigError(key, `must be true or false, got ${describeType(value)}`);
  return value;
}

/**
 * Checks an `acr` config and fills in defaults. Errors are {@link PluginConfigError}s whose path is
 * relative to this config object; the app prefixes the mapping's path. The environment is read
 * later, when the source is created, so `validate` passes on a machine without Azure settings.
 */
export function validateAcrConfig(config: unknown): AcrConfig {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new PluginConfigError("", `expected a map with registries, got ${describeType(config)}`);
  }
  const record = config as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!KEYS.includes(key)) throw new PluginConfigError(key, `unknown key; valid keys: ${KEYS.join(", ")}`);
  }
  const allowOtherRegistryHosts = flag(record, "allowOtherRegistryHosts");
  const registries = registriesOf(record, allowOtherRegistryHosts);
  const credential = credentialOf(record);
  const tenantId = optionalText(record, "tenantId", TENANT, "a tenant ID or domain name");
  const clientId = optionalText(record, "clientId", CLIENT_ID, "a client ID (a GUID)");
  const authorityHost = authorityHostOf(record);
  const disableInstanceDiscovery = flag(record, "disableInstanceDiscovery");
  if (credential === "managedIdentity" && (authorityHost !== undefined || disableInstanceDiscovery)) {
    const key = authorityHost !== undefined ? "authorityHost" : "disableInstanceDiscovery";
    throw new PluginConfigError(key, "does not apply to credential managedIdentity (it asks the host's endpoint)");
  }
  return {
    registries,
    credential,
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(clientId === undefined ? {} : { clientId }),
    ...(authorityHost === undefined ? {} : { authorityHost }),
    disableInstanceDiscovery,
    scope: scopeOf(record),
    allowOtherRegistryHosts,
  };
}
