import { errorCode } from "../util/errors.js";

/** A per-registry outcome, thrown from deep inside a probe to end it. Its text holds no secret. */
export class ProbeProblem extends Error {
  constructor(
    readonly problem: string,
    readonly status?: number,
  ) {
    super(problem);
  }
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** The problem for a status that is neither success nor a challenge the probe can answer. */
export function unexpected(status: number, who: string): ProbeProblem {
  if (status === 401 || status === 403) return new ProbeProblem("credentials rejected", status);
  if (status === 404) return new ProbeProblem(`${who} answered HTTP 404: not a registry v2 API`, status);
  if (status === 429) return new ProbeProblem(`${who} is rate limiting (HTTP 429)`, status);
  return new ProbeProblem(`${who} answered HTTP ${status}`, status);
}

/** A problem and status for whatever ended a probe, naming error codes and never error messages. */
export function describeFailure(
  err: unknown,
  signal: AbortSignal,
  timeoutMs: number,
): { problem: string; status?: number } {
  if (err instanceof ProbeProblem) {
    return err.status === undefined ? { problem: err.problem } : { problem: err.problem, status: err.status };
  }
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const timedOut = reason instanceof Error && reason.name === "TimeoutError";
    return { problem: timedOut ? `timed out after ${timeoutMs} ms` : "aborted" };
  }
  const code = errorCode(err);
  // Messages can quote URLs and server text; the code says enough (ECONNREFUSED, CERT_HAS_EXPIRED...).
  return {
    problem: code ? `request failed: ${code}` : `request failed: ${err instanceof Error ? err.name : typeof err}`,
  };
}
