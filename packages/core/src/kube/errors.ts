import { ApiException } from "@kubernetes/client-node";
import { describeError, httpStatus } from "../util/errors.js";

/**
 * How the engine treats a failed API call:
 * - `not-found`: the object is gone (404);
 * - `conflict`: a precondition or resourceVersion did not hold (409), so re-read and retry soon;
 * - `gone`: the watch's resourceVersion is too old (410), so relist;
 * - `throttled`: 429, or the server is overloaded; honour `retryAfterMs`;
 * - `retryable`: 5xx, network and timeout errors; back off and retry;
 * - `terminal`: 400/401/403/422 and the like: retrying the same request cannot help.
 */
export type ApiErrorKind = "not-found" | "conflict" | "gone" | "throttled" | "retryable" | "terminal";

/** An API error reduced to what the engine needs to decide: kind, status, Retry-After and a redacted message. */
export interface ClassifiedError {
  kind: ApiErrorKind;
  status?: number | undefined;
  /** From the Retry-After header, when the server sent one. */
  retryAfterMs?: number | undefined;
  /** Short, redacted description: status, reason and the server's message, never request bodies. */
  message: string;
}

function retryAfter(headers: Record<string, string> | undefined): number | undefined {
  const value = headers?.["retry-after"] ?? headers?.["Retry-After"];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function kindOf(status: number | undefined): ApiErrorKind {
  if (status === undefined) return "retryable";
  if (status === 404) return "not-found";
  if (status === 409) return "conflict";
  if (status === 410) return "gone";
  if (status === 429) return "throttled";
  if (status >= 500 || status === 408) return "retryable";
  return "terminal";
}

/** Classifies any error thrown by client-node calls or watches. */
export function classifyApiError(err: unknown): ClassifiedError {
  const status = httpStatus(err);
  if (err instanceof ApiException) {
    return { kind: kindOf(status), status, retryAfterMs: retryAfter(err.headers), message: describeError(err) };
  }
  if (status !== undefined) return { kind: kindOf(status), status, message: `HTTP ${status}` };
  return { kind: "retryable", message: describeError(err) };
}
