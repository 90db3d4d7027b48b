import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { GoogleAuth, JWT, gcpMetadata, type AuthClient } from "google-auth-library";

/** Read access to Artifact Registry and GCR needs no narrower scope; IAM roles decide what is readable. */
export const CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** Where google-auth-library sends service account assertions (and the `aud` it signs). */
export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
/**
 * google-auth-library hands back its cached token until it is within this many ms of expiry
 * (default 5 min). The source decides when to refresh, so every fetch must reach the server: with a
 * threshold longer than any token's lifetime, every cached token counts as expiring.
 */
export const ALWAYS_REFRESH_THRESHOLD_MS = Number.MAX_SAFE_INTEGER;
const REQUEST_TIMEOUT_MS = 20_000;

/** An access token and when it expires (ms since the epoch by `Date.now()`, as the library reports it). */
export interface AccessToken {
  readonly token: string | null | undefined;
  readonly expiryDate: number | null | undefined;
}

/** Gets a new access token on every call. */
export interface TokenProvider {
  /** How logs and status name the credential, e.g. `metadata server` or `key file /etc/gcp/key.json`. */
  readonly label: string;
  fetch(): Promise<AccessToken>;
}

/** Google credentials: a client whose every `getAccessToken()` and `request()` gets a new token. */
export interface CredentialSource extends TokenProvider {
  client(): Promise<AuthClient>;
}

async function tokenOf(client: AuthClient): Promise<AccessToken> {
  const { token } = await client.getAccessToken();
  return { token, expiryDate: client.credentials.expiry_date };
}

/**
 * Application Default Credentials: the file GOOGLE_APPLICATION_CREDENTIALS names (a service account
 * key, a Workload Identity Federation config...), gcloud's application default credentials, or the
 * metadata server (GKE Workload Identity Federation, GCE). One GoogleAuth
 * is kept, so detection (and its project-id lookup) runs once; when detection fails it starts over,
 * and gcp-metadata's memory of an absent metadata server is cleared, since a node's metadata
 * server can come up after the Pod.
 */
export class ApplicationDefaultTokens implements CredentialSource {
  readonly label: string;
  #auth: GoogleAuth | undefined;

  constructor(label = "metadata server") {
    this.label = label;
  }

  async fetch(): Promise<AccessToken> {
    return tokenOf(await this.client());
  }

  async client(): Promise<AuthClient> {
    this.#auth ??= new GoogleAuth({
      scopes: [CLOUD_PLATFORM_SCOPE],
      clientOptions: { eagerRefreshThresholdMillis: ALWAYS_REFRESH_THRESHOLD_MS },
    });
    try {
      return await this.#auth.getClient();
    } catch (err) {
      this.#auth = undefined;
      gcpMetadata.resetIsAvailableCache();
      throw err;
    }
  }
}

/** The fields of a service account key file this source uses. */
interface ServiceAccountKey {
  readonly email: string;
  readonly privateKey: string;
  readonly keyId: string | undefined;
  readonly tokenUri: string;
}

function isLoopback(hostname: string): boolean {
  return hostname === "127.0.0.1" || hostname === "localhost" || hostname === "[::1]";
}

function tokenUriOf(value: unknown, path: string): string {
  if (value === undefined) return GOOGLE_TOKEN_URL;
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  // A signed assertion goes there: only over TLS, or to this machine.
  if (!url || !(url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname)))) {
    throw new SourceFetchError(`keyFile ${path}: token_uri must be an https URL`, false);
  }
  return url.toString();
}

function isPrivateKey(pem: string): boolean {
  try {
    createPrivateKey(pem);
    return true;
  } catch {
    return false;
  }
}

/** Checks a key file's JSON; errors name the file and the field, never a value. */
export function parseServiceAccountKey(text: string, path: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SourceFetchError(`keyFile ${path} is not JSON`, false);
  }
  const record = (typeof json === "object" && json !== null ? json : {}) as Record<string, unknown>;
  if (record.type !== "service_account") {
    const type =
      typeof record.type === "string" && /^[a-z_]{1,40}$/.test(record.type) ? ` (type "${record.type}")` : "";
    throw new SourceFetchError(`keyFile ${path} is not a service account key${type}`, false);
  }
  const { client_email: email, private_key: privateKey, private_key_id: keyId } = record;
  if (typeof email !== "string" || email === "")
    throw new SourceFetchError(`keyFile ${path} has no client_email`, false);
  if (typeof privateKey !== "string" || !privateKey.includes("PRIVATE KEY")) {
    throw new SourceFetchError(`keyFile ${path} has no PEM private_key`, false);
  }
  if (!isPrivateKey(privateKey)) throw new SourceFetchError(`keyFile ${path}: private_key does not parse`, false);
  return {
    email,
    privateKey,
    keyId: typeof keyId === "string" ? keyId : undefined,
    tokenUri: tokenUriOf(record.token_uri, path),
  };
}

/** google-auth-library posts to Google's token URL whatever the key says; this sends it to the key's token_uri. */
function sendTokenRequestsTo(client: JWT, tokenUri: string): void {
  client.transporter.interceptors.request.add({
    resolved: (options) => {
      if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUri);
      return Promise.resolve(options);
    },
  });
}

export type ReadTextFile = (path: string) => Promise<string>;

/**
 * A service account key file, read at every fetch so a rotated key (a re-mounted Secret) is picked
 * up; each fetch builds a new client, so no token is ever reused.
 */
export class KeyFileTokens implements CredentialSource {
  readonly label: string;
  readonly #path: string;
  readonly #read: ReadTextFile;

  constructor(path: string, read: ReadTextFile = (p) => readFile(p, "utf8")) {
    this.#path = path;
    this.#read = read;
    this.label = `key file ${path}`;
  }

  async fetch(): Promise<AccessToken> {
    return tokenOf(await this.client());
  }

  async client(): Promise<AuthClient> {
    let text: string;
    try {
      text = await this.#read(this.#path);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new SourceFetchError(`cannot read keyFile ${this.#path}${typeof code === "string" ? ` (${code})` : ""}`);
    }
    const key = parseServiceAccountKey(text, this.#path);
    const client = new JWT({
      email: key.email,
      key: key.privateKey,
      keyId: key.keyId,
      scopes: [CLOUD_PLATFORM_SCOPE],
      transporterOptions: { timeout: REQUEST_TIMEOUT_MS },
    });
    if (key.tokenUri !== GOOGLE_TOKEN_URL) sendTokenRequestsTo(client, key.tokenUri);
    return client;
  }
}
