import { silentLogger, type Logger } from "../../logging/logger.js";
import { systemClock, type Clock, type Timer } from "../../util/clock.js";
import { SourceFetchError, describeSourceError } from "../polling/errors.js";
import { VaultApiError, expectOk, readTextFile, type ReadTextFile, type VaultClient } from "./client.js";
import { DEFAULT_APPROLE_MOUNT, DEFAULT_JWT_FILE, DEFAULT_KUBERNETES_MOUNT, type VaultAuthConfig } from "./config.js";

/** Renewal happens after this fraction of a token's lease has passed. */
export const RENEW_FRACTION = 2 / 3;
/** A cached token this close to its expiry (or a tenth of its lease, if less) is not handed out; a fresh one is obtained instead. */
export const TOKEN_EXPIRY_MARGIN_MS = 5_000;
/** Minimum delay between scheduled renewals, so a tiny lease cannot cause a busy loop. */
export const MIN_RENEW_DELAY_MS = 1_000;

interface CachedToken {
  readonly token: string;
  readonly renewable: boolean;
  /** Lease length in ms; 0 for a token that never expires (a root token). */
  readonly leaseMs: number;
  /** Lease length right after login, to notice renewals shrinking against the max TTL. */
  readonly initialLeaseMs: number;
  /** When the lease ends (ms since epoch); undefined for a token that never expires. */
  readonly expiresAt: number | undefined;
}

interface AuthBlock {
  client_token?: unknown;
  lease_duration?: unknown;
  renewable?: unknown;
}

export interface VaultTokenManagerOptions {
  readonly logger?: Logger | undefined;
  readonly clock?: Clock | undefined;
  readonly readFile?: ReadTextFile | undefined;
}

/** Which auth method a config uses, for logs. */
export function authMethodName(auth: VaultAuthConfig): "token" | "kubernetes" | "approle" {
  if ("token" in auth) return "token";
  if ("kubernetes" in auth) return "kubernetes";
  return "approle";
}

/**
 * Obtains and keeps a Vault client token: logs in (Kubernetes, AppRole) or takes the configured
 * token, caches it, renews it (`auth/token/renew-self`) when 2/3 of its lease has passed, and logs
 * in again when renewal fails, when renewals stop extending the lease (max TTL reached), or when
 * Vault answered 403. Tokens never reach logs or errors.
 */
export class VaultTokenManager {
  readonly method: "token" | "kubernetes" | "approle";
  readonly #client: VaultClient;
  readonly #auth: VaultAuthConfig;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #readFile: ReadTextFile;
  #cached: CachedToken | undefined;
  #acquiring: Promise<CachedToken> | undefined;
  #timer: { readonly handle: Timer } | undefined;
  #stopped = false;
  /** Aborts background renewals and logins on {@link stop}. */
  readonly #lifetime = new AbortController();
  #logins = 0;
  #renewals = 0;

  constructor(client: VaultClient, auth: VaultAuthConfig, options: VaultTokenManagerOptions = {}) {
    this.#client = client;
    this.#auth = auth;
    this.method = authMethodName(auth);
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.#readFile = options.readFile ?? readTextFile;
  }

  /** Logins (or, for token auth, token loads) so far. */
  get logins(): number {
    return this.#logins;
  }

  /** Successful renewals so far. */
  get renewals(): number {
    return this.#renewals;
  }

  /** When the cached token's lease ends, if it has one. */
  tokenExpiresAt(): Date | undefined {
    const at = this.#cached?.expiresAt;
    return at === undefined ? undefined : new Date(at);
  }

  /** Stops renewal timers; the manager hands out no more tokens afterwards. */
  stop(): void {
    this.#stopped = true;
    this.#lifetime.abort();
    this.#cancelTimer();
    this.#cached = undefined;
  }

  /** A usable token, from the cache or from a fresh login. */
  async token(signal: AbortSignal): Promise<string> {
    if (this.#stopped) throw new SourceFetchError("stopped");
    const cached = this.#cached;
    if (cached) {
      // Short leases get a proportionally short margin, or a 3 s token would never be used.
      const margin = Math.min(TOKEN_EXPIRY_MARGIN_MS, cached.leaseMs / 10);
      if (cached.expiresAt === undefined || this.#clock.now() < cached.expiresAt - margin) return cached.token;
    }
    return (await this.#acquire(signal)).token;
  }

  /** Vault refused `token` (403): drop it so the next {@link token} call logs in again. */
  forbidden(token: string): void {
    if (this.#cached?.token !== token) return;
    this.#logger.info({ auth: this.method }, "vault refused the cached token (HTTP 403); obtaining a new one");
    this.#drop();
  }

  #drop(): void {
    this.#cached = undefined;
    this.#cancelTimer();
  }

  #acquire(signal: AbortSignal): Promise<CachedToken> {
    this.#acquiring ??= this.#obtain(signal).finally(() => {
      this.#acquiring = undefined;
    });
    return this.#acquiring;
  }

  async #obtain(signal: AbortSignal): Promise<CachedToken> {
    this.#drop();
    const obtained = this.method === "token" ? await this.#loadStaticToken(signal) : await this.#login(signal);
    if (this.#stopped) throw new SourceFetchError("stopped");
    this.#logins++;
    this.#cached = obtained;
    this.#logger.info(
      { auth: this.method, leaseSeconds: Math.round(obtained.leaseMs / 1000), renewable: obtained.renewable },
      this.method === "token" ? "vault token loaded" : "logged in to vault",
    );
    this.#scheduleRenewal(obtained);
    return obtained;
  }

  async #readSecretFile(what: string, path: string): Promise<string> {
    let text: string;
    try {
      text = await this.#readFile(path);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new SourceFetchError(`cannot read ${what} ${path}${typeof code === "string" ? ` (${code})` : ""}`);
    }
    const value = text.trim();
    if (value === "") throw new SourceFetchError(`${what} ${path} is empty`);
    return value;
  }

  async #loadStaticToken(signal: AbortSignal): Promise<CachedToken> {
    if (!("token" in this.#auth)) throw new Error("unreachable");
    const { token: inline, tokenFile } = this.#auth.token;
    const token = inline ?? (await this.#readSecretFile("tokenFile", tokenFile ?? ""));
    const response = await this.#client.request("GET", "auth/token/lookup-self", { token, signal });
    if (response.status === 403) {
      throw new VaultApiError("token auth: the token is invalid or expired", 403, []);
    }
    expectOk("token auth: auth/token/lookup-self", response);
    const data = (response.body as { data?: { ttl?: unknown; renewable?: unknown } } | undefined)?.data ?? {};
    const ttlSeconds = typeof data.ttl === "number" && data.ttl > 0 ? data.ttl : 0;
    return this.#cache(token, ttlSeconds, data.renewable === true, undefined);
  }

  async #login(signal: AbortSignal): Promise<CachedToken> {
    let mount: string;
    let body: Record<string, string>;
    if ("kubernetes" in this.#auth) {
      const { role, mount: m, jwtFile } = this.#auth.kubernetes;
      mount = m ?? DEFAULT_KUBERNETES_MOUNT;
      body = { role, jwt: await this.#readSecretFile("jwtFile", jwtFile ?? DEFAULT_JWT_FILE) };
    } else if ("appRole" in this.#auth) {
      const { roleId, secretId, secretIdFile, mount: m } = this.#auth.appRole;
      mount = m ?? DEFAULT_APPROLE_MOUNT;
      body = { role_id: roleId };
      const secret = secretId ?? (secretIdFile ? await this.#readSecretFile("secretIdFile", secretIdFile) : undefined);
      if (secret !== undefined) body.secret_id = secret;
    } else {
      throw new Error("unreachable");
    }
    const operation = `${this.method} login at auth/${mount}/login`;
    const response = await this.#client.request("POST", `auth/${mount}/login`, { body, signal });
    expectOk(operation, response);
    const auth = (response.body as { auth?: AuthBlock } | undefined)?.auth;
    if (!auth || typeof auth.client_token !== "string" || auth.client_token === "") {
      throw new SourceFetchError(`${operation}: the answer has no client token`);
    }
    const lease = typeof auth.lease_duration === "number" && auth.lease_duration > 0 ? auth.lease_duration : 0;
    return this.#cache(auth.client_token, lease, auth.renewable === true, undefined);
  }

  #cache(token: string, leaseSeconds: number, renewable: boolean, initialLeaseMs: number | undefined): CachedToken {
    const leaseMs = leaseSeconds * 1000;
    return {
      token,
      renewable,
      leaseMs,
      initialLeaseMs: initialLeaseMs ?? leaseMs,
      expiresAt: leaseMs > 0 ? this.#clock.now() + leaseMs : undefined,
    };
  }

  #cancelTimer(): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = undefined;
  }

  #scheduleRenewal(cached: CachedToken): void {
    this.#cancelTimer();
    if (this.#stopped || cached.expiresAt === undefined) return;
    const canLogin = this.method !== "token";
    if (!cached.renewable && !canLogin) return; // nothing to do but wait for it to expire
    const delay = Math.max(MIN_RENEW_DELAY_MS, Math.round(cached.leaseMs * RENEW_FRACTION));
    const handle = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#refreshInBackground(cached);
    }, delay);
    this.#timer = { handle };
  }

  async #refreshInBackground(cached: CachedToken): Promise<void> {
    if (this.#stopped || this.#cached !== cached) return;
    const signal = this.#lifetime.signal;
    if (cached.renewable) {
      try {
        const renewed = await this.#renew(cached, signal);
        if (this.#stopped || this.#cached !== cached) return;
        this.#renewals++;
        const shrinking = this.method !== "token" && renewed.leaseMs < renewed.initialLeaseMs / 3;
        this.#cached = renewed;
        this.#logger.debug(
          { auth: this.method, leaseSeconds: Math.round(renewed.leaseMs / 1000) },
          "vault token renewed",
        );
        if (!shrinking) {
          this.#scheduleRenewal(renewed);
          return;
        }
        this.#logger.info({ auth: this.method }, "vault token is near its max TTL; logging in again");
      } catch (err) {
        if (this.#stopped || this.#cached !== cached) return;
        this.#logger.warn(
          { auth: this.method, error: describeSourceError("vault token renewal", err) },
          this.method === "token" ? "vault token renewal failed" : "vault token renewal failed; logging in again",
        );
        if (this.method === "token") {
          this.#retryRenewalLater(cached);
          return;
        }
      }
    }
    // Login methods: a fresh token replaces one that cannot (or should no longer) be renewed.
    this.#drop();
    try {
      await this.#acquire(signal);
    } catch (err) {
      this.#logger.warn(
        { auth: this.method, error: describeSourceError(`vault ${this.method} login`, err) },
        "vault login failed; the next refresh tries again",
      );
    }
  }

  /** Static token: try renewing again halfway to its expiry, while there is time left. */
  #retryRenewalLater(cached: CachedToken): void {
    if (cached.expiresAt === undefined) return;
    const remaining = cached.expiresAt - this.#clock.now();
    if (remaining <= 2 * MIN_RENEW_DELAY_MS) return;
    const handle = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        void this.#refreshInBackground(cached);
      },
      Math.round(remaining / 2),
    );
    this.#timer = { handle };
  }

  async #renew(cached: CachedToken, signal: AbortSignal): Promise<CachedToken> {
    const response = await this.#client.request("POST", "auth/token/renew-self", {
      token: cached.token,
      body: {},
      signal,
    });
    expectOk("auth/token/renew-self", response);
    const auth = (response.body as { auth?: AuthBlock } | undefined)?.auth;
    const lease = typeof auth?.lease_duration === "number" && auth.lease_duration > 0 ? auth.lease_duration : 0;
    if (lease === 0) throw new SourceFetchError("auth/token/renew-self: the answer has no lease");
    return this.#cache(cached.token, lease, auth?.renewable === true, cached.initialLeaseMs);
  }
}
