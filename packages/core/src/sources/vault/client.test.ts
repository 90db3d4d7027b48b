// The client's two real transports against local servers: undici fetch over http (with redirects)
// and https with a CA from caFile (certificate made with openssl; skipped where it is missing).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultClient } from "./client.js";
import { validateVaultSourceConfig } from "./config.js";
import { VaultSource } from "./vault-source.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

function handler(seen: Seen[], port: () => number) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.setHeader("content-type", "application/json");
      if (req.url === "/v1/standby/secret") {
        res.statusCode = 307;
        res.setHeader("location", `http://127.0.0.1:${port()}/v1/active/secret`);
        res.end();
      } else if (req.url === "/v1/active/secret" || req.url === "/v1/secret/data/registry") {
        res.end(JSON.stringify({ data: { data: { dockerconfigjson: '{"auths":{"r.example":{}}}' } } }));
      } else if (req.url === "/v1/html") {
        res.setHeader("content-type", "text/html");
        res.statusCode = 502;
        res.end("<html>bad gateway token=hvs.leak</html>");
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ errors: [] }));
      }
    });
  };
}

describe("VaultClient over http with global fetch", () => {
  const seen: Seen[] = [];
  let port = 0;
  const server = createServer(handler(seen, () => port));
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("sends the token, namespace and JSON body, and follows a standby redirect", async () => {
    const client = new VaultClient({ address: `http://127.0.0.1:${port}/`, namespace: "ns1" });
    const signal = new AbortController().signal;
    const response = await client.request("POST", "standby/secret", { token: "t0k", body: { a: 1 }, signal });
    expect(response.status).toBe(200);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(["POST /v1/standby/secret", "POST /v1/active/secret"]);
    for (const s of seen) {
      expect(s.headers["x-vault-token"]).toBe("t0k");
      expect(s.headers["x-vault-namespace"]).toBe("ns1");
      expect(s.headers["x-vault-request"]).toBe("true");
      expect(s.body).toBe('{"a":1}');
    }
  });

  it("returns a non-JSON error page without its text", async () => {
    const client = new VaultClient({ address: `http://127.0.0.1:${port}` });
    const response = await client.request("GET", "html", { signal: new AbortController().signal });
    expect(response).toEqual({ status: 502, body: undefined });
  });
});

let openssl = true;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  openssl = false;
}

describe.skipIf(!openssl)("VaultSource over https with caFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "vault-ca-test-"));
  const seen: Seen[] = [];
  let port = 0;
  let server: ReturnType<typeof createHttpsServer> | undefined;
  beforeAll(async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    server = createHttpsServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      handler(seen, () => port),
    );
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
    writeFileSync(join(dir, "token"), "hvs.fileToken");
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  function source(caFile?: string): VaultSource {
    const config = validateVaultSourceConfig({
      address: `https://127.0.0.1:${port}`,
      path: "registry",
      ...(caFile ? { caFile } : {}),
      auth: { token: { tokenFile: join(dir, "token") } },
    });
    return new VaultSource(config, { refreshIntervalMs: 60_000 });
  }

  it("trusts the CA from caFile", async () => {
    const controller = new AbortController();
    // lookup-self answers 404 here: the source reports it, proving the TLS handshake worked.
    const s = source(join(dir, "cert.pem"));
    await s.start(controller.signal);
    controller.abort();
    expect(s.status().error).toMatch(/token auth: auth\/token\/lookup-self: HTTP 404/);
    expect(seen.at(-1)?.headers["x-vault-token"]).toBe("hvs.fileToken");
  });

  it("fails the handshake without the CA, and names a missing caFile", async () => {
    const controller = new AbortController();
    const untrusted = source();
    await untrusted.start(controller.signal);
    expect(untrusted.status().error).toMatch(
      /request failed \((SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    );
    const missing = source(join(dir, "missing.pem"));
    await missing.start(controller.signal);
    expect(missing.status().error).toMatch(/cannot read caFile .*missing\.pem \(ENOENT\)$/);
    controller.abort();
  });
});
