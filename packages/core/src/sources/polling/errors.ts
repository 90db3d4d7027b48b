import { InvalidCredentialError } from "../../credentials/docker-config.js";
import { clip, errorCode, redactSecrets } from "../../util/errors.js";

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
  return clip(redactSecrets(`${description}: ${problemOf(err)}`));
}

function problemOf(err: unknown): string {
  if (err instanceof SourceFetchError) return err.message;
  if (!(err instanceof Error)) return `failed with a non-error value (${typeof err})`;
  if (err.name === "TimeoutError") return "timed out";
  if (err.name === "AbortError") return "aborted";
  const code = errorCode(err);
  if (err instanceof TypeError && err.message === "fetch failed") return `request failed${code ? ` (${code})` : ""}`;
  return `${err.name}: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ""}`;
}
