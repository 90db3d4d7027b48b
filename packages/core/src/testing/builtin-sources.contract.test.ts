// The SourceProvider contract kit run against the built-in sources that work without a cluster.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileSource } from "../sources/file/file-source.js";
import { MergedSource } from "../sources/merged/merged-source.js";
import { PollingSource, type PolledValue } from "../sources/polling/polling-source.js";
import { SourceFetchError } from "../sources/polling/errors.js";
import type { VaultHttpResponse, VaultTransport } from "../sources/vault/client.js";
import { validateVaultSourceConfig } from "../sources/vault/config.js";
import { VaultSource } from "../sources/vault/vault-source.js";
import { ManualClock, describeSourceProviderContract, sampleDockerConfigJson, type SourceHarness } from "./index.js";

const DAY_MS = 86_400_000;

/** A PollingSource over an in-memory backend; `drive` picks how a refresh happens. */
function pollingHarness(drive: "refreshNow" | "clock"): SourceHarness {
  const clock = new ManualClock();
  let answer: () => PolledValue = () => {
    throw new SourceFetchError("nothing served yet");
  };
  let reads = 0;
  const source = new PollingSource({
    description: "in-memory backend team-a/registry",
    refreshIntervalMs: 60_000,
    clock,
    random: () => 0.5,
    fetch: () => {
      reads++;
      return Promise.resolve().then(answer);
    },
  });
  return {
    source,
    serve: (secret, options) => {
      answer = () => ({ bytes: sampleDockerConfigJson(secret), expiresAt: options?.expiresAt });
    },
    fail: () => {
      answer = () => {
        throw new SourceFetchError("backend unavailable");
      };
    },
    serveInvalid: () => {
      answer = () => ({ bytes: '{"auths": "not a map"}' });
    },
    refresh: drive === "clock" ? async () => void (await clock.advanceToNext()) : () => source.refreshNow(),
    elapse: () => clock.advance(DAY_MS),
    now: () => clock.now(),
    pendingTimers: () => clock.pendingDelays().length,
    backendReads: () => reads,
  };
}

describeSourceProviderContract("PollingSource (refreshNow)", () => pollingHarness("refreshNow"), {
  expiry: true,
  expiryToleranceMs: 0,
});
describeSourceProviderContract("PollingSource (timers on a manual clock)", () => pollingHarness("clock"), {
  expiry: true,
  expiryToleranceMs: 0,
});

/**
 * A MergedSource over two PollingSources the harness drives together: each serves the credential
 * for `secret` on a registry of its own, so the merge holds both, and a shared failure fails both.
 */
function mergedHarness(): SourceHarness {
  const clock = new ManualClock();
  const registries = ["registry-a.contract.test", "registry-b.contract.test"];
  let answer: (registry: string) => PolledValue = () => {
    throw new SourceFetchError("nothing served yet");
  };
  let reads = 0;
  const children = registries.map(
    (registry) =>
      new PollingSource({
        description: `in-memory backend ${registry}`,
        refreshIntervalMs: 60_000,
        clock,
        random: () => 0.5,
        fetch: () => {
          reads++;
          return Promise.resolve(registry).then(answer);
        },
      }),
  );
  const authsFor = (secret: string, registry: string): Record<string, unknown> =>
    (JSON.parse(sampleDockerConfigJson(secret, registry)) as { auths: Record<string, unknown> }).auths;
  const merged = (secret: string): string =>
    JSON.stringify({ auths: Object.assign({}, ...registries.map((r) => authsFor(secret, r))) as unknown });
  return {
    source: new MergedSource(children),
    serve: (secret, options) => {
      answer = (registry) => ({ bytes: sampleDockerConfigJson(secret, registry), expiresAt: options?.expiresAt });
    },
    fail: () => {
      answer = () => {
        throw new SourceFetchError("backend unavailable");
      };
    },
    serveInvalid: () => {
      answer = () => ({ bytes: "{not json" });
    },
    credentialFor: merged,
    refresh: async () => void (await Promise.all(children.map((c) => c.refreshNow()))),
    elapse: () => clock.advance(DAY_MS),
    now: () => clock.now(),
    pendingTimers: () => clock.pendingDelays().length,
    backendReads: () => reads,
  };
}

describeSourceProviderContract("MergedSource (two polled sources)", mergedHarness, {
  expiry: true,
  expiryToleranceMs: 0,
});

/** A VaultSource (token auth, KV v2) over a scripted transport: no network. */
function vaultHarness(): SourceHarness {
  const clock = new ManualClock();
  const respond = (status: number, body: unknown): Promise<VaultHttpResponse> =>
    Promise.resolve({ status, headers: new Headers(), text: JSON.stringify(body) });
  let kv: () => Promise<VaultHttpResponse> = () => respond(404, { errors: [] });
  let reads = 0;
  const transport: VaultTransport = (req) => {
    if (req.url.pathname === "/v1/auth/token/lookup-self") return respond(200, { data: { ttl: 0, renewable: false } });
    if (req.url.pathname === "/v1/secret/data/registry/docker") {
      reads++;
      return kv();
    }
    return respond(404, { errors: [] });
  };
  const config = validateVaultSourceConfig({
    address: "https://vault.contract.test:8200",
    path: "registry/docker",
    auth: { token: { token: "hvs.contract-root-token" } },
  });
  const source = new VaultSource(config, { transport, clock, random: () => 0.5, refreshIntervalMs: 60_000 });
  return {
    source,
    serve: (secret) => {
      kv = () =>
        respond(200, {
          data: { data: { dockerconfigjson: sampleDockerConfigJson(secret) }, metadata: { version: 1 } },
        });
    },
    fail: () => {
      kv = () => respond(503, { errors: ["Vault is sealed"] });
    },
    serveInvalid: () => {
      kv = () => respond(200, { data: { data: { dockerconfigjson: "{not json" }, metadata: { version: 2 } } });
    },
    refresh: () => source.refreshNow(),
    elapse: () => clock.advance(DAY_MS),
    now: () => clock.now(),
    pendingTimers: () => clock.pendingDelays().length,
    backendReads: () => reads,
  };
}

describeSourceProviderContract("VaultSource", vaultHarness);

/**
 * Counts the timers FileSource creates (recognised by the call stack) that are still pending, and
 * the file watches alive in the process, so the contract can check a stopped source holds none.
 * Global timer functions are wrapped only while a harness lives; they delegate unchanged.
 */
function trackFileSourceHandles(): { pending(): number; restore(): void } {
  const real = { setTimeout, setInterval, clearTimeout, clearInterval };
  const live = new Set<unknown>();
  const mine = (): boolean => /file-source\.(ts|js)/.test(new Error().stack ?? "");
  const g = globalThis as unknown as Record<keyof typeof real, unknown>;
  g.setTimeout = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle: unknown = real.setTimeout(
      (...a: unknown[]) => {
        live.delete(handle);
        callback(...a);
      },
      ms,
      ...args,
    );
    if (mine()) live.add(handle);
    return handle;
  };
  g.setInterval = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle = real.setInterval(callback, ms, ...args);
    if (mine()) live.add(handle);
    return handle;
  };
  g.clearTimeout = (handle: Parameters<typeof clearTimeout>[0]) => {
    live.delete(handle);
    real.clearTimeout(handle);
  };
  g.clearInterval = (handle: Parameters<typeof clearInterval>[0]) => {
    live.delete(handle);
    real.clearInterval(handle);
  };
  const watches = (): number =>
    process.getActiveResourcesInfo().filter((r) => r === "FSEventWrap" || r === "StatWatcher").length;
  const baseline = watches();
  return {
    pending: () => live.size + Math.max(0, watches() - baseline),
    restore: () => Object.assign(globalThis, real),
  };
}

/**
 * A FileSource on a temporary file, polling fast; files are replaced atomically, as Kubernetes does.
 * FileSource has no refreshNow(), so after a change to the file `refresh()` waits until the source
 * shows it (the watch or the next poll), and otherwise lets several polls pass.
 */
async function fileHarness(): Promise<SourceHarness> {
  const dir = await mkdtemp(join(tmpdir(), "contract-file-source-"));
  const path = join(dir, "config.json");
  const handles = trackFileSourceHandles();
  const source = new FileSource({ path, pollIntervalMs: 20, debounceMs: 5 });
  const observed = (): string =>
    JSON.stringify([source.current()?.credential.hash, source.status().state, source.status().error]);
  let changedFrom: string | undefined;
  const changed = async <T>(change: () => Promise<T>): Promise<void> => {
    changedFrom = observed();
    await change();
  };
  const replace = async (text: string): Promise<void> => {
    await writeFile(join(dir, ".next"), text);
    await rename(join(dir, ".next"), path);
  };
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    source,
    serve: (secret) => changed(() => replace(sampleDockerConfigJson(secret))),
    fail: () => changed(() => rm(path, { force: true })),
    serveInvalid: () => changed(() => replace("{not json")),
    refresh: async () => {
      const from = changedFrom;
      changedFrom = undefined;
      const deadline = Date.now() + 10_000;
      if (from !== undefined) while (observed() === from && Date.now() < deadline) await sleep(10);
      await sleep(150);
    },
    elapse: () => sleep(300),
    pendingTimers: () => handles.pending(),
    close: async () => {
      handles.restore();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeSourceProviderContract("FileSource", fileHarness);
