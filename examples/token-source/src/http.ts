import { readFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { SourceFetchError } from "@imagepullsecret-patcher/core";

/** A token answer is a few hundred bytes; anything past this is refused unread. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface TokenRequest {
  readonly method: "GET" | "POST";
  readonly url: URL;
  /** PEM bundle to trust instead of the system roots (https only). */
  readonly ca?: string | undefined;
  readonly signal: AbortSignal;
}

export interface TokenResponse {
  readonly status: number;
  readonly body: string;
}

/** Sends the request; one function for http and https, so a custom CA needs no extra dependency. */
export type TokenTransport = (request: TokenRequest) => Promise<TokenResponse>;

export type ReadTextFile = (path: string) => Promise<string>;
export const readTextFile: ReadTextFile = (path) => readFile(path, "utf8");

/** `node:http`/`node:https`, honouring the signal, refusing answers over {@link MAX_RESPONSE_BYTES}. */
export const nodeTransport: TokenTransport = (req) =>
  new Promise<TokenResponse>((resolve, reject) => {
    const send = req.url.protocol === "https:" ? httpsRequest : httpRequest;
    const options = {
      method: req.method,
      signal: req.signal,
      headers: {
        accept: "application/json",
        "user-agent": "imagepullsecret-patcher-token-source",
        "content-length": "0",
      },
      ...(req.ca === undefined ? {} : { ca: req.ca }),
    };
    const outgoing = send(req.url, options, (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          response.destroy();
          reject(new SourceFetchError(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`, false));
          return;
        }
        chunks.push(chunk);
      });
      response.on("error", reject);
      response.on("end", () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
