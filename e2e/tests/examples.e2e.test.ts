// The examples end to end: the token-source plugin loaded by package name into the patcher binary,
// the embedded controller against the real API server (in process and as its own program), and
// the startup errors for plugin packages that are missing or broken.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { tokenDockerConfigJson } from "@imagepullsecret-patcher/example-token-source";
import {
  PULL_SECRETS_ANNOTATION,
  createJsonLogger,
  startController,
} from "@imagepullsecret-patcher/example-embedded-controller";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  decodeCopy,
  pullSecretNames,
  putSourceSecret,
  readSecret,
  sleep,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

const E2E_DIR = fileURLToPath(new URL("..", import.meta.url));
const TOKEN_PLUGIN = "@imagepullsecret-patcher/example-token-source";
const EMBEDDED_MAIN = fileURLToPath(new URL("../../examples/embedded-controller/dist/main.js", import.meta.url));

/** A token endpoint on 127.0.0.1 whose answers the test changes; counts requests. */
async function tokenEndpoint(): Promise<{
  url: string;
  requests: { method: string; path: string }[];
  answer: (next: () => { status: number; body: unknown }) => void;
  close: () => Promise<void>;
}> {
  let current = (): { status: number; body: unknown } => ({ status: 503, body: { error: "not ready" } });
  const requests: { method: string; path: string }[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      requests.push({ method: req.method ?? "", path: req.url ?? "" });
      const { status, body } = current();
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/registry-token`,
    requests,
    answer: (next) => {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("examples", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const suite = uniqueName("examples");
  const outputs: string[] = [];
  // Under e2e/ (git-ignored .e2e/), so Node resolves the example plugin from this directory, through
  // e2e's node_modules, exactly as the patcher resolves `plugins:` from its config file's directory.
  mkdirSync(join(E2E_DIR, ".e2e"), { recursive: true });
  const workDir = mkdtempSync(join(E2E_DIR, ".e2e", "examples-"));

  /** Creates a namespace with annotations (NamespaceScope only sets labels) and schedules its deletion. */
  async function namespaceWith(
    prefix: string,
    annotations: Record<string, string>,
    labels: Record<string, string> = {},
  ): Promise<string> {
    const name = uniqueName(prefix);
    await core.createNamespace({ body: { metadata: { name, labels, annotations } } });
    namespaces.created.push(name);
    return name;
  }

  afterAll(async () => {
    await namespaces.cleanup();
    rmSync(workDir, { recursive: true, force: true });
    for (const out of outputs) expect(out).not.toContain(TEST_PASSWORD_PREFIX);
  });

  describe("token-source plugin in the patcher binary", () => {
    let endpoint: Awaited<ReturnType<typeof tokenEndpoint>>;
    let issued = 0;
    const token = (n: number): string => `${TEST_PASSWORD_PREFIX}${suite}-tok-${n}`;
    const credential = (n: number): string => tokenDockerConfigJson("registry.example.test", "robot", token(n));

    beforeAll(async () => {
      endpoint = await tokenEndpoint();
      // 40 s tokens: the polling base refreshes them 30 s before expiry, so about every 10 s.
      endpoint.answer(() => ({ status: 200, body: { token: token(++issued), expires_in: 40 } }));
    });
    afterAll(() => endpoint.close());

    const configText = (): string => `
plugins: ["${TOKEN_PLUGIN}"]
secretName: token-pull
mappings:
  - name: tokens
    source:
      token-endpoint:
        url: ${endpoint.url}
        registry: registry.example.test
        username: robot
    targets: { selector: "suite=${suite}" }
controller: { resyncInterval: 0 }
server: { address: "" }
`;

    it("validate loads the plugin by package name and shows its source", async () => {
      const path = join(workDir, "token.yaml");
      writeFileSync(path, configText());
      const result = await runPatcher(["validate", "--config", path]);
      outputs.push(result.stdout, result.stderr);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`tokens: token-endpoint ${endpoint.url} for registry.example.test`);
    });

    it("copies the token credential, rotates it before expiry, and keeps the last good one when the endpoint fails", async () => {
      const ns = await namespaces.create("ex-token", { suite });
      const path = join(workDir, "token-run.yaml");
      writeFileSync(path, configText());
      const patcher = new PatcherProcess(["run", "--config", path, "--kubeconfig", kubeconfig]);
      try {
        const first = await eventually("the first token copy", async () => {
          const copy = await readSecret(core, ns, "token-pull");
          const text = copy ? decodeCopy(copy) : "";
          return [...Array(issued + 1).keys()].find((i) => i > 0 && text === credential(i));
        });
        await waitForPullSecrets(core, ns, "default", ["token-pull"]);
        expect(endpoint.requests[0]).toEqual({ method: "POST", path: "/v1/registry-token" });

        // Refreshed early: a newer token replaces the first before the first one expires (40 s).
        const rotated = await eventually(
          "a rotated token copy",
          async () => {
            const copy = await readSecret(core, ns, "token-pull");
            const text = copy ? decodeCopy(copy) : "";
            return [...Array(issued + 1).keys()].find((i) => i > first && text === credential(i));
          },
          35_000,
        );
        expect(rotated).toBeGreaterThan(first);

        // The endpoint breaks: the source turns degraded and the copy keeps the last good token.
        const lastGood = issued;
        endpoint.answer(() => ({ status: 500, body: { error: "token service down" } }));
        const line = await patcher.waitForLog(
          (l) => l.msg === "source failed; keeping the last good credential",
          30_000,
        );
        expect(String(line.error)).toContain("HTTP 500");
        const kept = await eventually("the last good token in the copy", async () => {
          const copy = await readSecret(core, ns, "token-pull");
          return copy && decodeCopy(copy) === credential(lastGood) ? true : undefined;
        });
        expect(kept).toBe(true);
      } finally {
        const code = await patcher.stop();
        outputs.push(patcher.stdout, patcher.stderr);
        expect(code).toBe(0);
      }
    });
  });

  describe("embedded controller", () => {
    const password = `${TEST_PASSWORD_PREFIX}${uniqueName("embedded")}`;
    let src: string;
    beforeAll(async () => {
      src = await namespaces.create("ex-embed-src");
      await putSourceSecret(core, src, "regcred", password);
    });

    it("patches annotated namespaces only, follows new annotations, and stops cleanly on abort", async () => {
      const annotated = await namespaceWith("ex-embed-on", { [PULL_SECRETS_ANNOTATION]: "true" });
      const plain = await namespaceWith("ex-embed-off", { [PULL_SECRETS_ANNOTATION]: "false" });
      const later = await namespaces.create("ex-embed-later");
      const lines: string[] = [];
      const logger = createJsonLogger({ stream: { write: (l: string) => lines.push(l) }, level: "debug" });
      const stop = new AbortController();
      const controller = await startController({
        kubeConfig: kc,
        signal: stop.signal,
        source: { secret: { namespace: src, name: "regcred" } },
        logger,
        resyncIntervalMs: 0,
      });
      try {
        await waitForCopy(core, annotated, "example-pull-secret", password);
        await waitForPullSecrets(core, annotated, "default", ["example-pull-secret"]);

        // Opting in later is picked up from the watch.
        await core.patchNamespace(
          { name: later, body: { metadata: { annotations: { [PULL_SECRETS_ANNOTATION]: "true" } } } },
          k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
        );
        await waitForCopy(core, later, "example-pull-secret", password);

        // The namespace that did not opt in was left alone.
        await waitForDefaultServiceAccount(core, plain);
        expect(await readSecret(core, plain, "example-pull-secret")).toBeUndefined();
        expect(await pullSecretNames(core, plain, "default")).toEqual([]);
        const status = controller.status()[0];
        expect(status).toMatchObject({ name: "annotated", sourceState: "ready", failing: 0 });
        expect(status?.inScope).toBeGreaterThanOrEqual(2);
      } finally {
        stop.abort();
      }
      await controller.done;
      const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
      expect(messages).toContain("controller synced");
      expect(messages.at(-1)).toBe("controller stopped");
      outputs.push(lines.join(""));

      // Stopped means stopped: a namespace that opts in now gets nothing.
      const afterStop = await namespaceWith("ex-embed-after", { [PULL_SECRETS_ANNOTATION]: "true" });
      await waitForDefaultServiceAccount(core, afterStop);
      await sleep(3_000);
      expect(await readSecret(core, afterStop, "example-pull-secret")).toBeUndefined();
    });

    it("runs as its own program (dist/main.js) and exits 0 on SIGTERM", async () => {
      const child = spawn(
        process.execPath,
        [EMBEDDED_MAIN, "--kubeconfig", kubeconfig, "--source-secret", `${src}/regcred`],
        {
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      try {
        await eventually("the program to sync", () =>
          stdout.includes('"msg":"controller synced"') ? true : undefined,
        );
        const ns = await namespaceWith("ex-embed-main", { [PULL_SECRETS_ANNOTATION]: "true" });
        await waitForCopy(core, ns, "example-pull-secret", password);
        await waitForPullSecrets(core, ns, "default", ["example-pull-secret"]);
      } finally {
        child.kill("SIGTERM");
      }
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      outputs.push(stdout, stderr);
      expect(code).toBe(0);
      expect(stdout.trim().split("\n").pop()).toContain('"msg":"controller stopped"');
    });
  });

  describe("plugin packages that cannot be used", () => {
    // Fixture packages made on the spot in a node_modules next to the config file: resolvable by
    // name from there, and not workspace packages.
    const dir = mkdtempSync(join(tmpdir(), "examples-plugins-"));
    const fixture = (name: string, source: string): void => {
      mkdirSync(join(dir, "node_modules", name), { recursive: true });
      writeFileSync(
        join(dir, "node_modules", name, "package.json"),
        JSON.stringify({ name, version: "0.0.0", type: "module", exports: "./index.js" }),
      );
      writeFileSync(join(dir, "node_modules", name, "index.js"), source);
    };
    fixture("broken-plugin-nothing", 'export const hello = "not a plugin";\n');
    fixture("broken-plugin-empty", "export default { sources: [] };\n");
    fixture("broken-plugin-bad-factory", 'export default { sources: [{ type: "half-a-factory" }] };\n');
    fixture("broken-plugin-throws", 'throw new Error("cannot start: missing native module");\n');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const config = (plugin: string): string => {
      const path = join(dir, `${plugin.replace(/[^a-z0-9-]/gi, "_")}.yaml`);
      writeFileSync(
        path,
        `plugins: ["${plugin}"]\nsource: { secret: { name: regcred, namespace: kube-system } }\ntargets: { namespaces: [nowhere-${suite}] }\n`,
      );
      return path;
    };

    it.each([
      ["@imagepullsecret-patcher/example-does-not-exist", "not installed (cannot be resolved)"],
      [
        "broken-plugin-nothing",
        "exports no plugin: expected a default export (or `plugin`) with sources, selectors or strategies",
      ],
      ["broken-plugin-empty", "provides no sources, selectors or strategies"],
      ["broken-plugin-bad-factory", "sources[0] is not a plugin factory (needs type, validate and create)"],
      ["broken-plugin-throws", "failed to load: cannot start: missing native module"],
    ])("run refuses to start with %s: exit 2 and an error naming the package", async (plugin, problem) => {
      const result = await runPatcher(["run", "--config", config(plugin), "--kubeconfig", kubeconfig]);
      outputs.push(result.stdout, result.stderr);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^invalid config: /);
      expect(result.stderr).toContain(`plugin package "${plugin}": ${problem}`);
      expect(result.stdout).not.toContain('"msg":"engine started"');
    });
  });
});
