import { check, show } from "./assert.js";
import { resolveTestApi, type ContractCheck } from "./runner.js";
import type { SourceContractOptions, SourceHarnessFactory } from "./source-harness.js";
import {
  closeTo,
  expectEvent,
  expectNoEvent,
  expectNoSecrets,
  expectState,
  expectValue,
  inSession,
  settle,
} from "./source-session.js";

export { type ContractCheck } from "./runner.js";
export {
  type ServeOptions,
  type SourceContractOptions,
  type SourceHarness,
  type SourceHarnessFactory,
} from "./source-harness.js";

/**
 * The rules of {@link SourceProvider} as runnable checks. {@link describeSourceProviderContract}
 * registers them with a test runner; call this directly to run them another way.
 */
export function sourceProviderChecks(
  makeHarness: SourceHarnessFactory,
  options: SourceContractOptions = {},
): ContractCheck[] {
  const tolerance = options.expiryToleranceMs ?? 1_000;
  const checks: ContractCheck[] = [
    {
      name: "has a non-empty description without secrets",
      run: () =>
        inSession(makeHarness, async (s) => {
          check(
            typeof s.source.description === "string" && s.source.description.trim() !== "",
            `description must be a non-empty string, got ${show(s.source.description)}`,
          );
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
          check(
            s.source.status().state === "pending",
            `before start: status().state must be "pending", got ${show(s.source.status().state)}`,
          );
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
          check(
            s.source.current()?.credential.hash === first?.credential.hash,
            "an identical refresh changed the hash",
          );
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
          check(
            reads === undefined || reads === 0,
            () => `started with an aborted signal: the backend was read ${reads} time(s)`,
          );
          const timers = s.harness.pendingTimers?.();
          check(
            timers === undefined || timers === 0,
            () => `started with an aborted signal: ${timers} timer(s) pending`,
          );
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
          check(
            closeTo(reported, first, tolerance),
            `current().expiresAt is ${show(reported)}, expected ${first.toISOString()} (± ${tolerance} ms)`,
          );
          check(
            s.source.status().expiresAt?.getTime() === reported?.getTime(),
            `status().expiresAt (${show(s.source.status().expiresAt)}) differs from current().expiresAt (${show(reported)})`,
          );
          const before = s.events();
          const second = new Date(now + 7_200_000);
          await s.harness.serve(s.secret.A, { expiresAt: second });
          await s.harness.refresh();
          const renewed = s.source.current()?.expiresAt;
          check(
            closeTo(renewed, second, tolerance),
            `after a refresh with a later expiry: current().expiresAt is ${show(renewed)}, expected ${second.toISOString()}`,
          );
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
export function describeSourceProviderContract(
  name: string,
  makeHarness: SourceHarnessFactory,
  options: SourceContractOptions = {},
): void {
  const api = resolveTestApi(options.testApi, options.timeoutMs);
  api.describe(`${name}: SourceProvider contract`, () => {
    for (const c of sourceProviderChecks(makeHarness, options)) api.it(c.name, () => c.run());
  });
}
