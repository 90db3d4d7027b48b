// A real container registry for tests: Debian's `docker-registry` package (the CNCF distribution
// registry v2), one process on a free loopback port with htpasswd (Basic) or token (Bearer) auth,
// TLS from a throw-away CA by default. Stopped by PID (its own process group), never by name; a
// reaper stops it if the test process dies.
import { execFile, spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { generatePki, type PemPair } from "../cluster/local/pki.ts";
import {
  freePort,
  isAlive,
  isOurProcess,
  startProcess,
  stopProcessGroup,
  tail,
  type StartedProcess,
} from "../cluster/local/processes.ts";

const REAPER = fileURLToPath(new URL("../cluster/local/reaper.ts", import.meta.url));

/** Where the Debian package puts the registry; `DOCKER_REGISTRY_BIN` overrides it. */
export const DEFAULT_REGISTRY_BINARY = "/usr/bin/docker-registry";
const HTPASSWD = "/usr/bin/htpasswd";
const PACKAGES = ["docker-registry", "apache2-utils"];
/** The packaged service's port (`/etc/docker/registry/config.yml`). */
const PACKAGED_SERVICE_PORT = 5000;

interface RunResult {
  code: number;
  output: string;
}

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      { env: options.env ?? process.env, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : 127;
        resolve({ code, output: `${stdout}${stderr}` });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

const lastLines = (text: string, lines = 15): string => text.trimEnd().split("\n").slice(-lines).join("\n");

/** PIDs listening on a TCP port, from `ss` (empty when nothing listens or `ss` is missing). */
async function listeners(port: number): Promise<number[]> {
  const { code, output } = await run("ss", ["-Hltnp", `sport = :${port}`]);
  if (code !== 0) return [];
  return [...output.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

/**
 * The package's postinst enables and may start a system registry on :5000. Tests start their own,
 * so stop that one: via systemd when it runs the service, else by PID (checked to be the registry).
 */
async function stopPackagedService(onProgress: (line: string) => void): Promise<void> {
  const pids = (await listeners(PACKAGED_SERVICE_PORT)).filter((pid) => isOurProcess(pid, "docker-registry"));
  if (pids.length === 0) return;
  onProgress(`stopping the packaged docker-registry service on :${PACKAGED_SERVICE_PORT} (pid ${pids.join(", ")})`);
  if (existsSync("/run/systemd/system")) await run("systemctl", ["stop", "docker-registry.service"]);
  for (const pid of pids) if (isAlive(pid)) await stopProcessGroup(pid, 5_000);
}

/** `apt-get install`s the packages without starting their services, updating the index if needed. */
async function aptInstall(onProgress: (line: string) => void, help: string): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const policy = "/usr/sbin/policy-rc.d";
  // Exit code 101 tells invoke-rc.d and deb-systemd-invoke not to start services.
  const ownPolicy = !existsSync(policy);
  if (ownPolicy)
    writeFileSync(
      policy,
      "#!/bin/sh\n# written by the imagepullsecret-patcher e2e harness during an install\nexit 101\n",
      { mode: 0o755 },
    );
  try {
    onProgress(`installing ${PACKAGES.join(" ")} with apt-get`);
    let result = await run("apt-get", ["install", "-y", "--no-install-recommends", ...PACKAGES], { env });
    if (result.code !== 0) {
      onProgress("apt-get install failed; running apt-get update and trying again");
      const update = await run("apt-get", ["update"], { env });
      if (update.code !== 0)
        throw new Error(`apt-get update failed (exit ${update.code}):\n${lastLines(update.output)}\n${help}`);
      result = await run("apt-get", ["install", "-y", "--no-install-recommends", ...PACKAGES], { env });
    }
    if (result.code !== 0)
      throw new Error(
        `apt-get install ${PACKAGES.join(" ")} failed (exit ${result.code}):\n${lastLines(result.output)}\n${help}`,
      );
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

/**
 * Returns the registry binary, installing the packages when it or `htpasswd` is missing
 * (`apt-get install -y docker-registry apache2-utils`, after `apt-get update` if the first try
 * fails). Services are kept from starting during the install (a temporary `policy-rc.d` when the
 * system has none), and a packaged service left listening on :5000 is stopped.
 */
export async function ensureDockerRegistry(onProgress: (line: string) => void = () => {}): Promise<string> {
  const binary = process.env.DOCKER_REGISTRY_BIN ?? DEFAULT_REGISTRY_BINARY;
  if (existsSync(binary) && existsSync(HTPASSWD)) return binary;
  if (process.env.DOCKER_REGISTRY_BIN && !existsSync(binary)) {
    throw new Error(`DOCKER_REGISTRY_BIN=${binary} does not exist`);
  }
  const help = `install them with: apt-get install -y ${PACKAGES.join(" ")} (Debian/Ubuntu), or set DOCKER_REGISTRY_BIN`;
  if (process.getuid?.() !== 0)
    throw new Error(`the registry test needs ${PACKAGES.join(" and ")}, and installing them needs root; ${help}`);
  if ((await run("apt-get", ["--version"])).code !== 0)
    throw new Error(`apt-get is not available to install ${PACKAGES.join(" and ")}; ${help}`);

  await aptInstall(onProgress, help);
  await stopPackagedService(onProgress);
  if (!existsSync(binary)) throw new Error(`${binary} is still missing after installing ${PACKAGES.join(" ")}`);
  const version = await run(binary, ["--version"]);
  onProgress(`installed: ${version.output.trim()}`);
  return binary;
}

/** A bcrypt htpasswd line (the registry accepts only bcrypt); the password goes over stdin, not argv. */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  accessSync(HTPASSWD, constants.X_OK);
  const { code, output } = await run(HTPASSWD, ["-niB", "-C", "5", user], { input: `${password}\n` });
  const line = output.split("\n").find((l) => l.startsWith(`${user}:$2`));
  if (code !== 0 || !line) throw new Error(`htpasswd failed (exit ${code})`);
  return line;
}

export type RegistryAuth =
  /** `auth.htpasswd`: HTTP Basic against these users. */
  | { kind: "htpasswd"; users: Record<string, string> }
  /** `auth.token`: the Docker token flow; tokens come from `realm` and are checked against `rootCertPem`. */
  | { kind: "token"; realm: string; service: string; issuer: string; rootCertPem: string };

export interface RegistryServerOptions {
  /** The `docker-registry` binary (default: {@link ensureDockerRegistry}). */
  binary?: string;
  auth: RegistryAuth;
  /**
   * Serve https (default true): with a certificate for 127.0.0.1 from a new throw-away CA, or with
   * the given CA and serving pair. The registry does not need TLS for htpasswd (2.8 serves it over
   * plain http), but clients send credentials only over https.
   */
  tls?: boolean | { caPem: string; serving: PemPair };
  /** Where config, storage and logs go (default: a new temporary directory, removed by {@link RegistryServer.dispose}). */
  workDir?: string;
  /** Milliseconds to wait for the server to answer (default 30 s). */
  startTimeoutMs?: number;
}

export class RegistryServer {
  readonly binary: string;
  readonly workDir: string;
  readonly port: number;
  /** `127.0.0.1:<port>`: the key to use under `auths`. */
  readonly host: string;
  /** `https://127.0.0.1:<port>` (or http without TLS). */
  readonly address: string;
  /** The CA that signed the serving certificate, for clients to trust (undefined without TLS). */
  readonly caPem: string | undefined;
  readonly logPath: string;
  #process: StartedProcess | undefined;
  readonly #ownsWorkDir: boolean;
  readonly #startTimeoutMs: number;
  readonly #configPath: string;

  private constructor(
    binary: string,
    workDir: string,
    ownsWorkDir: boolean,
    port: number,
    caPem: string | undefined,
    startTimeoutMs: number,
  ) {
    this.binary = binary;
    this.workDir = workDir;
    this.#ownsWorkDir = ownsWorkDir;
    this.port = port;
    this.host = `127.0.0.1:${port}`;
    this.address = `${caPem === undefined ? "http" : "https"}://${this.host}`;
    this.caPem = caPem;
    this.logPath = join(workDir, "registry.log");
    this.#configPath = join(workDir, "config.yml");
    this.#startTimeoutMs = startTimeoutMs;
  }

  /** Writes the config (and htpasswd file, certificate) and starts the registry; resolves once `/v2/` answers 401. */
  static async start(options: RegistryServerOptions): Promise<RegistryServer> {
    const binary = options.binary ?? (await ensureDockerRegistry());
    const ownsWorkDir = options.workDir === undefined;
    const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "registry-e2e-"));
    let server: RegistryServer | undefined;
    try {
      let tls: { caPem: string; serving: PemPair } | undefined;
      if (typeof options.tls === "object") {
        tls = options.tls;
      } else if (options.tls !== false) {
        const pki = await generatePki(); // its "apiserver" pair serves 127.0.0.1
        tls = { caPem: pki.ca.certPem, serving: pki.apiserver };
      }
      server = new RegistryServer(
        binary,
        workDir,
        ownsWorkDir,
        await freePort(),
        tls?.caPem,
        options.startTimeoutMs ?? 30_000,
      );
      await server.#writeConfig(options.auth, tls?.serving);
      await server.#launch();
      return server;
    } catch (err) {
      if (server) await server.dispose();
      else if (ownsWorkDir) rmSync(workDir, { recursive: true, force: true });
      throw err;
    }
  }

  get pid(): number | undefined {
    return this.#process?.pid;
  }

  get running(): boolean {
    return this.#process !== undefined && isAlive(this.#process.pid);
  }

  async #writeConfig(auth: RegistryAuth, serving: PemPair | undefined): Promise<void> {
    const quote = (value: string): string => JSON.stringify(value); // a JSON string is a YAML string
    const lines = [
      "version: 0.1",
      "log:",
      "  level: info",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${quote(join(this.workDir, "data"))}`,
      "http:",
      `  addr: ${quote(this.host)}`,
      // A fixed secret keeps the startup warning out of the log; it only signs upload state.
      `  secret: ${quote(`e2e-${this.port}`)}`,
    ];
    if (serving) {
      writeFileSync(join(this.workDir, "tls.crt"), serving.certPem);
      writeFileSync(join(this.workDir, "tls.key"), serving.keyPem, { mode: 0o600 });
      lines.push(
        "  tls:",
        `    certificate: ${quote(join(this.workDir, "tls.crt"))}`,
        `    key: ${quote(join(this.workDir, "tls.key"))}`,
      );
    }
    lines.push("auth:");
    if (auth.kind === "htpasswd") {
      const entries = await Promise.all(
        Object.entries(auth.users).map(([user, password]) => htpasswdLine(user, password)),
      );
      writeFileSync(join(this.workDir, "htpasswd"), `${entries.join("\n")}\n`, { mode: 0o600 });
      lines.push("  htpasswd:", "    realm: e2e-registry", `    path: ${quote(join(this.workDir, "htpasswd"))}`);
    } else {
      writeFileSync(join(this.workDir, "token-root.crt"), auth.rootCertPem);
      lines.push(
        "  token:",
        `    realm: ${quote(auth.realm)}`,
        `    service: ${quote(auth.service)}`,
        `    issuer: ${quote(auth.issuer)}`,
        `    rootcertbundle: ${quote(join(this.workDir, "token-root.crt"))}`,
      );
    }
    writeFileSync(this.#configPath, `${lines.join("\n")}\n`);
  }

  async #launch(): Promise<void> {
    if (this.running) throw new Error(`docker-registry is already running (pid ${this.#process?.pid})`);
    const started = startProcess("docker-registry", this.binary, ["serve", this.#configPath], this.logPath);
    this.#process = started;
    // Stops the registry if this process dies without calling stop(), even by SIGKILL.
    const reaper = spawn(process.execPath, [REAPER, String(process.pid), "", String(started.pid)], {
      detached: true,
      stdio: "ignore",
    });
    reaper.unref();
    let exited: string | undefined;
    void started.exited.then((how) => (exited = how));
    const deadline = Date.now() + this.#startTimeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      if (exited !== undefined) throw new Error(`docker-registry exited (${exited}):\n${tail(this.logPath)}`);
      try {
        // 401 (authentication required) is the answer of a registry that is up and enforcing auth.
        if ((await this.status("/v2/")) === 401) return;
      } catch (err) {
        last = err;
      }
      await sleep(100);
    }
    throw new Error(
      `timed out waiting for docker-registry on ${this.address}${last instanceof Error ? `: ${last.message}` : ""}\n${tail(this.logPath)}`,
    );
  }

  /** The status of an unauthenticated GET, trusting the server's CA. Throws when nothing answers. */
  status(path: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const url = new URL(path, this.address);
      const onResponse = (response: IncomingMessage): void => {
        response.resume();
        resolve(response.statusCode ?? 0);
      };
      const options = { signal: AbortSignal.timeout(2_000) };
      const req =
        this.caPem === undefined
          ? httpRequest(url, options, onResponse)
          : httpsRequest(url, { ...options, ca: this.caPem }, onResponse);
      req.on("error", reject);
      req.end();
    });
  }

  /** The registry's log (it names users, never passwords). */
  log(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  /** Stops the process (SIGTERM to its group, SIGKILL after 10 s). The port stays known for {@link restart}. */
  async stop(): Promise<void> {
    const running = this.#process;
    this.#process = undefined;
    if (running) await stopProcessGroup(running.pid);
  }

  /** Starts the process again on the same port with the same config and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#launch();
  }

  /** Stops the process and removes a work directory this server created. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.#ownsWorkDir) rmSync(this.workDir, { recursive: true, force: true });
  }
}
