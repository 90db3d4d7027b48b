import { constants, type FSWatcher, watch } from "node:fs";
import { open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type DockerConfigJson,
  InvalidCredentialError,
  MAX_SECRET_BYTES,
  parseDockerConfigJson,
} from "../../credentials/docker-config.js";
import { type Logger, silentLogger } from "../../logging/logger.js";
import {
  PluginConfigError,
  type SourceFactory,
  type SourceProvider,
  type SourceStatus,
  type SourceValue,
} from "../../plugins/contracts.js";
import { MAX_TIMER_MS } from "../../util/clock.js";
import { errorCode } from "../../util/errors.js";
import { SourceStateMachine } from "../polling/source-state.js";

/** Config users write for a `file` source. */
export interface FileSourceConfig {
  /** Path of the `.dockerconfigjson` file, usually inside a Secret or ConfigMap volume. */
  readonly path: string;
  /** Safety-net re-read interval in seconds, for filesystems where watch events get lost. Default 30. */
  readonly pollIntervalSeconds?: number | undefined;
}

/** Construction options of {@link FileSource}; finer-grained than the user config, for tests and embedders. */
export interface FileSourceOptions {
  readonly path: string;
  /** Default 30 000 ms. */
  readonly pollIntervalMs?: number | undefined;
  /** How long to gather watch events before re-reading. Default 100 ms. */
  readonly debounceMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

// Timers turn longer delays into 1 ms, which would make the poll a hot loop.
const MAX_POLL_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
const CONFIG_KEYS = ["path", "pollIntervalSeconds"] as const;

/** What a failed read's system error code means, in words. */
const READ_PROBLEMS: Readonly<Record<string, string>> = {
  ENOENT: "file not found",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a parent of the path is not a directory",
  ELOOP: "too many levels of symbolic links",
};

/** A read failure whose message is safe to show: it names the problem, never the file's content. */
class FileProblem extends Error {}

/**
 * Reads a `.dockerconfigjson` from a file and reloads it when it changes.
 *
 * Kubernetes updates Secret and ConfigMap volumes by writing a new timestamped directory and
 * renaming a `..data` symlink over the old one, so the file's inode changes and a watch on the
 * file itself would go silent. This source watches the parent directory instead and also re-reads
 * on a slow poll in case events are lost (network filesystems, a replaced directory).
 */
export class FileSource implements SourceProvider {
  /** `file <path>`. */
  readonly description: string;
  /** Outside the cluster: no Secret is read. */
  readonly secretsRead: readonly { namespace: string; name: string }[] = [];

  readonly #path: string;
  readonly #dir: string;
  readonly #pollIntervalMs: number;
  readonly #debounceMs: number;
  readonly #logger: Logger;
  readonly #state: SourceStateMachine;

  #stopped = false;
  #watcher: FSWatcher | undefined;
  /** Inode of the watched directory; a different one means the directory was replaced. */
  #watchedIno: number | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;

  constructor(options: FileSourceOptions) {
    if (typeof options.path !== "string" || options.path === "") throw new TypeError("path must be a non-empty string");
    this.#path = options.path;
    this.#dir = dirname(options.path);
    this.description = `file ${options.path}`;
    this.#pollIntervalMs = Math.min(positive("pollIntervalMs", options.pollIntervalMs ?? 30_000), MAX_TIMER_MS);
    this.#debounceMs = Math.min(positive("debounceMs", options.debounceMs ?? 100), MAX_TIMER_MS);
    this.#logger = options.logger ?? silentLogger;
    this.#state = new SourceStateMachine(this.description, this.#logger);
  }

  /** Reads the file once, then watches and polls until `signal` aborts. Resolves after the first read. */
  async start(signal: AbortSignal): Promise<void> {
    if (!this.#state.begin(signal, () => this.#stop())) return;
    // Watch before the first read so an update landing during the read is not missed.
    await this.#ensureWatcher();
    await this.#reload();
    if (this.#stopped) return;
    this.#pollTimer = setInterval(() => void this.#poll(), this.#pollIntervalMs);
  }

  /** The last value that parsed, kept through later failures. */
  current(): SourceValue | undefined {
    return this.#state.current();
  }

  /** `pending` until a good read, `ready`, or `degraded` while the file is missing or invalid. */
  status(): SourceStatus {
    return this.#state.status();
  }

  /** Called when the value or status changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    return this.#state.onChange(listener);
  }

  async #poll(): Promise<void> {
    // A slow filesystem must not pile up overlapping polls.
    if (this.#polling || this.#stopped) return;
    this.#polling = true;
    try {
      await this.#ensureWatcher();
      await this.#reload();
    } finally {
      this.#polling = false;
    }
  }

  /** (Re)creates the directory watch when missing or when the directory was replaced. */
  async #ensureWatcher(): Promise<void> {
    let ino: number | undefined;
    try {
      ino = (await stat(this.#dir)).ino;
    } catch {
      ino = undefined;
    }
    if (this.#stopped) return;
    if (this.#watcher && ino === this.#watchedIno) return;
    this.#closeWatcher();
    if (ino === undefined) return; // The directory is missing; the next poll tries again.
    try {
      const watcher = watch(this.#dir, { persistent: true }, () => this.#scheduleReload());
      watcher.on("error", (error: NodeJS.ErrnoException) => {
        this.#logger.debug({ code: error.code }, "directory watch failed; relying on polling until it is re-created");
        if (this.#watcher === watcher) this.#closeWatcher();
        this.#scheduleReload();
      });
      this.#watcher = watcher;
      this.#watchedIno = ino;
    } catch (error) {
      this.#logger.warn({ code: errorCode(error) }, "cannot watch the directory; relying on polling");
    }
  }

  #closeWatcher(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watchedIno = undefined;
  }

  /**
   * Coalesces a burst of directory events (a symlink swap is several) into one read. The timer is
   * not pushed back by later events, so a busy directory cannot starve reloads.
   */
  #scheduleReload(): void {
    if (this.#stopped || this.#debounceTimer) return;
    this.#debounceTimer = setTimeout(() => {
      this.#debounceTimer = undefined;
      void this.#reload();
    }, this.#debounceMs);
  }

  /** Runs one read at a time; a request during a read triggers exactly one more read after it. */
  #reload(): Promise<void> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#reloadAgain = false;
          await this.#loadOnce();
        } while (this.#reloadAgain && !this.#stopped);
      } finally {
        this.#reloading = undefined;
      }
    };
    this.#reloading = run();
    return this.#reloading;
  }

  async #loadOnce(): Promise<void> {
    let credential: DockerConfigJson;
    try {
      credential = parseDockerConfigJson(await this.#read(), this.description);
    } catch (error) {
      if (!this.#stopped) this.#fail(this.#describe(error));
      return;
    }
    if (!this.#stopped) this.#succeed(credential);
  }

  async #read(): Promise<Buffer> {
    // O_NONBLOCK so a FIFO at the path cannot hang the source; it changes nothing for regular files.
    const handle = await open(this.#path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new FileProblem("not a regular file");
      // Refuse before reading, so a wrong path to a huge file cannot eat memory.
      if (info.size > MAX_SECRET_BYTES) {
        throw new FileProblem(`${info.size} bytes is larger than the 1 MiB Secret limit`);
      }
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  /** A message naming the file and the problem. Never the content, never a parser's echo of it. */
  #describe(error: unknown): string {
    if (error instanceof InvalidCredentialError) return error.message;
    if (error instanceof FileProblem) return `${this.description}: ${error.message}`;
    const code = errorCode(error);
    const problem = (code && READ_PROBLEMS[code]) ?? `cannot read the file (${code ?? "unknown error"})`;
    return `${this.description}: ${problem}`;
  }

  #succeed(credential: DockerConfigJson): void {
    // Timestamps advance on every confirming read, but that alone is not a change worth announcing.
    if (!this.#state.succeeded(credential, new Date()).announced) {
      this.#logger.debug({ hash: credential.hash }, "credential file re-read, unchanged");
      return;
    }
    this.#logger.info({ hash: credential.hash, registries: credential.registries }, "credential file loaded");
  }

  #fail(message: string): void {
    // A bad read never replaces a good value: the state machine keeps it and reports degraded.
    const { state, announced } = this.#state.failed(message);
    if (!announced) {
      this.#logger.debug({ state }, "credential file still unusable");
      return;
    }
    this.#logger.warn({ state, error: message }, "credential file unusable");
  }

  #stop(): void {
    this.#stopped = true;
    this.#closeWatcher();
    clearTimeout(this.#debounceTimer);
    this.#debounceTimer = undefined;
    clearInterval(this.#pollTimer);
    this.#pollTimer = undefined;
  }
}

/** The `file` source: a `.dockerconfigjson` mounted from a Secret or ConfigMap volume, or any local file. */
export const fileSourceFactory: SourceFactory<FileSourceConfig> = {
  type: "file",
  summary: "reads a .dockerconfigjson from a file (e.g. a mounted Secret) and reloads it when it changes",

  validate(config: unknown): FileSourceConfig {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      throw new PluginConfigError("", 'must be an object with a "path"');
    }
    const record = config as Record<string, unknown>;
    const unknownKeys = Object.keys(record).filter((key) => !(CONFIG_KEYS as readonly string[]).includes(key));
    const valid = `valid keys: ${CONFIG_KEYS.join(", ")}`;
    const [firstUnknown] = unknownKeys;
    if (firstUnknown !== undefined && unknownKeys.length === 1) {
      throw new PluginConfigError(firstUnknown, `unknown key; ${valid}`);
    }
    if (unknownKeys.length > 1) {
      throw new PluginConfigError("", `unknown keys ${unknownKeys.map((key) => `"${key}"`).join(", ")}; ${valid}`);
    }

    const path = record.path;
    if (typeof path !== "string" || path.trim() === "") {
      throw new PluginConfigError("path", "required, a non-empty string");
    }
    if (path.includes("\0")) throw new PluginConfigError("path", "must not contain NUL characters");

    const poll = record.pollIntervalSeconds;
    if (poll === undefined) return { path };
    if (typeof poll !== "number" || !Number.isFinite(poll) || poll <= 0) {
      throw new PluginConfigError("pollIntervalSeconds", "must be a positive number");
    }
    if (poll > MAX_POLL_SECONDS) {
      throw new PluginConfigError("pollIntervalSeconds", `must be at most ${MAX_POLL_SECONDS} (about 24 days)`);
    }
    return { path, pollIntervalSeconds: poll };
  },

  create(config: FileSourceConfig, context): FileSource {
    return new FileSource({
      path: config.path,
      pollIntervalMs: (config.pollIntervalSeconds ?? 30) * 1000,
      logger: context.logger.child({ source: `file ${config.path}` }),
    });
  },
};

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0)) throw new RangeError(`${name} must be a positive number`);
  return value;
}
