import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256 } from "../../credentials/docker-config.js";
import type { Logger } from "../../logging/logger.js";
import { PluginConfigError } from "../../plugins/contracts.js";
import { FileSource, fileSourceFactory } from "./file-source.js";

const PASSWORD = "s3cr3t-test-password";

function dockerConfig(user: string, registry = "registry.example"): string {
  const auth = Buffer.from(`${user}:${PASSWORD}`).toString("base64");
  return JSON.stringify({ auths: { [registry]: { auth } } });
}

interface LogRecord {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

function recordingLogger(records: LogRecord[]): Logger {
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void => {
      records.push({ level, fields, message });
    };
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return logger;
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let dir: string;
let controller: AbortController;
let logs: LogRecord[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ips-file-source-"));
  controller = new AbortController();
  logs = [];
});

afterEach(async () => {
  controller.abort();
  try {
    // Every test stops its source this way; no directory watch may outlive it.
    // Closing a handle completes on a later loop turn, hence the short wait.
    await waitFor("directory watches to close", () => !process.getActiveResourcesInfo().includes("FSEventWrap"), 1000);
    // Nothing the source logged may carry the secret.
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain(PASSWORD);
    expect(logged).not.toContain(Buffer.from(`robot:${PASSWORD}`).toString("base64"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** A source that only reacts to watch events: the poll is too slow to matter within a test. */
function source(path: string, pollIntervalMs = 60_000): { source: FileSource; changes: () => number } {
  const created = new FileSource({ path, debounceMs: 20, pollIntervalMs, logger: recordingLogger(logs) });
  let count = 0;
  created.onChange(() => count++);
  return { source: created, changes: () => count };
}

function expectSafeError(error: string | undefined, path: string): void {
  expect(error).toBeDefined();
  expect(error).toContain(`file ${path}`);
  expect(error).not.toContain(PASSWORD);
  expect(error).not.toContain(Buffer.from(`robot:${PASSWORD}`).toString("base64"));
}

/** Lays out a directory the way the kubelet does for a Secret volume. */
async function kubeletMount(mount: string, content: string, stamp: string): Promise<void> {
  await mkdir(mount, { recursive: true });
  const versioned = `..${stamp}`;
  await mkdir(join(mount, versioned));
  await writeFile(join(mount, versioned, ".dockerconfigjson"), content);
  await symlink(versioned, join(mount, "..data"));
  await symlink("..data/.dockerconfigjson", join(mount, ".dockerconfigjson"));
}

/** The kubelet's atomic update: new versioned dir, `..data_tmp` renamed over `..data`, old dir removed. */
async function kubeletSwap(mount: string, content: string, stamp: string, oldStamp: string): Promise<void> {
  const versioned = `..${stamp}`;
  await mkdir(join(mount, versioned));
  await writeFile(join(mount, versioned, ".dockerconfigjson"), content);
  await symlink(versioned, join(mount, "..data_tmp"));
  await rename(join(mount, "..data_tmp"), join(mount, "..data"));
  await rm(join(mount, `..${oldStamp}`), { recursive: true });
}

describe("FileSource", () => {
  it("loads the file on start", async () => {
    const path = join(dir, "config.json");
    const content = dockerConfig("robot");
    await writeFile(path, content);
    const { source: s, changes } = source(path);
    expect(s.status().state).toBe("pending");
    expect(s.current()).toBeUndefined();

    await s.start(controller.signal);
    expect(s.description).toBe(`file ${path}`);
    expect(s.secretsRead).toEqual([]);
    expect(s.status().state).toBe("ready");
    expect(s.status().error).toBeUndefined();
    expect(s.status().lastSuccessAt).toBeInstanceOf(Date);
    expect(s.current()?.credential.hash).toBe(sha256(Buffer.from(content)));
    expect(s.current()?.credential.registries).toEqual(["registry.example"]);
    expect(s.current()?.fetchedAt).toBeInstanceOf(Date);
    expect(changes()).toBe(1);
    await expect(s.start(controller.signal)).rejects.toThrow(/already started/);
  });

  it("reloads after a plain rewrite", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, dockerConfig("robot"));
    const { source: s } = source(path);
    await s.start(controller.signal);

    const next = dockerConfig("robot2", "other.example");
    await writeFile(path, next);
    await waitFor("the new value", () => s.current()?.credential.hash === sha256(Buffer.from(next)));
    expect(s.current()?.credential.registries).toEqual(["other.example"]);
    expect(s.status().state).toBe("ready");
  });

  it("follows the kubelet's ..data symlink swap", async () => {
    const mount = join(dir, "mount");
    const path = join(mount, ".dockerconfigjson");
    const first = dockerConfig("robot");
    await kubeletMount(mount, first, "2026_01_01_00_00_00.000000001");
    const { source: s, changes } = source(path);
    await s.start(controller.signal);
    expect(s.current()?.credential.hash).toBe(sha256(Buffer.from(first)));

    const second = dockerConfig("robot2");
    await kubeletSwap(mount, second, "2026_01_02_00_00_00.000000002", "2026_01_01_00_00_00.000000001");
    await waitFor("the swapped value", () => s.current()?.credential.hash === sha256(Buffer.from(second)));
    expect(s.status().state).toBe("ready");
    expect(changes()).toBe(2);

    // The watch survives a swap: a second update is seen too.
    const third = dockerConfig("robot3");
    await kubeletSwap(mount, third, "2026_01_03_00_00_00.000000003", "2026_01_02_00_00_00.000000002");
    await waitFor("the second swap", () => s.current()?.credential.hash === sha256(Buffer.from(third)));
    expect(changes()).toBe(3);
  });

  it("keeps the last good value as degraded when the file disappears, then recovers", async () => {
    const path = join(dir, "config.json");
    const good = dockerConfig("robot");
    await writeFile(path, good);
    const { source: s } = source(path);
    await s.start(controller.signal);

    await rm(path);
    await waitFor("degraded", () => s.status().state === "degraded");
    expect(s.current()?.credential.hash).toBe(sha256(Buffer.from(good)));
    expectSafeError(s.status().error, path);
    expect(s.status().error).toContain("file not found");
    expect(s.status().lastSuccessAt).toBeInstanceOf(Date);

    const recovered = dockerConfig("robot2");
    await writeFile(path, recovered);
    await waitFor("recovery", () => s.status().state === "ready");
    await waitFor("the new value", () => s.current()?.credential.hash === sha256(Buffer.from(recovered)));
    expect(s.status().error).toBeUndefined();
  });

  it("keeps the last good value when the file turns invalid, without leaking the content", async () => {
    const path = join(dir, "config.json");
    const good = dockerConfig("robot");
    await writeFile(path, good);
    const { source: s, changes } = source(path);
    await s.start(controller.signal);

    // Truncated JSON that still contains the password: the parser's message must not reach us.
    await writeFile(path, good.slice(0, -2));
    await waitFor("degraded", () => s.status().state === "degraded");
    expect(s.current()?.credential.hash).toBe(sha256(Buffer.from(good)));
    expectSafeError(s.status().error, path);
    expect(s.status().error).toContain("not valid JSON");
    const afterInvalid = changes();

    // A second invalid write with the same problem is not a change.
    await writeFile(path, good.slice(0, -3));
    await waitFor("a re-read", () => logs.some((r) => r.message === "credential file still unusable"));
    expect(changes()).toBe(afterInvalid);

    // Going back to the same good bytes is a change of state.
    await writeFile(path, good);
    await waitFor("ready", () => s.status().state === "ready");
    expect(changes()).toBe(afterInvalid + 1);
  });

  it("does not fire onChange when the file is rewritten with identical bytes", async () => {
    const path = join(dir, "config.json");
    const content = dockerConfig("robot");
    await writeFile(path, content);
    const { source: s, changes } = source(path);
    await s.start(controller.signal);
    const firstFetch = s.current()?.fetchedAt;
    expect(changes()).toBe(1);

    await sleep(5);
    await writeFile(path, content);
    await waitFor("a re-read", () => logs.some((r) => r.message === "credential file re-read, unchanged"));
    expect(changes()).toBe(1);
    expect(s.status().state).toBe("ready");
    // The confirming read refreshes the timestamp without announcing a change.
    expect(s.current()?.fetchedAt.getTime()).toBeGreaterThan(firstFetch?.getTime() ?? Infinity);
  });

  it("starts pending with an error when the file is missing, and picks it up once written", async () => {
    const path = join(dir, "config.json");
    const { source: s, changes } = source(path);
    await s.start(controller.signal);
    expect(s.status().state).toBe("pending");
    expect(s.current()).toBeUndefined();
    expectSafeError(s.status().error, path);
    expect(s.status().error).toContain("file not found");
    expect(changes()).toBe(1);

    await writeFile(path, dockerConfig("robot"));
    await waitFor("ready", () => s.status().state === "ready");
    expect(s.current()).toBeDefined();
  });

  it("starts pending with an error when the file is invalid", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, JSON.stringify({ auths: { "registry.example": { auth: `robot:${PASSWORD}` } } }));
    const { source: s } = source(path);
    await s.start(controller.signal);
    expect(s.status().state).toBe("pending");
    expect(s.current()).toBeUndefined();
    expectSafeError(s.status().error, path);
    expect(s.status().error).toContain("is not base64");
  });

  it("reports a directory at the path without reading it", async () => {
    const path = join(dir, "config.json");
    await mkdir(path);
    const { source: s } = source(path);
    await s.start(controller.signal);
    expect(s.status().state).toBe("pending");
    expect(s.status().error).toBe(`file ${path}: not a regular file`);
  });

  it("falls back to polling when the directory cannot be watched yet", async () => {
    const nested = join(dir, "not-yet", "mounted");
    const path = join(nested, "config.json");
    const { source: s } = source(path, 30);
    await s.start(controller.signal);
    expect(s.status().state).toBe("pending");

    await mkdir(nested, { recursive: true });
    await writeFile(path, dockerConfig("robot"));
    await waitFor("ready via poll", () => s.status().state === "ready");
  });

  it("closes its watcher and timers when the signal aborts", async () => {
    const path = join(dir, "config.json");
    const content = dockerConfig("robot");
    await writeFile(path, content);
    const count = (type: string): number => process.getActiveResourcesInfo().filter((r) => r === type).length;
    const watchersBefore = count("FSEventWrap");
    const timersBefore = count("Timeout");

    const { source: s, changes } = source(path, 50);
    await s.start(controller.signal);
    expect(count("FSEventWrap")).toBe(watchersBefore + 1);
    // Leave a debounce timer pending too, so abort has to clear it.
    await writeFile(path, dockerConfig("robot2"));
    await sleep(5);
    controller.abort();

    await sleep(100);
    expect(count("FSEventWrap")).toBe(watchersBefore);
    // Other code in the worker may hold timers of its own; ours must all be gone.
    expect(count("Timeout")).toBeLessThanOrEqual(timersBefore);
    const changesAtStop = changes();
    const logsAtStop = logs.length;
    await writeFile(path, dockerConfig("robot3"));
    await sleep(150); // three poll intervals and several debounce windows
    expect(changes()).toBe(changesAtStop);
    expect(logs.length).toBe(logsAtStop); // no read happened at all
    expect(s.current()?.credential.registries).toEqual(["registry.example"]);
  });

  it("does nothing when started with an aborted signal", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, dockerConfig("robot"));
    const { source: s } = source(path);
    await s.start(AbortSignal.abort());
    expect(s.status().state).toBe("pending");
    expect(s.current()).toBeUndefined();
  });

  it("lets listeners unsubscribe and survives a throwing listener", async () => {
    const path = join(dir, "config.json");
    await writeFile(path, dockerConfig("robot"));
    const { source: s, changes } = source(path);
    let removed = 0;
    const unsubscribe = s.onChange(() => removed++);
    s.onChange(() => {
      throw new Error("listener bug");
    });
    let after = 0;
    s.onChange(() => after++);
    unsubscribe();
    await s.start(controller.signal);
    expect(removed).toBe(0);
    expect(changes()).toBe(1);
    expect(after).toBe(1);
    expect(logs.some((r) => r.level === "error" && r.message === "onChange listener threw")).toBe(true);
  });
});

describe("fileSourceFactory", () => {
  function configError(config: unknown): PluginConfigError {
    try {
      fileSourceFactory.validate(config);
    } catch (error) {
      expect(error).toBeInstanceOf(PluginConfigError);
      return error as PluginConfigError;
    }
    throw new Error("expected a PluginConfigError");
  }

  it("accepts a path with and without a poll interval", () => {
    expect(fileSourceFactory.type).toBe("file");
    expect(fileSourceFactory.validate({ path: "/etc/regcred/.dockerconfigjson" })).toEqual({
      path: "/etc/regcred/.dockerconfigjson",
    });
    expect(fileSourceFactory.validate({ path: "/x", pollIntervalSeconds: 2.5 })).toEqual({
      path: "/x",
      pollIntervalSeconds: 2.5,
    });
  });

  it.each([
    [undefined, "", 'must be an object with a "path"'],
    [[], "", 'must be an object with a "path"'],
    [{}, "path", "required, a non-empty string"],
    [{ path: "" }, "path", "required, a non-empty string"],
    [{ path: "  " }, "path", "required, a non-empty string"],
    [{ path: 42 }, "path", "required, a non-empty string"],
    [{ path: "/x\0y" }, "path", "must not contain NUL characters"],
    [{ path: "/x", pollIntervalSeconds: 0 }, "pollIntervalSeconds", "must be a positive number"],
    [{ path: "/x", pollIntervalSeconds: -1 }, "pollIntervalSeconds", "must be a positive number"],
    [{ path: "/x", pollIntervalSeconds: "30" }, "pollIntervalSeconds", "must be a positive number"],
    [{ path: "/x", pollIntervalSeconds: Infinity }, "pollIntervalSeconds", "must be a positive number"],
    [{ path: "/x", pollIntervalSeconds: 1e9 }, "pollIntervalSeconds", "must be at most 2147483 (about 24 days)"],
    [{ path: "/x", pollInterval: 5 }, "pollInterval", "unknown key; valid keys: path, pollIntervalSeconds"],
    [{ paht: "/x", extra: 1 }, "", 'unknown keys "paht", "extra"; valid keys: path, pollIntervalSeconds'],
  ])("rejects %o", (config, path, problem) => {
    const error = configError(config);
    expect(error.path).toBe(path);
    expect(error.problem).toBe(problem);
  });

  it("creates a file source from a validated config", () => {
    const created = fileSourceFactory.create(fileSourceFactory.validate({ path: "/etc/regcred/config.json" }), {
      logger: recordingLogger(logs),
      mappingName: "default",
    });
    expect(created).toBeInstanceOf(FileSource);
    expect(created.description).toBe("file /etc/regcred/config.json");
    expect(created.status().state).toBe("pending");
  });
});
