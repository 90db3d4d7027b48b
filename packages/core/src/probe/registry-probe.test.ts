// The registry login probe against real local servers (node:http, and node:https with an openssl
// certificate, skipped where openssl is missing): Basic, the Bearer token flow, identity tokens,
// redirects, failures, and no secret in any result.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parseDockerConfigJson, type DockerConfigJson } from "../credentials/docker-config.js";
import {
  parseChallenges,
  probeRegistryLogin,
  registryApiHost,
  type ProbeFetch,
  type ProbeResult,
} from "./registry-probe.js";

const USER = "robot";
const PASSWORD = "s3cr3t-Probe:Passw0rd"; // a colon, as passwords may have
const WRONG = "wr0ng-Probe-Passw0rd";
const TOKEN = "tok-9f8e7d6c5b4a-bearer";
const REFRESH = "refresh-5a4b3c2d1e-identity";
const basicOf = (user: string, password: string): string => Buffer.from(`${user}:${password}`).toString("base64");
const SECRETS = [PASSWORD, WRONG, TOKEN, REFRESH, basicOf(USER, PASSWORD), basicOf(USER, WRONG)];

function credential(auths: Record<string, Record<string, string>>): DockerConfigJson {
  return parseDockerConfigJson(JSON.stringify({ auths }), "test");
}
const withAuth = (registry: string, password = PASSWORD): DockerConfigJson =>
  credential({ [registry]: { auth: basicOf(USER, password) } });

/** Every result is checked for leaked secrets, whichever test made it. */
const produced: ProbeResult[] = [];
async function probe(...args: Parameters<typeof probeRegistryLogin>): Promise<ProbeResult> {
  const result = await probeRegistryLogin(...args);
  produced.push(result);
  return result;
}
afterAll(() => {
  const text = JSON.stringify(produced);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
});

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

interface Running {
  port: number;
  host: string;
  seen: Seen[];
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

const servers: Running[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function listen(server: Server, handler: Handler): Promise<Running> {
  const seen: Seen[] = [];
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const running: Running = {
    port,
    host: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(running);
  return running;
}

const serve = (handler: Handler): Promise<Running> => listen(createServer(), handler);

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A registry with htpasswd-style Basic auth, like `registry:2` with `auth.htpasswd`. */
function basicRegistry(): Handler {
  return (req, res) => {
    if (req.url !== "/v2/") return json(res, 404, { errors: [{ code: "NOT_FOUND" }] });
    if (req.headers.authorization === `Basic ${basicOf(USER, PASSWORD)}`) return json(res, 200, {});
    json(
      res,
      401,
      { errors: [{ code: "UNAUTHORIZED", detail: req.headers.authorization }] },
      { "www-authenticate": 'Basic realm="test"' },
    );
  };
}

/** A registry with token auth, and its token server on the same port (`/token`). */
function tokenRegistry(
  realm: () => string,
  answer: (req: IncomingMessage, body: string) => [number, unknown],
): Handler {
  return (req, res, body) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/token") {
      const [status, payload] = answer(req, body);
      return json(res, status, payload);
    }
    if (url.pathname !== "/v2/") return json(res, 404, {});
    if (req.headers.authorization === `Bearer ${TOKEN}`) return json(res, 200, {});
    json(
      res,
      401,
      { errors: [{ code: "UNAUTHORIZED" }] },
      {
        "www-authenticate": `Bearer realm="${realm()}",service="test-registry",scope="registry:catalog:* repository:a/b:pull,push"`,
      },
    );
  };
}

const basicTokenAnswer = (req: IncomingMessage): [number, unknown] =>
  req.headers.authorization === `Basic ${basicOf(USER, PASSWORD)}`
    ? [200, { token: TOKEN, expires_in: 300 }]
    : [401, { details: "incorrect username or password" }];

describe("registryApiHost", () => {
  it.each([
    ["registry.example", "registry.example"],
    ["Registry.Example:5000", "registry.example:5000"],
    ["https://registry.example/v1/", "registry.example"],
    ["http://registry.example:8080/v2/some/path", "registry.example:8080"],
    ["registry.example/team/repo", "registry.example"],
    ["127.0.0.1:5000", "127.0.0.1:5000"],
    ["[::1]:5000", "[::1]:5000"],
    // Docker Hub: credentials are stored under the index names, the API is elsewhere.
    ["https://index.docker.io/v1/", "registry-1.docker.io"],
    ["index.docker.io", "registry-1.docker.io"],
    ["docker.io", "registry-1.docker.io"],
  ])("%s → %s", (key, host) => {
    expect(registryApiHost(key)).toBe(host);
  });

  it.each([
    ["", "empty registry name"],
    ["*.registry.example", "wildcard registry key cannot be probed"],
    ["user@registry.example", "not a registry host name"],
    ["registry example", "not a registry host name"],
  ])("rejects %j", (key, message) => {
    expect(() => registryApiHost(key)).toThrow(message);
  });
});

describe("parseChallenges", () => {
  it("reads several challenges with quoted commas and spaces", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push", Basic realm="x"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: { realm: "https://auth.example/token", service: "reg", scope: "repository:a/b:pull,push" },
      },
      { scheme: "basic", params: { realm: "x" } },
    ]);
    expect(parseChallenges('Basic realm="a\\"b"')).toEqual([{ scheme: "basic", params: { realm: 'a"b' } }]);
    expect(parseChallenges(null)).toEqual([]);
    expect(parseChallenges("Negotiate")).toEqual([{ scheme: "negotiate", params: {} }]);
  });
});

describe("probeRegistryLogin with Basic auth", () => {
  it("accepts a good credential (auth field), sending it as Basic to /v2/", async () => {
    const registry = await serve(basicRegistry());
    const result = await probe(withAuth(registry.host), { insecureHttp: true });
    expect(result).toEqual({ ok: true, results: [{ registry: registry.host, ok: true, status: 200 }] });
    expect(registry.seen).toEqual([
      { method: "GET", url: "/v2/", authorization: `Basic ${basicOf(USER, PASSWORD)}`, body: "" },
    ]);
  });

  it("accepts username/password fields and a key spelled as a URL", async () => {
    const registry = await serve(basicRegistry());
    const key = `http://${registry.host}/v1/`;
    const result = await probe(credential({ [key]: { username: USER, password: PASSWORD } }), { insecureHttp: true });
    expect(result).toEqual({ ok: true, results: [{ registry: key, ok: true, status: 200 }] });
  });

  it("reports a wrong password as rejected, without the password", async () => {
    const registry = await serve(basicRegistry());
    const result = await probe(withAuth(registry.host, WRONG), { insecureHttp: true });
    expect(result).toEqual({
      ok: false,
      results: [{ registry: registry.host, ok: false, status: 401, problem: "credentials rejected" }],
    });
  });

  it("probes several registries and fails when any one fails", async () => {
    const good = await serve(basicRegistry());
    const bad = await serve(basicRegistry());
    const cred = credential({
      [good.host]: { auth: basicOf(USER, PASSWORD) },
      [bad.host]: { auth: basicOf(USER, WRONG) },
    });
    const result = await probe(cred, { insecureHttp: true });
    expect(result.ok).toBe(false);
    expect(result.results).toEqual([
      { registry: good.host, ok: true, status: 200 },
      { registry: bad.host, ok: false, status: 401, problem: "credentials rejected" },
    ]);
    // Only the requested ones, matched by host even when spelled differently.
    const only = await probe(cred, { insecureHttp: true, registries: [`http://${good.host}/`] });
    expect(only).toEqual({ ok: true, results: [{ registry: `http://${good.host}/`, ok: true, status: 200 }] });
  });

  it("names what is wrong with a requested registry it cannot probe", async () => {
    const cred = credential({
      "registry.example": { auth: basicOf(USER, PASSWORD) },
      "*.wild.example": { auth: basicOf(USER, PASSWORD) },
      "empty.example": {},
    });
    const fetchImpl: ProbeFetch = () => Promise.reject(new Error("no request expected"));
    const result = await probe(cred, { fetchImpl, registries: ["other.example", "*.wild.example", "empty.example"] });
    expect(result).toEqual({
      ok: false,
      results: [
        { registry: "other.example", ok: false, problem: "no entry for this registry in auths" },
        { registry: "*.wild.example", ok: false, problem: "wildcard registry key cannot be probed" },
        {
          registry: "empty.example",
          ok: false,
          problem: "no credentials for this registry (no auth, username/password or token)",
        },
      ],
    });
    expect((await probe(cred, { fetchImpl, registries: [] })).ok).toBe(false);
  });

  it("names unexpected statuses", async () => {
    const notFound = await serve((_req, res) => json(res, 404, {}));
    const broken = await serve((_req, res) => json(res, 503, { errors: [{ message: `backend said ${PASSWORD}` }] }));
    const limited = await serve((_req, res) => json(res, 429, {}));
    const forbidden = await serve((_req, res) => json(res, 403, {}));
    const cred = credential(
      Object.fromEntries(
        [notFound, broken, limited, forbidden].map((s) => [s.host, { auth: basicOf(USER, PASSWORD) }]),
      ),
    );
    const result = await probe(cred, { insecureHttp: true });
    expect(result.results.map((r) => [r.status, r.problem])).toEqual([
      [404, "the registry answered HTTP 404: not a registry v2 API"],
      [503, "the registry answered HTTP 503"],
      [429, "the registry is rate limiting (HTTP 429)"],
      [403, "credentials rejected"],
    ]);
  });
});

describe("probeRegistryLogin with the Bearer token flow", () => {
  it("gets a token from the realm with Basic auth and retries with it", async () => {
    let realm = "";
    const registry = await serve(tokenRegistry(() => realm, basicTokenAnswer));
    realm = `http://${registry.host}/token`;
    const result = await probe(withAuth(registry.host), { insecureHttp: true });
    expect(result).toEqual({ ok: true, results: [{ registry: registry.host, ok: true, status: 200 }] });
    expect(registry.seen.map((s) => [s.method, s.url, s.authorization])).toEqual([
      ["GET", "/v2/", `Basic ${basicOf(USER, PASSWORD)}`],
      [
        "GET",
        "/token?service=test-registry&scope=registry%3Acatalog%3A*&scope=repository%3Aa%2Fb%3Apull%2Cpush",
        `Basic ${basicOf(USER, PASSWORD)}`,
      ],
      ["GET", "/v2/", `Bearer ${TOKEN}`],
    ]);
  });

  it("reports the token endpoint's refusal as rejected", async () => {
    let realm = "";
    const registry = await serve(tokenRegistry(() => realm, basicTokenAnswer));
    realm = `http://${registry.host}/token`;
    const result = await probe(withAuth(registry.host, WRONG), { insecureHttp: true });
    expect(result).toEqual({
      ok: false,
      results: [{ registry: registry.host, ok: false, status: 401, problem: "credentials rejected" }],
    });
  });

  it("reports a token the registry does not accept as rejected, without the token", async () => {
    let realm = "";
    const registry = await serve(
      tokenRegistry(
        () => realm,
        () => [200, { access_token: `${TOKEN}-other` }],
      ),
    );
    realm = `http://${registry.host}/token`;
    const result = await probe(withAuth(registry.host), { insecureHttp: true });
    expect(result.results).toEqual([
      { registry: registry.host, ok: false, status: 401, problem: "credentials rejected" },
    ]);
    expect(JSON.stringify(result)).not.toContain(`${TOKEN}-other`);
  });

  it("names a broken token endpoint", async () => {
    let realm = "";
    const noToken = await serve(
      tokenRegistry(
        () => realm,
        () => [200, { expires_in: 60 }],
      ),
    );
    realm = `http://${noToken.host}/token`;
    expect((await probe(withAuth(noToken.host), { insecureHttp: true })).results[0]).toMatchObject({
      status: 200,
      problem: "the token endpoint returned no token",
    });
    const failing = await serve(
      tokenRegistry(
        () => realm,
        () => [500, {}],
      ),
    );
    realm = `http://${failing.host}/token`;
    expect((await probe(withAuth(failing.host), { insecureHttp: true })).results[0]).toMatchObject({
      status: 500,
      problem: "the token endpoint answered HTTP 500",
    });
  });

  it("exchanges an identity token as an OAuth refresh token (POST form)", async () => {
    let realm = "";
    const registry = await serve(
      tokenRegistry(
        () => realm,
        (req, body) => {
          const form = new URLSearchParams(body);
          return req.method === "POST" &&
            form.get("grant_type") === "refresh_token" &&
            form.get("refresh_token") === REFRESH
            ? [200, { access_token: TOKEN }]
            : [401, {}];
        },
      ),
    );
    realm = `http://${registry.host}/token`;
    const result = await probe(credential({ [registry.host]: { identitytoken: REFRESH } }), { insecureHttp: true });
    expect(result.ok).toBe(true);
    const post = registry.seen.find((s) => s.method === "POST");
    expect(Object.fromEntries(new URLSearchParams(post?.body))).toEqual({
      grant_type: "refresh_token",
      refresh_token: REFRESH,
      client_id: "docker",
      service: "test-registry",
      scope: "registry:catalog:* repository:a/b:pull,push",
    });
    expect(post?.authorization).toBeUndefined();

    const wrong = await probe(credential({ [registry.host]: { identitytoken: `${REFRESH}-old` } }), {
      insecureHttp: true,
    });
    expect(wrong.results[0]).toMatchObject({ ok: false, status: 401, problem: "credentials rejected" });
  });

  it("sends a registry token as a bearer token directly", async () => {
    const registry = await serve(
      tokenRegistry(
        () => "http://127.0.0.1:1/token",
        () => [500, {}],
      ),
    );
    const result = await probe(credential({ [registry.host]: { registrytoken: TOKEN } }), { insecureHttp: true });
    expect(result.ok).toBe(true);
    expect(registry.seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`]);
  });

  it("works with global fetch as fetchImpl", async () => {
    let realm = "";
    const registry = await serve(tokenRegistry(() => realm, basicTokenAnswer));
    realm = `http://${registry.host}/token`;
    const result = await probe(withAuth(registry.host), { insecureHttp: true, fetchImpl: fetch });
    expect(result.ok).toBe(true);
    const wrong = await probe(withAuth(registry.host, WRONG), { insecureHttp: true, fetchImpl: fetch });
    expect(wrong.results[0]?.problem).toBe("credentials rejected");
  });
});

describe("probeRegistryLogin redirects and failures", () => {
  it("follows a redirect but keeps the credential from another origin", async () => {
    const elsewhere = await serve((_req, res) => json(res, 401, {}, { "www-authenticate": 'Basic realm="elsewhere"' }));
    const registry = await serve((_req, res) => {
      res.writeHead(307, { location: `http://${elsewhere.host}/v2/` });
      res.end();
    });
    const result = await probe(withAuth(registry.host), { insecureHttp: true });
    expect(result.results[0]).toMatchObject({ ok: false, problem: "credentials rejected" });
    expect(registry.seen[0]?.authorization).toBe(`Basic ${basicOf(USER, PASSWORD)}`);
    expect(elsewhere.seen).toEqual([{ method: "GET", url: "/v2/", authorization: undefined, body: "" }]);
  });

  it("names the error code of a refused connection", async () => {
    const gone = await serve(basicRegistry());
    await gone.close();
    const result = await probe(withAuth(gone.host), { insecureHttp: true });
    expect(result.results).toEqual([{ registry: gone.host, ok: false, problem: "request failed: ECONNREFUSED" }]);
    const viaFetch = await probe(withAuth(gone.host), { insecureHttp: true, fetchImpl: fetch });
    expect(viaFetch.results[0]?.problem).toBe("request failed: ECONNREFUSED");
  });

  it("gives up after timeoutMs", async () => {
    const silent = await serve(() => undefined); // never answers
    const started = Date.now();
    const result = await probe(withAuth(silent.host), { insecureHttp: true, timeoutMs: 300 });
    expect(result.results).toEqual([{ registry: silent.host, ok: false, problem: "timed out after 300 ms" }]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("stops when the caller aborts", async () => {
    const silent = await serve(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await probe(withAuth(silent.host), { insecureHttp: true, signal: controller.signal });
    expect(result.results[0]?.problem).toBe("aborted");
  });

  it("uses https and Docker Hub's API host by default", async () => {
    const urls: string[] = [];
    const fetchImpl: ProbeFetch = (url) => {
      urls.push(url);
      return Promise.resolve(new Response("{}", { status: 200 }));
    };
    const result = await probe(
      credential({
        "https://index.docker.io/v1/": { auth: basicOf(USER, PASSWORD) },
        "registry.example:5000": { auth: basicOf(USER, PASSWORD) },
      }),
      { fetchImpl },
    );
    expect(result.ok).toBe(true);
    expect(urls).toEqual(["https://registry-1.docker.io/v2/", "https://registry.example:5000/v2/"]);
  });
});

let openssl = true;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  openssl = false;
}

describe.skipIf(!openssl)("probeRegistryLogin over https", () => {
  const dir = mkdtempSync(join(tmpdir(), "registry-probe-test-"));
  let cert = "";
  let key = "";
  if (openssl) {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
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
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    key = readFileSync(join(dir, "key.pem"), "utf8");
  }
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const serveTls = (handler: Handler): Promise<Running> => listen(createHttpsServer({ cert, key }), handler);

  it("trusts the CA given in options.ca", async () => {
    let realm = "";
    const registry = await serveTls(tokenRegistry(() => realm, basicTokenAnswer));
    realm = `https://${registry.host}/token`;
    expect(await probe(withAuth(registry.host), { ca: cert })).toEqual({
      ok: true,
      results: [{ registry: registry.host, ok: true, status: 200 }],
    });
    expect(await probe(withAuth(registry.host), { ca: Buffer.from(cert) })).toMatchObject({ ok: true });
    expect((await probe(withAuth(registry.host, WRONG), { ca: cert })).results[0]?.problem).toBe(
      "credentials rejected",
    );
  });

  it("names the TLS error code for an untrusted certificate, before sending anything", async () => {
    const registry = await serveTls(basicRegistry());
    const result = await probe(withAuth(registry.host));
    expect(result.results).toEqual([
      { registry: registry.host, ok: false, problem: "request failed: DEPTH_ZERO_SELF_SIGNED_CERT" },
    ]);
    expect(registry.seen).toEqual([]);
  });

  it("refuses a token realm over plain http", async () => {
    const tokens = await serve((_req, res) => json(res, 200, { token: TOKEN }));
    const registry = await serveTls(tokenRegistry(() => `http://${tokens.host}/token`, basicTokenAnswer));
    const result = await probe(withAuth(registry.host), { ca: cert });
    expect(result.results[0]).toMatchObject({ ok: false, problem: "refused a token realm over http" });
    expect(tokens.seen).toEqual([]);
  });
});
