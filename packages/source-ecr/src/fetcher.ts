import { ECRClient, GetAuthorizationTokenCommand, type ECRClientConfig } from "@aws-sdk/client-ecr";
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import type { EcrRegistryConfig } from "./config.js";
import { decodeAuthorizationToken, registryHost, type RegistryLogin } from "./docker-config.js";
import { describeAwsError } from "./errors.js";

/** Extra ECR client settings; `region` and `profile` come from the config. */
export type EcrClientSettings = Omit<ECRClientConfig, "region" | "profile">;

/** Registries that share one GetAuthorizationToken call: same region, same credentials. */
export interface CallGroup {
  readonly region: string | undefined;
  readonly profile: string | undefined;
  readonly registries: readonly EcrRegistryConfig[];
  /** For errors: `GetAuthorizationToken in eu-west-1 (profile x)`. */
  readonly where: string;
}

/** What one refresh got: a login per registry host, and the earliest expiry ECR reported. */
export interface EcrLogins {
  readonly logins: readonly RegistryLogin[];
  readonly expiresAt: Date | undefined;
}

/**
 * One call per region and profile: a token serves every registry its caller may pull from, so the
 * registries of other accounts in that region need no call of their own (and GetAuthorizationToken's
 * `registryIds` parameter, deprecated, is not used).
 */
export function callGroups(registries: readonly EcrRegistryConfig[]): CallGroup[] {
  const groups = new Map<string, CallGroup>();
  for (const registry of registries) {
    const key = `${registry.region ?? ""}|${registry.profile ?? ""}`;
    const group = groups.get(key);
    if (group) {
      groups.set(key, { ...group, registries: [...group.registries, registry] });
      continue;
    }
    const profile = registry.profile ? ` (profile ${registry.profile})` : "";
    const where = `GetAuthorizationToken in ${registry.region ?? "the default region"}${profile}`;
    groups.set(key, { region: registry.region, profile: registry.profile, registries: [registry], where });
  }
  return [...groups.values()];
}

/** Calls GetAuthorizationToken for each group, with one ECR client per group kept between refreshes. */
export class EcrLoginFetcher {
  readonly groups: readonly CallGroup[];
  readonly #settings: EcrClientSettings;
  readonly #clients = new Map<CallGroup, ECRClient>();

  constructor(registries: readonly EcrRegistryConfig[], settings: EcrClientSettings = {}) {
    this.groups = callGroups(registries);
    this.#settings = settings;
  }

  async fetch(signal: AbortSignal): Promise<EcrLogins> {
    const answers = await Promise.all(this.groups.map((group) => this.#fetchGroup(group, signal)));
    return {
      logins: uniqueHosts(answers.flatMap((a) => a.logins)),
      expiresAt: earliest(answers.map((a) => a.expiresAt)),
    };
  }

  /** Drops the clients and their pooled connections; a later fetch makes new ones. */
  close(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }

  #client(group: CallGroup): ECRClient {
    let client = this.#clients.get(group);
    if (!client) {
      client = new ECRClient({
        customUserAgent: "imagepullsecret-patcher",
        ...this.#settings,
        ...(group.region === undefined ? {} : { region: group.region }),
        ...(group.profile === undefined ? {} : { profile: group.profile }),
      });
      this.#clients.set(group, client);
    }
    return client;
  }

  async #fetchGroup(group: CallGroup, signal: AbortSignal): Promise<EcrLogins> {
    let answer;
    try {
      answer = await this.#client(group).send(new GetAuthorizationTokenCommand({}), { abortSignal: signal });
    } catch (err) {
      throw describeAwsError(err, group.where);
    }
    const data = answer.authorizationData?.[0];
    if (!data) throw new SourceFetchError(`${group.where}: the answer has no authorizationData`, false);
    const { username, password } = decodeAuthorizationToken(data.authorizationToken, group.where);
    const logins = group.registries.map((registry) => ({
      host: registryHost(data.proxyEndpoint, registry.registryId, group.where),
      username,
      password,
    }));
    const valid = data.expiresAt instanceof Date && !Number.isNaN(data.expiresAt.getTime());
    return { logins, expiresAt: valid ? data.expiresAt : undefined };
  }
}

function earliest(dates: readonly (Date | undefined)[]): Date | undefined {
  let first: Date | undefined;
  for (const date of dates) if (date && (!first || date < first)) first = date;
  return first;
}

/** The own registry may also be listed by its ID: one entry per host, the first one wins. */
function uniqueHosts(logins: readonly RegistryLogin[]): RegistryLogin[] {
  const byHost = new Map<string, RegistryLogin>();
  for (const login of logins) if (!byHost.has(login.host)) byHost.set(login.host, login);
  return [...byHost.values()];
}
