// Library errors can quote response bodies; these helpers keep tokens out of what this source reports.
// Core's describeSourceError masks JWT-, base64- and GUID-like runs on top of this.

const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** `text` with every known secret value and anything shaped like a JWT replaced by `[redacted]`. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join("[redacted]");
  return out.replace(JWT, "[redacted]");
}

/** Names of `@azure/identity` and MSAL errors whose message says what went wrong in words worth showing. */
const KNOWN_ERRORS = new Set([
  "CredentialUnavailableError",
  "AuthenticationError",
  "AggregateAuthenticationError",
  "AuthenticationRequiredError",
  "ClientAuthError",
  "ClientConfigurationError",
  "ServerError",
  "AuthError",
  "RestError",
]);

/**
 * One short line for an error thrown while getting the Entra token: the error's name and the first
 * line of its message with secrets removed, or only the name for errors this source does not know.
 */
export function describeIdentityError(err: unknown, secrets: readonly string[]): string {
  if (!(err instanceof Error)) return "failed";
  if (err.name === "AbortError") return "aborted";
  const status = (err as { statusCode?: unknown }).statusCode;
  const http = typeof status === "number" ? ` (HTTP ${status})` : "";
  if (!KNOWN_ERRORS.has(err.name)) return `${err.name}${http}`;
  const firstLine = (err.message.split("\n").find((line) => line.trim() !== "") ?? "").trim();
  return `${err.name}${http}: ${withoutSecrets(firstLine, secrets).slice(0, 240)}${hint(firstLine)}`;
}

// MSAL found no endpoints for the authority: its words name the error code only.
function hint(message: string): string {
  return message.includes("endpoints_resolution_error")
    ? " (no OpenID metadata for the tenant at the authority host; a host Microsoft does not list also needs disableInstanceDiscovery)"
    : "";
}
