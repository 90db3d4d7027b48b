// A stand-in for the ECR API on 127.0.0.1 (JSON 1.1 protocol, GetAuthorizationToken only), so the
// source runs through the real SDK client: request signing, parsing, errors, aborts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_ACCOUNT = "123456789012";
export const FAKE_REGION = "eu-west-1";
export const FAKE_HOST = `${FAKE_ACCOUNT}.dkr.ecr.${FAKE_REGION}.amazonaws.com`;
/** Static test credentials; the secret must never show up in what the source reports. */
export const FAKE_CREDENTIALS = {
  accessKeyId: "AKIAFAKEECRTEST00001",
  secretAccessKey: "fake-Secret-Access-Key-0123456789abcdef",
};

/** What the fake answers: a status and a JSON body, or a delay that outlasts the client. */
export type FakeAnswer = { status: number; body: unknown; headers?: Record<string, string> } | "hang";

export interface RecordedCall {
  readonly target: string | undefined;
  readonly authorization: string | undefined;
  readonly body: string;
}

export class FakeEcr {
  readonly calls: RecordedCall[] = [];
  #answer: (call: RecordedCall) => FakeAnswer = () => ({ status: 500, body: { __type: "ServerException" } });
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<FakeEcr> {
    const holder: { fake?: FakeEcr } = {};
    const server = createServer((req, res) => void holder.fake?.handle(req, res));
    const fake = new FakeEcr(server);
    holder.fake = fake;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return fake;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  answer(answer: FakeAnswer | ((call: RecordedCall) => FakeAnswer)): void {
    this.#answer = typeof answer === "function" ? answer : () => answer;
  }

  /** A token for `password` as ECR issues it, for `host`, expiring at `expiresAt` (or never said). */
  serveToken(password: string, options: { expiresAt?: Date | undefined; host?: string; user?: string } = {}): void {
    const token = Buffer.from(`${options.user ?? "AWS"}:${password}`).toString("base64");
    this.answer({ status: 200, body: authorizationData(token, options.host ?? FAKE_HOST, options.expiresAt) });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const call = {
      target: req.headers["x-amz-target"] as string | undefined,
      authorization: req.headers.authorization,
      body: Buffer.concat(chunks).toString("utf8"),
    };
    this.calls.push(call);
    const answer = this.#answer(call);
    if (answer === "hang") return; // the client's abort or timeout ends it
    res.writeHead(answer.status, {
      "content-type": "application/x-amz-json-1.1",
      "x-amzn-requestid": "0f6c5c4e-8a9d-4e5f-9b6a-7c8d9e0f1a2b", // UUID-shaped, as AWS sends them
      ...answer.headers,
    });
    res.end(JSON.stringify(answer.body));
  }
}

/** GetAuthorizationToken's answer body; `expiresAt` in epoch seconds as the JSON protocol has it. */
export function authorizationData(token: string, host: string, expiresAt?: Date): unknown {
  return {
    authorizationData: [
      {
        authorizationToken: token,
        proxyEndpoint: `https://${host}`,
        ...(expiresAt ? { expiresAt: expiresAt.getTime() / 1000 } : {}),
      },
    ],
  };
}
