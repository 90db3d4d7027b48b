// shareConnections against a local HTTPS "API server" (node:https with openssl certificates, skipped
// where openssl is missing): many calls reuse a few keep-alive connections, and a new client
// certificate gets a new Agent.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { shareConnections } from "./connections.js";

let openssl = true;
try {
  execFileSync("openssl", ["version"], { stdio: "ignore" });
} catch {
  openssl = false;
}

function selfSigned(dir: string, name: string, san?: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  args.push("-keyout", key, "-out", cert, "-days", "1", "-subj", `/CN=${name}`);
  if (san) args.push("-addext", `subjectAltName=${san}`);
  execFileSync("openssl", args, { stdio: "ignore" });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

describe.skipIf(!openssl)("shareConnections", () => {
  const dir = mkdtempSync(join(tmpdir(), "kube-connections-test-"));
  const server = openssl ? selfSigned(dir, "apiserver", "IP:127.0.0.1") : { cert: "", key: "" };
  const alice = openssl ? selfSigned(dir, "alice") : { cert: "", key: "" };
  const bob = openssl ? selfSigned(dir, "bob") : { cert: "", key: "" };
  let https: Server;
  let url = "";
  let accepted = 0;
  const clientNames: string[] = [];

  beforeAll(async () => {
    // Asks for a client certificate without checking it, to see which one each connection used.
    https = createServer({ ...server, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const cn = peer.subject?.CN ?? "";
      clientNames.push(Array.isArray(cn) ? cn.join(",") : cn);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "NamespaceList", apiVersion: "v1", metadata: {}, items: [] }));
    });
    https.on("secureConnection", () => accepted++);
    await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    https.closeAllConnections();
    await new Promise((resolve) => https.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeConfig(user: { certFile?: string; keyFile?: string; certData?: string; keyData?: string }): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "local", server: url, caData: Buffer.from(server.cert).toString("base64") }],
      users: [{ name: "user", ...user }],
      contexts: [{ name: "local", cluster: "local", user: "user" }],
      currentContext: "local",
    });
    return kc;
  }
  const b64 = (text: string): string => Buffer.from(text).toString("base64");

  it("serves 200 sequential and 1000 parallel calls over a number of connections set by the parallelism", async () => {
    const kc = kubeConfig({ certData: b64(alice.cert), keyData: b64(alice.key) });
    let metric = 0;
    const pool = shareConnections(kc, { onConnectionOpened: () => metric++ });
    expect(shareConnections(kc)).toBe(pool);
    const api = kc.makeApiClient(CoreV1Api);
    const before = accepted;

    for (let i = 0; i < 200; i++) await api.listNamespace();
    // Sequential calls need one connection; undici may open a second when a call starts before the
    // previous response's socket is back in the pool.
    expect(pool.opened()).toBeLessThanOrEqual(2);

    const parallelism = 10;
    for (let round = 0; round < 100; round++) {
      await Promise.all(Array.from({ length: parallelism }, () => api.listNamespace()));
    }
    // Bounded by the parallelism, not by the number of calls: at most twice it, because a round's
    // calls can start before undici has returned the previous round's sockets to the pool.
    expect(pool.opened()).toBeLessThanOrEqual(2 * parallelism);
    expect(metric).toBe(pool.opened());
    expect(accepted - before).toBe(pool.opened());
    expect(pool.agents()).toBe(1);
    await pool.close();
  });

  it("makes a new Agent when the client certificate changes and closes the old one", async () => {
    const certFile = join(dir, "user.crt");
    const keyFile = join(dir, "user.key");
    writeFileSync(certFile, alice.cert);
    writeFileSync(keyFile, alice.key);
    const kc = kubeConfig({ certFile, keyFile });
    const pool = shareConnections(kc);
    const api = kc.makeApiClient(CoreV1Api);
    clientNames.length = 0;

    for (let i = 0; i < 5; i++) await api.listNamespace();
    const withAlice = pool.opened();
    expect(withAlice).toBeLessThanOrEqual(2);
    writeFileSync(certFile, bob.cert);
    writeFileSync(keyFile, bob.key);
    for (let i = 0; i < 5; i++) await api.listNamespace();

    expect(pool.opened()).toBeGreaterThan(withAlice);
    expect(pool.opened()).toBeLessThanOrEqual(withAlice + 2);
    expect(pool.agents()).toBe(1);
    expect(clientNames).toEqual([...Array<string>(5).fill("alice"), ...Array<string>(5).fill("bob")]);
    await pool.close();
  });

  it("gives KubeConfigs with different client certificates their own pools", async () => {
    const a = kubeConfig({ certData: b64(alice.cert), keyData: b64(alice.key) });
    const b = kubeConfig({ certData: b64(bob.cert), keyData: b64(bob.key) });
    const pools = [shareConnections(a), shareConnections(b)];
    clientNames.length = 0;
    await a.makeApiClient(CoreV1Api).listNamespace();
    await b.makeApiClient(CoreV1Api).listNamespace();
    expect(clientNames).toEqual(["alice", "bob"]);
    expect(pools.map((p) => p.opened())).toEqual([1, 1]);
    await Promise.all(pools.map((p) => p.close()));
  });
});
