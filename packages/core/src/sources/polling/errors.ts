import { InvalidCredentialError } from "../../credentials/docker-config.js";

/**
 * An error whose message a source author wrote to be shown as is: it names the problem and holds
 * no credential, token or secret data. The polling base prefixes it with the source's description.
 * Other errors are summarised more cautiously (see {@link describeSourceError}).
 */
export class SourceFetchError extends Error {
  override readonly name: string = "SourceFetchError";
  constructor(
    message: string,
    /** `true` when retrying may help (outage, timeout); `false` for a problem that needs a fix. */
    readonly transient = true,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

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

function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function clip(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_ERROR_LENGTH ? `${oneLine.slice(0, MAX_ERROR_LENGTH - 1)}…` : oneLine;
}

/**
 * Turns whatever a fetch threw into `"<description>: <problem>"`, safe for logs and status:
 * - {@link InvalidCredentialError}: its own message (it names the origin and the reason only);
 * - {@link SourceFetchError}: the author's message;
 * - network errors: the system error code (`ECONNREFUSED`, ...);
 * - anything else: the error's name and redacted message.
 */
export function describeSourceError(description: string, err: unknown): string {
  if (err instanceof InvalidCredentialError) {
    const text = err.origin === description ? err.message : `${description}: ${err.message}`;
    return clip(redactSecrets(text));
  }
  let problem: string;
  if (err instanceof SourceFetchError) {
    problem = err.message;
  } else if (err instanceof Error) {
    const code = errorCode(err);
    if (err.name === "TimeoutError") problem = "timed out";
    else if (err.name === "AbortError") problem = "aborted";
    else if (err instanceof TypeError && err.message === "fetch failed") problem = `request failed${code ? ` (${code})` : ""}`;
    else problem = `${err.name}: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ""}`;
  } else {
    problem = `failed with a non-error value (${typeof err})`;
  }
  return clip(redactSecrets(`${description}: ${problem}`));
}
