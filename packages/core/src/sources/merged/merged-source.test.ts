import { describe, expect, it } from "vitest";
import { parseDockerConfigJson } from "../../credentials/docker-config.js";
import type { Logger } from "../../logging/logger.js";
import type { SourceProvider, SourceStatus, SourceValue } from "../../plugins/contracts.js";
import { SourceStateMachine } from "../polling/source-state.js";
import { MergedSource } from "./merged-source.js";

const auth = (password: string): string => Buffer.from(`user:${password}`).toString("base64");
const json = (auths: Record<string, string>): string =>
  JSON.stringify({ auths: Object.fromEntries(Object.entries(auths).map(([host, pw]) => [host, { auth: auth(pw) }])) });
const authsOf = (source: SourceProvider): Record<string, unknown> | undefined => {
  const bytes = source.current()?.credential.bytes;
  return bytes && (JSON.parse(bytes.toString("utf8")) as { auths: Record<string, unknown> }).auths;
};

/** A child source driven by the test; `start` waits for `settle` when `holdStart` is set. */
class TestChild implements SourceProvider {
  readonly #state: SourceStateMachine;
  readonly secretsRead: { namespace: string; name: string }[];
  starts = 0;
  #release: () => void = () => undefined;
  readonly #held: Promise<void>;

  constructor(
    readonly description: string,
    options: { holdStart?: boolean; secret?: string; throwOnStart?: boolean } = {},
  ) {
    this.#state = new SourceStateMachine(description, silent);
    this.secretsRead = options.secret ? [{ namespace: "ns", name: options.secret }] : [];
    this.#held = options.holdStart ? new Promise((resolve) => (this.#release = resolve)) : Promise.resolve();
    this.throwOnStart = options.throwOnStart ?? false;
  }

  readonly throwOnStart: boolean;

  async start(): Promise<void> {
    this.starts++;
    if (this.throwOnStart) throw new Error("no client");
    await this.#held;
  }
  settle(): void {
    this.#release();
  }
  serve(auths: Record<string, string>, expiresAt?: Date, fetchedAt = new Date()): void {
    this.#state.succeeded(parseDockerConfigJson(json(auths), this.description), fetchedAt, expiresAt);
  }
  fail(error: string): void {
    this.#state.failed(`${this.description}: ${error}`);
  }
  current(): SourceValue | undefined {
    return this.#state.current();
  }
  status(): SourceStatus {
    return this.#state.status();
  }
  onChange(listener: () => void): () => void {
    return this.#state.onChange(listener);
  }
}

interface Logged {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
function recordingLogger(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, fields, message });
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return { logger, lines };
}

async function started(children: TestChild[], logger: Logger = silent) {
  const source = new MergedSource(children, { logger });
  let events = 0;
  source.onChange(() => events++);
  const controller = new AbortController();
  await source.start(controller.signal);
  return { source, events: () => events, stop: () => controller.abort() };
}

describe("MergedSource", () => {
  it("describes its children, reads the union of their Secrets, and needs at least one", () => {
    const a = new TestChild("secret ns/a", { secret: "a" });
    const b = new TestChild("secret ns/b", { secret: "b" });
    const again = new TestChild("secret ns/a again", { secret: "a" });
    const source = new MergedSource([a, b, again]);
    expect(source.description).toBe("merged [secret ns/a, secret ns/b, secret ns/a again]");
    expect(source.secretsRead).toEqual([
      { namespace: "ns", name: "a" },
      { namespace: "ns", name: "b" },
    ]);
    expect(() => new MergedSource([])).toThrow(/at least one source/);
  });

  it("holds the union of the children's auths, the first listed winning a shared host", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b");
    a.serve({ "shared.example": "from-a", "a.example": "pa" });
    b.serve({ "shared.example": "from-b", "b.example": "pb" });
    const { source } = await started([a, b]);
    expect(authsOf(source)).toEqual({
      "shared.example": { auth: auth("from-a") },
      "a.example": { auth: auth("pa") },
      "b.example": { auth: auth("pb") },
    });
    expect(source.status()).toMatchObject({ state: "ready", error: undefined });
  });

  it("warns once per conflict naming the host and both sources, never a credential", async () => {
    const { logger, lines } = recordingLogger();
    const a = new TestChild("secret ns/a");
    const b = new TestChild("secret ns/b");
    a.serve({ "shared.example": "pw-a" });
    b.serve({ "shared.example": "pw-b", "b.example": "pb" });
    await started([a, b], logger);
    const warnings = (): Logged[] => lines.filter((l) => l.level === "warn");
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]?.fields).toMatchObject({
      host: "shared.example",
      kept: "secret ns/a",
      ignored: "secret ns/b",
    });
    b.serve({ "shared.example": "pw-b2", "b.example": "pb" });
    b.fail("unreadable");
    b.serve({ "shared.example": "pw-b2", "b.example": "pb2" });
    a.serve({ "shared.example": "pw-a2" });
    expect(warnings()).toHaveLength(1);
    // Gone, then back: a new change, warned again.
    b.serve({ "b.example": "pb" });
    b.serve({ "shared.example": "pw-b3", "b.example": "pb" });
    expect(warnings()).toHaveLength(2);
    const text = JSON.stringify(lines);
    for (const pw of ["pw-a", "pw-b", "pb"]) expect(text).not.toContain(auth(pw));
    expect(text).not.toMatch(/pw-|"pb/);
  });

  it("keeps a failing child's last good part while the others update, degraded and naming the child", async () => {
    const a = new TestChild("secret ns/a");
    const b = new TestChild("secret ns/b");
    a.serve({ "a.example": "pa" });
    b.serve({ "b.example": "pb" });
    const { source, events } = await started([a, b]);
    const before = events();
    b.fail("not valid JSON");
    expect(source.status()).toMatchObject({ state: "degraded", error: "secret ns/b: not valid JSON" });
    expect(events()).toBe(before + 1);
    a.serve({ "a.example": "pa2" });
    expect(authsOf(source)).toEqual({ "a.example": { auth: auth("pa2") }, "b.example": { auth: auth("pb") } });
    expect(source.status().state).toBe("degraded");
    b.serve({ "b.example": "pb" });
    expect(source.status()).toMatchObject({ state: "ready", error: undefined });
  });

  it("is pending until every child settled its first attempt, then exposes what the children have", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b", { holdStart: true });
    a.serve({ "a.example": "pa" });
    const source = new MergedSource([a, b]);
    let events = 0;
    source.onChange(() => events++);
    const starting = source.start(new AbortController().signal);
    await Promise.resolve();
    a.serve({ "a.example": "pa2" });
    expect(source.current()).toBeUndefined();
    expect(source.status().state).toBe("pending");
    expect(events).toBe(0);
    b.fail("Vault is sealed");
    b.settle();
    await starting;
    expect(authsOf(source)).toEqual({ "a.example": { auth: auth("pa2") } });
    expect(source.status()).toMatchObject({ state: "degraded", error: "b: Vault is sealed" });
    expect(events).toBe(1);
  });

  it("stays pending, with every child's error, while no child has a value", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b", { throwOnStart: true });
    a.fail("403 Forbidden");
    const { source } = await started([a, b]);
    expect(source.current()).toBeUndefined();
    expect(source.status()).toMatchObject({
      state: "pending",
      error: "a: 403 Forbidden; b: failed to start: Error: no client",
    });
    a.serve({ "a.example": "pa" });
    expect(source.status().state).toBe("degraded");
    expect(source.status().error).toBe("b: failed to start: Error: no client");
  });

  it("fires onChange only when the merged bytes, the expiry or the status change", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b");
    a.serve({ "shared.example": "pa" });
    b.serve({ "b.example": "pb" });
    const { source, events } = await started([a, b]);
    const first = source.current()?.credential.hash;
    let before = events();
    a.serve({ "shared.example": "pa" }, undefined, new Date(Date.now() + 1000));
    b.serve({ "shared.example": "shadowed", "b.example": "pb" }); // b's change is hidden by a's entry
    expect(source.current()?.credential.hash).toBe(first);
    expect(events()).toBe(before);
    a.serve({ "shared.example": "pa2" });
    expect(events()).toBe(before + 1);
    before = events();
    const soon = new Date(Date.now() + 60_000);
    b.serve({ "shared.example": "shadowed", "b.example": "pb" }, soon);
    expect(events()).toBe(before + 1);
    expect(source.current()?.expiresAt).toEqual(soon);
    expect(source.status().expiresAt).toEqual(soon);
  });

  it("reports the earliest expiry and the oldest fetch of its parts", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b");
    const now = Date.now();
    a.serve({ "a.example": "pa" }, new Date(now + 7_200_000), new Date(now - 10_000));
    b.serve({ "b.example": "pb" }, new Date(now + 3_600_000), new Date(now));
    const { source } = await started([a, b]);
    expect(source.current()?.expiresAt).toEqual(new Date(now + 3_600_000));
    expect(source.current()?.fetchedAt).toEqual(new Date(now - 10_000));
  });

  it("reads its freshness from the children now: a confirming read moves fetchedAt and lastSuccessAt, silently", async () => {
    const a = new TestChild("a");
    const b = new TestChild("b");
    const start = Date.now() - 60_000;
    a.serve({ "a.example": "pa" }, undefined, new Date(start));
    b.serve({ "b.example": "pb" }, undefined, new Date(start + 1000));
    const { source, events } = await started([a, b]);
    const before = events();
    const value = source.current();
    expect(value?.fetchedAt).toEqual(new Date(start));
    expect(source.status().lastSuccessAt).toEqual(new Date(start));
    // Both confirm their unchanged values; the merge is as fresh as the staler of the two reads.
    a.serve({ "a.example": "pa" }, undefined, new Date(start + 30_000));
    b.serve({ "b.example": "pb" }, undefined, new Date(start + 20_000));
    expect(events()).toBe(before);
    expect(source.current()?.fetchedAt).toEqual(new Date(start + 20_000));
    expect(source.current()?.credential).toBe(value?.credential);
    expect(source.status().lastSuccessAt).toEqual(new Date(start + 20_000));
    // A failing child stops confirming: its last read is what counts.
    b.fail("unreachable");
    a.serve({ "a.example": "pa" }, undefined, new Date(start + 50_000));
    expect(source.current()?.fetchedAt).toEqual(new Date(start + 20_000));
  });

  it("starts every child once, never after abort, and is silent once stopped", async () => {
    const a = new TestChild("a");
    const aborted = new AbortController();
    aborted.abort();
    const idle = new MergedSource([a]);
    await idle.start(aborted.signal);
    expect(a.starts).toBe(0);
    await expect(idle.start(new AbortController().signal)).rejects.toThrow(/already started/);

    const b = new TestChild("b");
    b.serve({ "b.example": "pb" });
    const run = await started([b]);
    expect(b.starts).toBe(1);
    const before = run.events();
    run.stop();
    b.serve({ "b.example": "pb2" });
    expect(run.events()).toBe(before);
    expect(authsOf(run.source)).toEqual({ "b.example": { auth: auth("pb") } });
  });
});
