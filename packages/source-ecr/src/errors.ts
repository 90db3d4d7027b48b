// What the AWS SDK throws, turned into a short message safe for logs, status and metrics. AWS error
// messages name the caller's ARN and the action, which helps; a signature error can quote the
// canonical request (headers included), so only the first line is kept, cut before that part.
// Core's describeSourceError masks base64-, hex- and JWT-like runs on top of this.
import { SourceFetchError } from "@imagepullsecret-patcher/core";

const MAX_DETAIL = 240;

interface AwsErrorShape {
  readonly $fault?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown; readonly requestId?: unknown };
  readonly code?: unknown;
  readonly hostname?: unknown;
}

/** `text` with every known secret (8 characters or more) replaced by `[redacted]`. */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join("[redacted]");
  return out;
}

/** The first non-empty line of the message, before any quoted canonical request, without secrets. */
function detailOf(err: Error, secrets: readonly string[]): string {
  const firstLine = err.message.split("\n").find((line) => line.trim() !== "") ?? "";
  const cut = firstLine.split(/The Canonical String|The String-to-Sign/)[0] ?? "";
  const clean = withoutSecrets(cut.trim(), secrets);
  return clean.length > MAX_DETAIL ? `${clean.slice(0, MAX_DETAIL - 1)}…` : clean;
}

function systemCode(err: Error): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const code = (current as AwsErrorShape).code;
    if (typeof code === "string" && /^E[A-Z0-9_]{2,30}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** `host` (DNS failures) or `address:port` (refused, reset), when the error says which. */
function peerOf(err: Error): string | undefined {
  for (let current: unknown = err, depth = 0; current && depth < 4; depth++) {
    const { hostname, address, port } = current as AwsErrorShape & { address?: unknown; port?: unknown };
    if (typeof hostname === "string" && /^[A-Za-z0-9.-]+$/.test(hostname)) return hostname;
    if (typeof address === "string" && /^[0-9A-Fa-f.:]+$/.test(address)) {
      return typeof port === "number" ? `${address.includes(":") ? `[${address}]` : address}:${port}` : address;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function networkProblem(err: Error, code: string): string {
  return `cannot reach ${peerOf(err) ?? "AWS"} (${code})`;
}

/**
 * `AccessDeniedException (HTTP 400): <first line>`. No request id: AWS's are UUIDs, which the
 * polling base masks like any secret-looking run, so it would only ever read `[redacted]`.
 */
function serviceProblem(err: Error, secrets: readonly string[]): string | undefined {
  const status = (err as AwsErrorShape).$metadata?.httpStatusCode;
  if (typeof status !== "number") return undefined;
  const detail = detailOf(err, secrets);
  return `${err.name} (HTTP ${status})${detail ? `: ${detail}` : ""}`;
}

function isTransient(err: Error, code: string | undefined): boolean {
  const fault = (err as AwsErrorShape).$fault;
  const status = (err as AwsErrorShape).$metadata?.httpStatusCode;
  return code !== undefined || fault === "server" || status === 429 || /Throttl/.test(err.name);
}

/**
 * Turns an error thrown by the SDK during `where` (e.g. `GetAuthorizationToken in eu-west-1`) into
 * a {@link SourceFetchError} whose message is safe to show. Aborts and timeouts pass through, for
 * the polling base to describe. `secrets` are values to mask if the message ever quotes them.
 */
export function describeAwsError(err: unknown, where: string, secrets: readonly string[] = []): Error {
  if (err instanceof SourceFetchError) return err;
  if (!(err instanceof Error)) return new SourceFetchError(`${where}: failed with a non-error value`);
  if (err.name === "AbortError" || err.name === "TimeoutError") return err;
  const code = systemCode(err);
  const problem =
    (code !== undefined ? networkProblem(err, code) : undefined) ??
    (/^Region is missing/.test(err.message)
      ? "no AWS region: set region in the registry entry, or AWS_REGION"
      : undefined) ??
    (err.name === "CredentialsProviderError" ? `no AWS credentials: ${detailOf(err, secrets)}` : undefined) ??
    serviceProblem(err, secrets) ??
    `${err.name}: ${detailOf(err, secrets)}`;
  return new SourceFetchError(`${where}: ${problem}`, isTransient(err, code));
}
