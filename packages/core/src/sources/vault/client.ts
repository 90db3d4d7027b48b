import { readFile as fsReadFile } from "node:fs/promises";
import { Agent, fetch as undiciFetch, type Dispatcher, type Response as UndiciResponse } from "undici";
import { clip, errorCode, redactSecrets } from "../../util/errors.js";
import { SourceFetchError } from "../polling/errors.js";

/** One HTTP exchange, as the client needs it. Injected in tests to check request shapes. */
export interface VaultHttpRequest {
  readonly method: "GET" | "POST" | "PUT";
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | undefined;
  readonly signal: AbortSignal;
}

export interface VaultHttpResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
}

export type VaultTransport = (request: VaultHttpRequest) => Promise<VaultHttpResponse>;

/** Vault answers a KV read with well under this; a larger body is refused unread. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 3;

/** Reads a file as text. Injected in tests. */
export type ReadTextFile = (path: string) => Promise<string>;
export const readTextFile: ReadTextFile = (path) => fsReadFile(path, "utf8");

/** undici's fetch, as the client calls it. Redirects are followed by {@link VaultClient} itself. */
async function send(req: VaultHttpRequest, dispatcher: Dispatcher | undefined): Promise<VaultHttpResponse> {
  const init = {
    method: req.method,
    headers: req.headers,
    body: req.body ?? null,
    signal: req.signal,
    redirect: "manual" as const,
  };
  const response = await undiciFetch(req.url, dispatcher ? { ...init, dispatcher } : init);
  const length = Number(response.headers.get("content-length") ?? "0");
  if (length > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw new SourceFetchError(`response of ${length} bytes is larger than the ${MAX_RESPONSE_BYTES}-byte limit`);
  }
  return { status: response.status, headers: response.headers, text: await readLimited(response) };
}

/** The body as text; a chunked body that grows past the limit is refused part-read. */
async function readLimited(response: UndiciResponse): Promise<string> {
  if (!response.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as ReadableStream<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_RESPONSE_BYTES)
      throw new SourceFetchError(`response is larger than the ${MAX_RESPONSE_BYTES}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Plain fetch, trusting the system roots. */
export const fetchTransport: VaultTransport = (req) => send(req, undefined);

/** fetch through an undici Agent that trusts `ca` (a caFile's bundle) in place of the system roots. */
export function httpsTransport(ca: string): VaultTransport {
  const dispatcher = new Agent({ connect: { ca } });
  return (req) => send(req, dispatcher);
}

/** A non-2xx answer from Vault. The message holds Vault's own error strings, redacted and clipped. */
export class VaultApiError extends SourceFetchError {
  override readonly name = "VaultApiError";
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly vaultErrors: readonly string[],
  ) {
    super(
      `${operation}: HTTP ${status}${VaultApiError.#summary(status, vaultErrors)}`,
      status >= 500 || status === 429 || status === 412,
    );
  }

  static #summary(status: number, errors: readonly string[]): string {
    const text = clip(
      redactSecrets(
        errors
          .map((e) => e.trim())
          .filter(Boolean)
          .join("; "),
      ),
      200,
    );
    if (text) return ` (${text})`;
    if (status === 403) return " (permission denied)";
    if (status === 404) return " (not found)";
    return "";
  }

  /** True when Vault reported itself sealed (HTTP 503 "Vault is sealed"). */
  get sealed(): boolean {
    return this.status === 503 && this.vaultErrors.some((e) => /sealed/i.test(e));
  }
}

export interface VaultResponse {
  readonly status: number;
  /** Parsed JSON body, or undefined for an empty one. */
  readonly body: unknown;
}

export interface VaultClientOptions {
  readonly address: string;
  readonly namespace?: string | undefined;
  readonly caFile?: string | undefined;
  /** Replaces the default transport ({@link fetchTransport}, or {@link httpsTransport} when `caFile` is set). */
  readonly transport?: VaultTransport | undefined;
  readonly readFile?: ReadTextFile | undefined;
  /** Timeout of a single request (default 30 s). */
  readonly requestTimeoutMs?: number | undefined;
}

/** The little of Vault's HTTP API the source needs: JSON requests with the token and namespace headers. */
export class VaultClient {
  readonly address: string;
  readonly #namespace: string | undefined;
  readonly #caFile: string | undefined;
  readonly #readFile: ReadTextFile;
  readonly #requestTimeoutMs: number;
  #transport: VaultTransport | undefined;
  #loadingTransport: Promise<VaultTransport> | undefined;

  constructor(options: VaultClientOptions) {
    this.address = options.address.replace(/\/+$/, "");
    this.#namespace = options.namespace;
    this.#caFile = options.caFile;
    this.#readFile = options.readFile ?? readTextFile;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#transport = options.transport ?? (options.caFile ? undefined : fetchTransport);
  }

  async #getTransport(): Promise<VaultTransport> {
    if (this.#transport) return this.#transport;
    const caFile = this.#caFile ?? "";
    this.#loadingTransport ??= this.#readFile(caFile).then(
      (ca) => (this.#transport = httpsTransport(ca)),
      (err: unknown) => {
        this.#loadingTransport = undefined;
        const code = errorCode(err);
        throw new SourceFetchError(`cannot read caFile ${caFile}${code ? ` (${code})` : ""}`, false);
      },
    );
    return this.#loadingTransport;
  }

  /**
   * Sends `method /v1/<path>`. Returns any HTTP status; throws only for transport failures.
   * Follows up to 3 redirects (a standby node points at the active one), never from https to http.
   */
  async request(
    method: VaultHttpRequest["method"],
    path: string,
    options: { token?: string | undefined; body?: unknown; signal: AbortSignal },
  ): Promise<VaultResponse> {
    const transport = await this.#getTransport();
    const headers: Record<string, string> = { accept: "application/json", "x-vault-request": "true" };
    if (options.token !== undefined) headers["x-vault-token"] = options.token;
    if (this.#namespace) headers["x-vault-namespace"] = this.#namespace;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] = "application/json";
    }
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(this.#requestTimeoutMs)]);
    let url = new URL(`${this.address}/v1/${path}`);
    for (let hop = 0; ; hop++) {
      const response = await transport({ method, url, headers, body, signal });
      const location = response.headers.get("location");
      if ([301, 302, 303, 307, 308].includes(response.status) && location && hop < MAX_REDIRECTS) {
        const next = new URL(location, url);
        if (url.protocol === "https:" && next.protocol !== "https:") {
          throw new SourceFetchError(`refused a redirect from https to ${next.protocol.replace(/:$/, "")}`, false);
        }
        url = next;
        continue;
      }
      return { status: response.status, body: parseBody(response.text) };
    }
  }
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML error page, say). Never echo it: it is not ours to show.
    return undefined;
  }
}

/** Vault's `{"errors": [...]}` strings, if any. */
export function vaultErrors(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is string => typeof e === "string") : [];
}

/** Throws a {@link VaultApiError} unless `response` is 2xx. */
export function expectOk(operation: string, response: VaultResponse): void {
  if (response.status < 200 || response.status > 299) {
    throw new VaultApiError(operation, response.status, vaultErrors(response.body));
  }
}

/** Encodes each segment of a slash-separated Vault path. */
export function encodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}
