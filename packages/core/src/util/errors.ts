import { ApiException } from "@kubernetes/client-node";

const MAX_ERROR_LENGTH = 300;

/**
 * Masks strings that look like secrets: JWTs, Vault tokens, and long base64, hex or UUID-like runs
 * (registry auth values, AppRole secret IDs). A safety net, not a licence to put secrets in errors.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "[redacted]")
    .replace(/\bhv[sbr]\.[A-Za-z0-9_.-]+/g, "[redacted]")
    .replace(/\b[sbr]\.[A-Za-z0-9]{20,}/g, "[redacted]")
    .replace(/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g, "[redacted]")
    .replace(/[A-Za-z0-9+/]{20,}={0,2}/g, (run) => (looksRandom(run) ? "[redacted]" : run));
}

/** Base64 or hex noise, as opposed to a path or a word: mixed case with digits, or long hex. */
function looksRandom(run: string): boolean {
  if (/^[0-9a-f]{32,}$/i.test(run)) return true;
  return /[0-9]/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run);
}

/** One line, at most 300 characters. */
export function clip(text: string, max = MAX_ERROR_LENGTH): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** The system error code (`ECONNREFUSED`, `ENOENT`, ...) of an error or of one of its causes. */
export function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

interface StatusBody {
  reason?: unknown;
  message?: unknown;
}

/** The Kubernetes `Status` in an ApiException's body, if it holds one. */
export function statusBody(body: unknown): { reason?: string; message?: string } | undefined {
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined; // not JSON: leave it out (a proxy's HTML page could hold anything)
    }
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { reason, message } = parsed as StatusBody;
  return {
    ...(typeof reason === "string" ? { reason } : {}),
    ...(typeof message === "string" ? { message } : {}),
  };
}

/**
 * A short, redacted, one-line description of anything thrown, for logs and status:
 * - an API error: `HTTP 409 Conflict: <the server's message>`, never the request body;
 * - a network error: its name, message and system code (`ECONNREFUSED`);
 * - a timeout or abort: said so;
 * - anything else: its type.
 */
export function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const status = statusBody((err as ApiException<unknown>).body);
    const reason = status?.reason ? ` ${status.reason}` : "";
    const message = status?.message ? `: ${status.message}` : "";
    return clip(redactSecrets(`HTTP ${err.code}${reason}${message}`));
  }
  if (err instanceof Error) {
    if (err.name === "TimeoutError") return "timed out";
    if (err.name === "AbortError") return "aborted";
    const code = errorCode(err);
    const cause = err.cause instanceof Error && err.cause.message !== err.message ? `: ${err.cause.message}` : "";
    const suffix = code && !`${err.message}${cause}`.includes(code) ? ` (${code})` : "";
    return clip(redactSecrets(`${err.name}: ${err.message}${cause}${suffix}`));
  }
  return `failed with a non-error value (${typeof err})`;
}

/** The HTTP status of an API error, if it carries one. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof statusCode === "number" ? statusCode : undefined;
}
