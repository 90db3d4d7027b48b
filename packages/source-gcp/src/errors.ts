import { SourceFetchError } from "@imagepullsecret-patcher/core";
import { gaxios } from "google-auth-library";

/** google-auth-library's message when Application Default Credentials found nothing. */
const NO_ADC_MESSAGE = "Could not load the default credentials";
/** RFC 6749 §5.2 error codes are short snake_case words; anything else in `error` is left out. */
const OAUTH_ERROR_CODE = /^[a-z_]{1,40}$/;
/** Runs that could be a token, a key or a signature. */
const OPAQUE_RUN = /[A-Za-z0-9._~+/=-]{24,}/g;

interface HttpErrorShape {
  readonly config?: { readonly url?: unknown };
  readonly response?: { readonly status?: unknown; readonly data?: unknown };
  readonly code?: unknown;
  readonly type?: unknown;
}

const METADATA_PATH = "/computeMetadata/v1/";

/**
 * `<origin><path>` of a request URL, never its query string; for the metadata server
 * `metadata server <host> <path>`, short enough not to look like a secret to the redaction.
 */
export function endpointLabel(url: unknown): string {
  let parsed: URL;
  try {
    parsed = new URL(url instanceof URL ? url.href : typeof url === "string" ? url : "");
  } catch {
    return "the token endpoint";
  }
  if (parsed.pathname.startsWith(METADATA_PATH)) {
    return `metadata server ${parsed.host} ${parsed.pathname.slice(METADATA_PATH.length)}`;
  }
  return `${parsed.origin}${parsed.pathname}`;
}

/** Where gcp-metadata sends its requests (GCE_METADATA_HOST / GCE_METADATA_IP, else 169.254.169.254). */
export function metadataHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.GCE_METADATA_IP || env.GCE_METADATA_HOST || "169.254.169.254";
}

/** Google APIs' JSON errors carry a canonical status (`PERMISSION_DENIED`); it is a fixed word too. */
const GOOGLE_ERROR_STATUS = /^[A-Z_]{1,40}$/;

/** The OAuth error code (`invalid_grant`) or Google API status (`PERMISSION_DENIED`) of an error body. */
function errorCodeOf(data: unknown): string | undefined {
  const error = typeof data === "object" && data !== null ? (data as { error?: unknown }).error : undefined;
  if (typeof error === "string") return OAUTH_ERROR_CODE.test(error) ? error : undefined;
  const status = typeof error === "object" && error !== null ? (error as { status?: unknown }).status : undefined;
  return typeof status === "string" && GOOGLE_ERROR_STATUS.test(status) ? status : undefined;
}

function systemCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]{2,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** An HTTP error from gaxios: status and error code only, never the body or the message built from it. */
function describeHttpError(err: HttpErrorShape): SourceFetchError {
  const where = endpointLabel(err.config?.url);
  const status = err.response?.status;
  if (typeof status === "number") {
    const code = errorCodeOf(err.response?.data);
    const transient = status >= 500 || status === 429 || status === 408;
    return new SourceFetchError(`${where}: HTTP ${status}${code ? ` (${code})` : ""}`, transient);
  }
  if (err.type === "request-timeout") return new SourceFetchError(`${where}: timed out`);
  const code = systemCode(err);
  return new SourceFetchError(`${where}: request failed${code ? ` (${code})` : ""}`);
}

/** A message from the library with anything token-like masked, on one short line. */
function scrubbed(message: string): string {
  const line = message.replace(/\s+/g, " ").trim().replace(OPAQUE_RUN, "[redacted]");
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

/**
 * Turns what google-auth-library threw into a {@link SourceFetchError} whose message is safe for
 * logs, status and Events. The library's own messages can carry response bodies, so HTTP errors are
 * reduced to endpoint, status and OAuth error code, and other messages are masked.
 */
export function describeAuthError(err: unknown): SourceFetchError {
  if (err instanceof SourceFetchError) return err;
  if (err instanceof gaxios.GaxiosError || (err as HttpErrorShape | null)?.config?.url !== undefined) {
    return describeHttpError(err as HttpErrorShape);
  }
  if (!(err instanceof Error)) return new SourceFetchError(`failed with a non-error value (${typeof err})`);
  if (err.message.startsWith(NO_ADC_MESSAGE)) {
    return new SourceFetchError(
      `no Google credentials: no keyFile, no GOOGLE_APPLICATION_CREDENTIALS, and no metadata server answered at ${metadataHost()}`,
    );
  }
  if (err instanceof RangeError && err.message.includes("Metadata-Flavor")) {
    return new SourceFetchError(`the metadata server at ${metadataHost()} answered without Metadata-Flavor: Google`);
  }
  const code = systemCode(err);
  if (err.name === "AbortError" || err.name === "TimeoutError") return new SourceFetchError("timed out");
  return new SourceFetchError(`${err.name}: ${scrubbed(err.message)}${code ? ` (${code})` : ""}`);
}
