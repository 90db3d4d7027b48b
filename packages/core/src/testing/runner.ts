/**
 * The few test-runner functions the contract kit needs. vitest provides them, and so do
 * `node:test`, Jest and Mocha: pass `{ describe, it }` from any of them as `testApi`.
 */
export interface TestApi {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => Promise<void>): unknown;
}

/** `it` of runners whose third argument is a timeout (vitest, Jest). */
type TimedIt = (name: string, body: () => Promise<void>, timeoutMs?: number) => unknown;

/**
 * vitest, if it can be loaded. The import is dynamic and guarded so that importing
 * `@imagepullsecret-patcher/core/testing` never fails for lack of vitest (vitest is an optional
 * peer dependency): the `*Checks` functions work without any runner.
 */
let vitestApi: { describe: TestApi["describe"]; it: TimedIt } | undefined;
try {
  const vitest = (await import("vitest")) as unknown as Partial<{ describe: TestApi["describe"]; it: TimedIt }>;
  if (typeof vitest.describe === "function" && typeof vitest.it === "function") {
    vitestApi = { describe: vitest.describe, it: vitest.it };
  }
} catch {
  vitestApi = undefined;
}

/** Default per-test timeout of the contract tests: generous, they bound hangs on a busy machine. */
export const DEFAULT_CONTRACT_TIMEOUT_MS = 30_000;

/**
 * `explicit`, else vitest, else runner globals (`describe`/`it`, e.g. vitest with `globals: true`,
 * Jest, Mocha). `timeoutMs` is passed to vitest's and the globals' `it(name, fn, timeout)`; an
 * explicit `testApi` gets `it(name, fn)` only, since runners disagree on the third argument.
 */
export function resolveTestApi(
  explicit: TestApi | undefined,
  timeoutMs: number = DEFAULT_CONTRACT_TIMEOUT_MS,
): TestApi {
  if (explicit) return explicit;
  const timed = (api: { describe: TestApi["describe"]; it: TimedIt }): TestApi => ({
    describe: api.describe,
    it: (name, body) => api.it(name, body, timeoutMs),
  });
  if (vitestApi) return timed(vitestApi);
  const globals = globalThis as unknown as Partial<{ describe: TestApi["describe"]; it: TimedIt }>;
  if (typeof globals.describe === "function" && typeof globals.it === "function") {
    return timed({ describe: globals.describe.bind(globalThis), it: globals.it.bind(globalThis) });
  }
  throw new Error(
    "@imagepullsecret-patcher/core/testing: no test runner found. Install vitest (an optional peer dependency), " +
      "or pass { testApi: { describe, it } } from your runner (node:test works), or call the check* functions yourself.",
  );
}

/** One rule of a contract, runnable on its own (that is how the kit's own tests run them). */
export interface ContractCheck {
  readonly name: string;
  run(): Promise<void>;
}
