import { randomBytes } from "node:crypto";
import { parseDockerConfigJson, sha256 } from "../credentials/docker-config.js";
import type { SourceProvider, SourceStatus } from "../plugins/contracts.js";
import { check, show, violation } from "./assert.js";
import { resolveTestApi, type TestApi } from "./runner.js";
import { SAMPLE_USER, sampleDockerConfigJson } from "./samples.js";

/** What `serve` may attach to a value. */
export interface ServeOptions {
  /** When the value stops working; the source must report it as `expiresAt`. */
  readonly expiresAt?: Date | undefined;
}

/**
 * Lets the contract tests drive a source's backend. Built fresh for every check by the factory
 * given to {@link describeSourceProviderContract}; the source must not be started yet.
 *
 * `serve(secret)` names a credential by its password: a backend that stores `.dockerconfigjson`
 * documents serves {@link sampleDockerConfigJson}(secret); a backend that hands out tokens serves
 * `secret` as the token and says what the source builds from it in {@link credentialFor}.
 */
export interface SourceHarness {
  /** The source under test, not started, reading from the backend this harness controls. */
  readonly source: SourceProvider;
  /** From now on the backend answers with the credential for `secret`. */
  serve(secret: string, options?: ServeOptions): void | Promise<void>;
  /** From now on the backend fails (outage, HTTP 500, missing file…). */
  fail(): void | Promise<void>;
  /** From now on the backend answers with something the source must refuse (not a usable credential). */
  serveInvalid(): void | Promise<void>;
  /**
   * Makes the source try once more and resolves when that attempt has settled: advance a manual
   * clock, call `refreshNow()`, or wait long enough for a poll.
   */
  refresh(): Promise<void>;
  /**
   * Lets more time pass than any refresh or retry delay (advance a manual clock by hours). Used to
   * show that nothing runs after stop. Defaults to {@link refresh}.
   */
  elapse?(): Promise<void>;
  /** The exact `.dockerconfigjson` the source must expose for `serve(secret)`. Default: {@link sampleDockerConfigJson}. */
  credentialFor?(secret: string): string | Uint8Array;
  /** Now, in ms since the epoch, as the source sees it (a manual clock). Default `Date.now()`. */
  now?(): number;
  /** Timers or other scheduled work the source holds; must be 0 once stopped. */
  pendingTimers?(): number;
  /** How often the backend was read so far; must not grow once stopped. */
  backendReads?(): number;
  /** Releases what the harness holds (servers, temporary files). Called after every check. */
  close?(): void | Promise<void>;
}

/** Makes a fresh source and the backend the contract suite drives. */
export type SourceHarnessFactory = () => SourceHarness | Promise<SourceHarness>;

/** Options of the source provider contract suite. */
export interface SourceContractOptions {
  /** The backend reports expiry and the source must pass it on as `expiresAt`: runs the expiry check. */
  readonly expiry?: boolean | undefined;
  /** How far a reported `expiresAt` may be from the served one (sources that get a relative `expires_in`). Default 1 000 ms. */
  readonly expiryToleranceMs?: number | undefined;
  /** Runner functions; default vitest (see {@link TestApi}). */
  readonly testApi?: TestApi | undefined;
  /** Per-test timeout when the kit found the runner itself (vitest, globals). Default 30 s. */
  readonly timeoutMs?: number | undefined;
}

/** One rule of a contract, runnable on its own (that is how the kit's own tests run them). */
export interface ContractCheck {
  readonly name: string;
  run(): Promise<void>;
}

interface Session {
  readonly harness: SourceHarness;
  readonly source: SourceProvider;
  readonly controller: AbortController;
  /** onChange calls seen so far (a listener registered before start). */
  events(): number;
  start(): Promise<void>;
  /** Passwords made up for this session, labelled A, B, C in messages. */
  readonly secret: { readonly A: string; readonly B: string; readonly C: string };
}

function made(label: string): string {
  return `contract-${randomBytes(6).toString("hex")}-${label}`;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

async function inSession(make: SourceHarnessFactory, body: (s: Session) => Promise<void>): Promise<void> {
  const harness = await make();
  check(harness && typeof harness === "object" && harness.source, "the harness factory returned no { source }");
  const controller = new AbortController();
  let count = 0;
  const off = harness.source.onChange(() => count++);
  check(typeof off === "function", "onChange() must return a function that removes the listener");
  const session: Session = {
    harness,
    source: harness.source,
    controller,
    events: () => count,
    start: () => harness.source.start(controller.signal),
    secret: { A: made("A"), B: made("B"), C: made("C") },
  };
  try {
    await body(session);
  } finally {
    off();
    controller.abort();
    await settle();
    await harness.close?.();
  }
}

function bytesOf(value: string | Uint8Array): Buffer {
  return typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
}

function labelOf(s: Session, secret: string): string {
  const entry = Object.entries(s.secret).find(([, v]) => v === secret);
  return entry ? entry[0] : "?";
}

/** current() holds exactly the credential for `secret`, and it passes validation. */
function expectValue(s: Session, secret: string, when: string): void {
  const value = s.source.current();
  const label = labelOf(s, secret);
  check(value !== undefined, `${when}: current() is undefined; expected the credential served as ${label}`);
  const bytes = value.credential?.bytes;
  check(bytes instanceof Uint8Array, `${when}: current().credential.bytes is not a Buffer/Uint8Array`);
  let validated;
  try {
    validated = parseDockerConfigJson(bytes, "contract check");
  } catch (err) {
    violation(`${when}: current() exposes a value that does not pass parseDockerConfigJson (${(err as Error).message})`);
  }
  const expected = sha256(bytesOf(s.harness.credentialFor?.(secret) ?? sampleDockerConfigJson(secret)));
  const actual = sha256(bytes);
  if (actual !== expected) {
    const other = Object.entries(s.secret).find(
      ([, v]) => sha256(bytesOf(s.harness.credentialFor?.(v) ?? sampleDockerConfigJson(v))) === actual,
    );
    violation(`${when}: current() holds ${other ? `the credential served as ${other[0]}` : `unexpected bytes (${actual})`}; expected the one served as ${label}`);
  }
  check(value.credential.hash === actual, `${when}: credential.hash ${show(value.credential.hash)} is not the sha256 of its bytes (${actual})`);
  check(
    Array.isArray(value.credential.registries) && value.credential.registries.join(",") === validated.registries.join(","),
    `${when}: credential.registries ${show(value.credential.registries)} do not list the registries in the value (${show(validated.registries)})`,
  );
  check(value.fetchedAt instanceof Date && !Number.isNaN(value.fetchedAt.getTime()), `${when}: fetchedAt must be a valid Date, got ${show(value.fetchedAt)}`);
}

function expectState(s: Session, state: SourceStatus["state"], when: string): SourceStatus {
  const status = s.source.status();
  check(status && typeof status === "object", `${when}: status() returned ${show(status)}`);
  check(status.state === state, `${when}: status().state is ${show(status.state)}, expected "${state}"${status.error ? ` (error: ${status.error})` : ""}`);
  if (state === "ready") {
    check(status.error === undefined, `${when}: a ready source must clear its error, got ${show(status.error)}`);
  } else {
    check(typeof status.error === "string" && status.error.trim() !== "", `${when}: a ${state} source must explain why in status().error, got ${show(status.error)}`);
  }
  if (status.lastSuccessAt !== undefined) {
    check(status.lastSuccessAt instanceof Date && !Number.isNaN(status.lastSuccessAt.getTime()), `${when}: lastSuccessAt must be a valid Date`);
  }
  expectNoSecrets(s, when);
  return status;
}

/** Neither the description nor the status may contain a password or its base64 auth value. */
function expectNoSecrets(s: Session, when: string): void {
  const text = `${s.source.description}\n${JSON.stringify(s.source.status())}`;
  for (const [label, secret] of Object.entries(s.secret)) {
    const auth = Buffer.from(`${SAMPLE_USER}:${secret}`).toString("base64");
    check(!text.includes(secret) && !text.includes(auth), `${when}: description or status() contains the secret served as ${label}`);
  }
}

function expectNoEvent(s: Session, before: number, when: string): void {
  check(s.events() === before, `${when}: onChange fired ${s.events() - before} time(s); nothing changed, so it must not fire`);
}

function expectEvent(s: Session, before: number, when: string): void {
  check(s.events() > before, `${when}: onChange did not fire`);
}

function closeTo(actual: Date | undefined, expected: Date, toleranceMs: number): boolean {
  return actual instanceof Date && Math.abs(actual.getTime() - expected.getTime()) <= toleranceMs;
}

/**
 * The rules of {@link SourceProvider} as runnable checks. {@link describeSourceProviderContract}
 * registers them with a test runner; call this directly to run them another way.
 */
export function sourceProviderChecks(makeHarness: SourceHarnessFactory, options: SourceContractOptions = {}): ContractCheck[] {
  const tolerance = options.expiryToleranceMs ?? 1_000;
  const checks: ContractCheck[] = [
    {
      name: "has a non-empty description without secrets",
      run: () =>
        inSession(makeHarness, async (s) => {
          check(typeof s.source.description === "string" && s.source.description.trim() !== "", `description must be a non-empty string, got ${show(s.source.description)}`);
          await s.harness.serve(s.secret.A);
          await s.start();
          expectNoSecrets(s, "after start");
        }),
    },
    {
      name: "start() resolves once the first attempt has settled, with the served value",
      run: () =>
        inSession(makeHarness, async (s) => {
          check(s.source.current() === undefined, "before start: current() must be undefined");
          check(s.source.status().state === "pending", `before start: status().state must be "pending", got ${show(s.source.status().state)}`);
          await s.harness.serve(s.secret.A);
          await s.start();
          expectValue(s, s.secret.A, "right after start()");
          expectState(s, "ready", "right after start()");
        }),
    },
    {
      name: "start() resolves after a failed first attempt: pending, with an error",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.fail();
          await s.start();
          check(s.source.current() === undefined, "after a failed first attempt: current() must stay undefined");
          expectState(s, "pending", "after a failed first attempt");
          await s.harness.serve(s.secret.A);
          await s.harness.refresh();
          expectValue(s, s.secret.A, "after the backend recovered");
          expectState(s, "ready", "after the backend recovered");
        }),
    },
    {
      name: "exposes only validated values: an invalid first value leaves it pending",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serveInvalid();
          await s.start();
          check(s.source.current() === undefined, "after an invalid first value: current() must stay undefined");
          expectState(s, "pending", "after an invalid first value");
          await s.harness.serve(s.secret.A);
          await s.harness.refresh();
          expectValue(s, s.secret.A, "after a valid value followed");
          expectState(s, "ready", "after a valid value followed");
        }),
    },
    {
      name: "fires onChange when the value changes, not on an identical refresh",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serve(s.secret.A);
          await s.start();
          check(s.events() >= 1, "the first value (pending → ready) did not fire onChange");
          let before = s.events();
          const first = s.source.current();
          await s.harness.refresh();
          expectValue(s, s.secret.A, "after an identical refresh");
          expectNoEvent(s, before, "identical refresh");
          check(s.source.current()?.credential.hash === first?.credential.hash, "an identical refresh changed the hash");
          await s.harness.serve(s.secret.B);
          await s.harness.refresh();
          expectValue(s, s.secret.B, "after the backend changed");
          expectEvent(s, before, "after the backend changed from A to B");
          // A removed listener hears nothing; the others still do.
          let removed = 0;
          const off = s.source.onChange(() => removed++);
          off();
          before = s.events();
          await s.harness.serve(s.secret.C);
          await s.harness.refresh();
          expectValue(s, s.secret.C, "after the backend changed again");
          expectEvent(s, before, "after the backend changed from B to C");
          check(removed === 0, "a listener was called after the function onChange() returned had removed it");
        }),
    },
    {
      name: "keeps the last good value while the backend fails (degraded), then recovers to ready",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serve(s.secret.A);
          await s.start();
          let before = s.events();
          await s.harness.fail();
          await s.harness.refresh();
          expectValue(s, s.secret.A, "while the backend fails");
          expectState(s, "degraded", "while the backend fails");
          expectEvent(s, before, "ready → degraded");
          before = s.events();
          await s.harness.refresh();
          expectValue(s, s.secret.A, "while the backend keeps failing");
          expectState(s, "degraded", "while the backend keeps failing");
          expectNoEvent(s, before, "a second identical failure");
          await s.harness.serve(s.secret.A);
          await s.harness.refresh();
          expectValue(s, s.secret.A, "after the backend recovered");
          expectState(s, "ready", "after the backend recovered");
          expectEvent(s, before, "degraded → ready");
        }),
    },
    {
      name: "never replaces a good value with an invalid one",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serve(s.secret.A);
          await s.start();
          const before = s.events();
          await s.harness.serveInvalid();
          await s.harness.refresh();
          expectValue(s, s.secret.A, "after an invalid value");
          expectState(s, "degraded", "after an invalid value");
          expectEvent(s, before, "ready → degraded (invalid value)");
          await s.harness.serve(s.secret.B);
          await s.harness.refresh();
          expectValue(s, s.secret.B, "after a valid value followed");
          expectState(s, "ready", "after a valid value followed");
        }),
    },
    {
      name: "stops when the signal aborts: no more reads, events or timers",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serve(s.secret.A);
          await s.start();
          const reads = s.harness.backendReads?.();
          const before = s.events();
          s.controller.abort();
          await settle();
          await s.harness.serve(s.secret.B);
          await (s.harness.elapse ?? s.harness.refresh).call(s.harness);
          await settle();
          expectValue(s, s.secret.A, "after stop");
          expectNoEvent(s, before, "after stop");
          if (reads !== undefined) {
            const now = s.harness.backendReads?.() ?? reads;
            check(now === reads, `after stop: the backend was read ${now - reads} more time(s)`);
          }
          const timers = s.harness.pendingTimers?.();
          check(timers === undefined || timers === 0, () => `after stop: ${timers} timer(s) still pending`);
        }),
    },
    {
      name: "does nothing when started with an already aborted signal",
      run: () =>
        inSession(makeHarness, async (s) => {
          await s.harness.serve(s.secret.A);
          s.controller.abort();
          await s.start();
          await (s.harness.elapse ?? s.harness.refresh).call(s.harness);
          await settle();
          check(s.source.current() === undefined, "started with an aborted signal: current() must stay undefined");
          check(s.events() === 0, "started with an aborted signal: onChange fired");
          const reads = s.harness.backendReads?.();
          check(reads === undefined || reads === 0, () => `started with an aborted signal: the backend was read ${reads} time(s)`);
          const timers = s.harness.pendingTimers?.();
          check(timers === undefined || timers === 0, () => `started with an aborted signal: ${timers} timer(s) pending`);
        }),
    },
  ];
  if (options.expiry) {
    checks.push({
      name: "reports expiresAt, in current() and status(), and keeps it with the last good value",
      run: () =>
        inSession(makeHarness, async (s) => {
          const now = s.harness.now?.() ?? Date.now();
          const first = new Date(now + 3_600_000);
          await s.harness.serve(s.secret.A, { expiresAt: first });
          await s.start();
          expectValue(s, s.secret.A, "after start");
          const reported = s.source.current()?.expiresAt;
          check(closeTo(reported, first, tolerance), `current().expiresAt is ${show(reported)}, expected ${first.toISOString()} (± ${tolerance} ms)`);
          check(
            s.source.status().expiresAt?.getTime() === reported?.getTime(),
            `status().expiresAt (${show(s.source.status().expiresAt)}) differs from current().expiresAt (${show(reported)})`,
          );
          const before = s.events();
          const second = new Date(now + 7_200_000);
          await s.harness.serve(s.secret.A, { expiresAt: second });
          await s.harness.refresh();
          const renewed = s.source.current()?.expiresAt;
          check(closeTo(renewed, second, tolerance), `after a refresh with a later expiry: current().expiresAt is ${show(renewed)}, expected ${second.toISOString()}`);
          expectEvent(s, before, "after only the expiry changed");
          await s.harness.fail();
          await s.harness.refresh();
          expectState(s, "degraded", "while the backend fails");
          check(
            closeTo(s.source.status().expiresAt, second, tolerance),
            `while degraded: status().expiresAt must still be the kept value's expiry, got ${show(s.source.status().expiresAt)}`,
          );
        }),
    });
  }
  return checks;
}

/**
 * Registers the {@link SourceProvider} contract as a `describe` block of tests:
 *
 * ```ts
 * describeSourceProviderContract("my source", async () => {
 *   const backend = await startFakeBackend();
 *   return {
 *     source: new MySource({ url: backend.url }),
 *     serve: (secret) => backend.set(sampleDockerConfigJson(secret)),
 *     fail: () => backend.set(500),
 *     serveInvalid: () => backend.set("not json"),
 *     refresh: () => source.refreshNow(),
 *     close: () => backend.close(),
 *   };
 * });
 * ```
 */
export function describeSourceProviderContract(name: string, makeHarness: SourceHarnessFactory, options: SourceContractOptions = {}): void {
  const api = resolveTestApi(options.testApi, options.timeoutMs);
  api.describe(`${name}: SourceProvider contract`, () => {
    for (const c of sourceProviderChecks(makeHarness, options)) api.it(c.name, () => c.run());
  });
}

