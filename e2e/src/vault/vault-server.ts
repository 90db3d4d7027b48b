// A real Vault server for tests: one process on a free loopback port, with a known root token,
// that can be sealed, unsealed, stopped and restarted to play outages. Stopped by PID (its own
// process group), never by name; a reaper stops it if the test process dies.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import {
  freePort,
  isAlive,
  startProcess,
  stopProcessGroup,
  tail,
  type StartedProcess,
} from "../cluster/local/processes.ts";

const REAPER = fileURLToPath(new URL("../cluster/local/reaper.ts", import.meta.url));

export type VaultMode =
  /** `vault server -dev`: in-memory storage, initialised and unsealed by Vault. A restart loses all data. */
  | "dev"
  /** `vault server` with file storage, initialised with one unseal key: data survives a restart. */
  | "persistent";

export interface VaultServerOptions {
  binary: string;
  mode?: VaultMode;
  /** Root token to create (default: a random one). */
  rootToken?: string;
  /** Where config, storage and logs go (default: a new temporary directory, removed by {@link VaultServer.dispose}). */
  workDir?: string;
  /** Milliseconds to wait for the server to answer (default 60 s). */
  startTimeoutMs?: number;
}

export interface VaultApiResponse<T = unknown> {
  status: number;
  body: T;
}

export class VaultApiCallError extends Error {
  override readonly name = "VaultApiCallError";
  readonly status: number;
  readonly body: unknown;
  constructor(method: string, path: string, status: number, body: unknown) {
    super(
      `${method} /v1/${path}: HTTP ${status} ${JSON.stringify((body as { errors?: unknown } | undefined)?.errors ?? body)}`,
    );
    this.status = status;
    this.body = body;
  }
}

interface InitState {
  unsealKey: string;
}

export class VaultServer {
  readonly binary: string;
  readonly mode: VaultMode;
  readonly rootToken: string;
  readonly workDir: string;
  readonly port: number;
  readonly address: string;
  readonly logPath: string;
  #process: StartedProcess | undefined;
  #init: InitState | undefined;
  #generatedRoot: string | undefined;
  readonly #ownsWorkDir: boolean;
  readonly #startTimeoutMs: number;

  private constructor(options: VaultServerOptions, port: number) {
    this.binary = options.binary;
    this.mode = options.mode ?? "persistent";
    this.rootToken = options.rootToken ?? `root-${Math.random().toString(36).slice(2)}`;
    this.#ownsWorkDir = options.workDir === undefined;
    this.workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "vault-e2e-"));
    this.port = port;
    this.address = `http://127.0.0.1:${port}`;
    this.logPath = join(this.workDir, "vault.log");
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
  }

  /** Starts a server, initialises and unseals it, and mounts KV v2 at `secret/` (as dev mode does). */
  static async start(options: VaultServerOptions): Promise<VaultServer> {
    const server = new VaultServer(options, await freePort());
    try {
      await server.#launch();
      if (server.mode === "persistent") {
        await server.#initialise();
        await server.unseal();
        await server.#createRootToken();
        await server.enableKv("secret", 2);
      } else {
        await server.#devReady();
      }
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    return this.#process !== undefined && isAlive(this.#process.pid);
  }

  #args(): string[] {
    if (this.mode === "dev") {
      return [
        "server",
        "-dev",
        `-dev-root-token-id=${this.rootToken}`,
        `-dev-listen-address=127.0.0.1:${this.port}`,
        "-dev-no-store-token",
        "-log-level=info",
      ];
    }
    const config = join(this.workDir, "config.hcl");
    writeFileSync(
      config,
      [
        `storage "file" { path = "${join(this.workDir, "data")}" }`,
        `listener "tcp" {`,
        `  address     = "127.0.0.1:${this.port}"`,
        `  tls_disable = true`,
        `}`,
        `api_addr      = "${this.address}"`,
        `disable_mlock = true`,
        `ui            = false`,
        "",
      ].join("\n"),
    );
    return ["server", `-config=${config}`, "-log-level=info"];
  }

  async #launch(): Promise<void> {
    if (this.running) throw new Error(`vault is already running (pid ${this.#process?.pid})`);
    const started = startProcess("vault", this.binary, this.#args(), this.logPath);
    this.#process = started;
    // Stops vault if this process dies without calling stop(), even by SIGKILL.
    const reaper = spawn(process.execPath, [REAPER, String(process.pid), "", String(started.pid)], {
      detached: true,
      stdio: "ignore",
    });
    reaper.unref();
    let exited: string | undefined;
    void started.exited.then((how) => (exited = how));
    await this.#waitFor("vault to listen", async () => {
      if (exited !== undefined) throw new Error(`vault exited (${exited}):\n${tail(this.logPath)}`);
      return (await this.health()) !== undefined;
    });
  }

  async #waitFor(what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        if (await probe()) return;
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("vault exited")) throw err;
        last = err;
      }
      await sleep(100);
    }
    throw new Error(
      `timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}\n${tail(this.logPath)}`,
    );
  }

  /** `sys/health` status code (200 active, 503 sealed, 501 uninitialised...), or undefined when nothing answers. */
  async health(): Promise<number | undefined> {
    try {
      const response = await fetch(`${this.address}/v1/sys/health`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.status;
    } catch {
      return undefined;
    }
  }

  /** Calls Vault's API with the root token (or `token`); returns any status. */
  async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = this.rootToken,
  ): Promise<VaultApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token !== null) headers["x-vault-token"] = token;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.address}/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Like {@link call} but throws unless the answer is 2xx. */
  async api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = this.rootToken,
  ): Promise<T> {
    const response = await this.call<T>(method, path, body, token);
    if (response.status < 200 || response.status > 299)
      throw new VaultApiCallError(method, path, response.status, response.body);
    return response.body;
  }

  async #initialise(): Promise<void> {
    await this.#waitFor("vault to accept init", async () => (await this.health()) === 501);
    const init = await this.api<{ keys_base64: string[]; root_token: string }>(
      "PUT",
      "sys/init",
      { secret_shares: 1, secret_threshold: 1 },
      null,
    );
    const unsealKey = init.keys_base64[0];
    if (!unsealKey) throw new Error("vault init returned no unseal key");
    this.#init = { unsealKey };
    writeFileSync(join(this.workDir, "init.json"), JSON.stringify({ unsealKey }), { mode: 0o600 });
    this.#generatedRoot = init.root_token;
  }

  /** Replaces the generated root token by one with the known ID, as `-dev-root-token-id` does. */
  async #createRootToken(): Promise<void> {
    const generated = this.#generatedRoot;
    if (!generated) throw new Error("no generated root token");
    await this.api(
      "POST",
      "auth/token/create",
      { id: this.rootToken, policies: ["root"], no_parent: true, display_name: "e2e-root" },
      generated,
    );
    await this.api("POST", "auth/token/revoke-self", {}, generated);
    this.#generatedRoot = undefined;
  }

  /** Dev mode prints its unseal key once it is initialised and unsealed; sealing tests need it. */
  async #devReady(): Promise<void> {
    let key: string | undefined;
    await this.#waitFor("the dev server's unseal key", async () => {
      key = /Unseal Key: (\S+)/.exec(readFileSync(this.logPath, "utf8"))?.[1];
      return key !== undefined && (await this.health()) === 200;
    });
    this.#init = { unsealKey: key ?? "" };
  }

  async seal(): Promise<void> {
    await this.api("PUT", "sys/seal");
    await this.#waitFor("vault to seal", async () => (await this.health()) === 503);
  }

  async unseal(): Promise<void> {
    const key = this.#init?.unsealKey;
    if (!key) throw new Error("no unseal key known");
    await this.api("PUT", "sys/unseal", { key }, null);
    await this.#waitFor("vault to become active", async () => (await this.health()) === 200);
  }

  /** Stops the process (SIGTERM to its group, SIGKILL after 10 s). The port stays reserved for {@link restart}. */
  async stop(): Promise<void> {
    const running = this.#process;
    this.#process = undefined;
    if (running) await stopProcessGroup(running.pid);
  }

  /**
   * Starts the process again on the same port. A persistent server comes back with its data and is
   * unsealed; a dev server comes back empty (same root token, fresh KV v2 at `secret/`).
   */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
    if (this.mode === "persistent") {
      await this.unseal();
    } else {
      await this.#devReady();
    }
  }

  /** Stops the process and removes a work directory this server created. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }

  // --- setup helpers ---------------------------------------------------------------------------

  async enableKv(mount: string, version: 1 | 2): Promise<void> {
    await this.api("POST", `sys/mounts/${mount}`, { type: "kv", options: { version: String(version) } });
    if (version === 2) {
      // A new KV v2 mount upgrades itself in the background; writes fail until it is ready.
      await this.#waitFor(
        `kv v2 mount ${mount}`,
        async () => (await this.call("GET", `${mount}/config`)).status === 200,
      );
    }
  }

  async enableAuth(type: string, mount = type): Promise<void> {
    await this.api("POST", `sys/auth/${mount}`, { type });
  }

  async writePolicy(name: string, policy: string): Promise<void> {
    await this.api("PUT", `sys/policies/acl/${name}`, { policy });
  }

  /** Writes a KV secret; `data` is the secret's fields. */
  async writeKv(mount: string, version: 1 | 2, path: string, data: Record<string, unknown>): Promise<void> {
    if (version === 2) await this.api("POST", `${mount}/data/${path}`, { data });
    else await this.api("POST", `${mount}/${path}`, data);
  }

  /** Creates an AppRole role and returns its role ID and a fresh secret ID. */
  async createAppRole(
    name: string,
    settings: { policies: string[]; token_ttl?: string; token_max_ttl?: string; mount?: string },
  ): Promise<{ roleId: string; secretId: string }> {
    const mount = settings.mount ?? "approle";
    await this.api("POST", `auth/${mount}/role/${name}`, {
      token_policies: settings.policies,
      token_ttl: settings.token_ttl ?? "1h",
      token_max_ttl: settings.token_max_ttl ?? "4h",
    });
    const role = await this.api<{ data: { role_id: string } }>("GET", `auth/${mount}/role/${name}/role-id`);
    const secret = await this.api<{ data: { secret_id: string } }>("POST", `auth/${mount}/role/${name}/secret-id`, {});
    return { roleId: role.data.role_id, secretId: secret.data.secret_id };
  }

  /** Creates a token (child of root) and returns it with its accessor. */
  async createToken(settings: {
    policies: string[];
    ttl?: string;
    renewable?: boolean;
    explicit_max_ttl?: string;
  }): Promise<{ token: string; accessor: string }> {
    const created = await this.api<{ auth: { client_token: string; accessor: string } }>(
      "POST",
      "auth/token/create",
      settings,
    );
    return { token: created.auth.client_token, accessor: created.auth.accessor };
  }

  /** Remaining TTL of `token` in seconds, or undefined when Vault no longer knows it. */
  async tokenTtl(token: string): Promise<number | undefined> {
    const response = await this.call<{ data?: { ttl?: number } }>("POST", "auth/token/lookup", { token });
    return response.status === 200 ? response.body.data?.ttl : undefined;
  }
}
