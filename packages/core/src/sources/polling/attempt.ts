import { parseDockerConfigJson, type DockerConfigJson } from "../../credentials/docker-config.js";
import type { Clock } from "../../util/clock.js";
import { SourceFetchError, describeSourceError } from "./errors.js";

/** What one fetch produced: the candidate `.dockerconfigjson` and, for short-lived ones, its expiry. */
export interface PolledValue {
  readonly bytes: Uint8Array | string;
  readonly expiresAt?: Date | undefined;
}

/**
 * Reads the backend once. Must honour `signal` (it aborts on stop and on the attempt timeout).
 * Throw {@link SourceFetchError} with a secret-free message for problems worth showing as they are.
 */
export type PollFetch = (signal: AbortSignal) => Promise<PolledValue>;

/** A validated value, or the redacted reason there is none. */
export type AttemptOutcome =
  | { readonly ok: true; readonly credential: DockerConfigJson; readonly expiresAt: Date | undefined }
  | { readonly ok: false; readonly error: string };

/** One fetch, bounded in time and validated. */
export interface Attempt {
  readonly description: string;
  readonly fetch: PollFetch;
  readonly clock: Clock;
  readonly timeoutMs: number;
  /** The source's lifetime: aborting it aborts the fetch. */
  readonly signal: AbortSignal;
}

class AttemptTimeoutError extends SourceFetchError {
  override readonly name = "AttemptTimeoutError";
}

/**
 * Runs `fetch` once: aborts it when the source stops or after `timeoutMs` (even if the fetch ignores
 * its signal), then validates the value with {@link parseDockerConfigJson} and checks its expiry.
 * Never throws: every failure comes back as a redacted error string.
 */
export async function runAttempt(attempt: Attempt): Promise<AttemptOutcome> {
  const { signal: outer, clock, timeoutMs } = attempt;
  const controller = new AbortController();
  const onStop = (): void => controller.abort(outer.reason);
  outer.addEventListener("abort", onStop, { once: true });
  const timeout = clock.setTimeout(
    () => controller.abort(new AttemptTimeoutError(`no answer within ${Math.round(timeoutMs / 1000)} s`)),
    timeoutMs,
  );
  try {
    const polled = await raceAbort(
      Promise.resolve().then(() => attempt.fetch(controller.signal)),
      controller.signal,
    );
    return validate(polled, attempt);
  } catch (err) {
    return { ok: false, error: describeSourceError(attempt.description, err) };
  } finally {
    clock.clearTimeout(timeout);
    outer.removeEventListener("abort", onStop);
  }
}

function validate(polled: PolledValue | null | undefined, attempt: Attempt): AttemptOutcome {
  if (polled === null || typeof polled !== "object") throw new SourceFetchError("fetch returned no value", false);
  const credential = parseDockerConfigJson(polled.bytes, attempt.description);
  const expiresAt = polled.expiresAt;
  if (expiresAt === undefined) return { ok: true, credential, expiresAt: undefined };
  if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
    throw new SourceFetchError("the value came with an invalid expiry time", false);
  }
  if (expiresAt.getTime() <= attempt.clock.now()) {
    throw new SourceFetchError(`the value had already expired (at ${expiresAt.toISOString()})`, false);
  }
  return { ok: true, credential, expiresAt: new Date(expiresAt.getTime()) };
}

/** Rejects when `signal` aborts, even if `promise` ignores it. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        // Pass through whatever the fetch threw; describeSourceError copes with non-errors.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(err);
      },
    );
  });
}
