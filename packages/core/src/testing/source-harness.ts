// What a source plugin's tests hand the contract suite: the source and a way to drive its backend.
import type { SourceProvider } from "../plugins/contracts.js";
import type { TestApi } from "./runner.js";

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
