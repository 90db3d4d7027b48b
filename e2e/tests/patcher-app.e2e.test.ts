// The patcher binary end to end: every CLI command, each config form, the HTTP surface, hot
// reload and graceful shutdown, against the real API server.
import { mkdtempSync, writeFileSync, renameSync, symlinkSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { inject } from "vitest";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  b64,
  dockerConfigJson,
  putSourceSecret,
  readSecret,
  waitForCopy,
  waitForNoSecret,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

describe("patcher app", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("app")}`;
  const dir = mkdtempSync(join(tmpdir(), "patcher-app-"));
  const suite = uniqueName("app");
  const outputs: string[] = [];
  let src: string;

  const config = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const twoTeams = (extra = ""): string => `
secretName: app-pull
mappings:
  - name: team-a
    source: { secret: { name: regcred-a, namespace: ${src} } }
    targets: { selector: { matchLabels: { suite: ${suite}, team: a } } }
  - name: team-b
    source: { secret: { name: regcred-b, namespace: ${src} } }
    targets: { selector: "suite=${suite},team=b" }
    serviceAccounts: all
${extra}
controller: { resyncInterval: 0 }
`;

  beforeAll(async () => {
    src = await namespaces.create("app-src");
    await putSourceSecret(core, src, "regcred-a", `${password}-a`);
    await putSourceSecret(core, src, "regcred-b", `${password}-b`);
  });
  afterAll(async () => {
    await namespaces.cleanup();
    for (const out of outputs) expect(out).not.toContain(password);
  });

  it("prints its version and a readable --help", async () => {
    const version = await runPatcher(["version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^imagepullsecret-patcher \d+\.\d+\.\d+/);
    const help = await runPatcher(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["run", "validate", "plan", "status", "version"]) expect(help.stdout).toContain(command);
    const runHelp = await runPatcher(["run", "--help"]);
    expect(runHelp.stdout).toContain("--once");
    expect(runHelp.stdout).toContain("--kubeconfig");
  });

  it("validate accepts the seed form and the full form, and refuses a bad config naming field and line", async () => {
    const seed = await runPatcher([
      "validate",
      "--config",
      config("seed.yaml", "source:\n  secret:\n    name: regcred\n    namespace: kube-system\n"),
    ]);
    expect(seed.code).toBe(0);
    expect(seed.stdout).toContain("valid, 1 mapping(s)");
    const full = await runPatcher(["validate", "--config", config("full.yaml", twoTeams())]);
    expect(full.code).toBe(0);
    expect(full.stdout).toContain("team-b");
    const bad = await runPatcher([
      "validate",
      "--config",
      config("bad.yaml", "mappings:\n  - name: a\n    source: { secret: { name: x } }\n    targets: { all: {} }\n"),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("mappings[0].source.secret.namespace");
    expect(bad.stderr).toMatch(/line \d+/);
    const unknown = await runPatcher([
      "validate",
      "--config",
      config("plugin.yaml", "plugins: [does-not-exist-plugin]\nsource: {secret: {name: a, namespace: b}}\n"),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('plugin package "does-not-exist-plugin"');
  });

  it("plan shows what it would create and patch, and what it would refuse and why, without writing", async () => {
    const a = await namespaces.create("app-plan-a", { suite, team: "a" });
    const b = await namespaces.create("app-plan-b", { suite, team: "b" });
    await core.createNamespacedSecret({
      namespace: b,
      body: { metadata: { name: "app-pull" }, type: "Opaque", data: { x: b64("y") } },
    });
    await eventually("default SA", () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: a }).catch(() => undefined),
    );
    const plan = await runPatcher(["plan", "--config", config("plan.yaml", twoTeams()), "--kubeconfig", kubeconfig]);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(`team-a\\s+${a}\\s+create\\s+Secret app-pull`));
    expect(plan.stdout).toMatch(new RegExp(`team-a\\s+${a}\\s+patch\\s+ServiceAccount default: add app-pull`));
    expect(plan.stdout).toMatch(new RegExp(`team-b\\s+${b}\\s+refuse\\s+Secret app-pull exists and is not managed`));
    expect(await readSecret(core, a, "app-pull")).toBeUndefined();
    const json = await runPatcher([
      "plan",
      "-o",
      "json",
      "--config",
      config("plan.yaml", twoTeams()),
      "--kubeconfig",
      kubeconfig,
    ]);
    const rows = JSON.parse(json.stdout) as { mapping: string; namespace: string; actions: string[] }[];
    expect(rows.find((r) => r.namespace === a)?.actions).toEqual(["create-secret", "add-reference"]);
    await core.deleteNamespacedSecret({ name: "app-pull", namespace: b });
  });

  it("run --once converges and exits 0; status then shows everything in sync", async () => {
    const a = await namespaces.create("app-once-a", { suite, team: "a" });
    await eventually("default SA", () =>
      core.readNamespacedServiceAccount({ name: "default", namespace: a }).catch(() => undefined),
    );
    const once = await runPatcher([
      "run",
      "--once",
      "--config",
      config("once.yaml", twoTeams()),
      "--kubeconfig",
      kubeconfig,
    ]);
    outputs.push(once.stdout, once.stderr);
    expect(once.code).toBe(0);
    await waitForCopy(core, a, "app-pull", `${password}-a`);
    await waitForPullSecrets(core, a, "default", ["app-pull"]);
    const status = await runPatcher([
      "status",
      "--config",
      config("once.yaml", twoTeams()),
      "--kubeconfig",
      kubeconfig,
    ]);
    outputs.push(status.stdout);
    expect(status.code).toBe(0);
    const row = status.stdout.split("\n").find((l) => l.startsWith("team-a"));
    expect(row).toMatch(/team-a\s+secret \S+\/regcred-a\s+ready\s+(\d+)\s+\1\s+0\s+0\s+0/);
  });

  it("run --once exits non-zero when a namespace cannot be served (source missing)", async () => {
    await namespaces.create("app-fail", { suite, team: "missing" });
    const text = `mappings:\n  - name: broken\n    source: { secret: { name: nope, namespace: ${src} } }\n    targets: { selector: "suite=${suite},team=missing" }\n`;
    const once = await runPatcher([
      "run",
      "--once",
      "--config",
      config("broken.yaml", text),
      "--kubeconfig",
      kubeconfig,
    ]);
    outputs.push(once.stdout, once.stderr);
    expect(once.code).toBe(1);
    expect(once.stdout).toContain("does not exist");
  });

  it("run --once stopped by SIGTERM part-way exits 143 and says how much was not finished", async () => {
    const slow = uniqueName("slow");
    for (let i = 0; i < 6; i++) await namespaces.create(`app-slow-${i}`, { suite, slow });
    // One worker and one write every 2 s: the pass takes about 25 s, so SIGTERM lands in the middle.
    const text = `mappings:
  - name: slow
    source: { secret: { name: regcred-a, namespace: ${src} } }
    targets: { selector: "suite=${suite},slow=${slow}" }
    secretName: slow-pull
controller: { workers: 1, clientQps: 0.5, clientBurst: 1 }
`;
    const once = new PatcherProcess([
      "run",
      "--once",
      "--config",
      config("slow.yaml", text),
      "--kubeconfig",
      kubeconfig,
    ]);
    try {
      await once.waitForLog((l) => l.msg === "reconciled");
      once.child.kill("SIGTERM");
      const code = await once.exited;
      expect(code).toBe(143);
      const notFinished = once.logs().find((l) => l.msg === "not finished");
      expect(notFinished).toMatchObject({ mapping: "slow", inScope: 6 });
      expect(notFinished?.notFinished).toBeGreaterThan(0);
      expect(
        once.logs().some((l) => l.msg === "single pass interrupted before it finished" && l.signal === "SIGTERM"),
      ).toBe(true);
      expect(once.logs().some((l) => l.msg === "single pass finished")).toBe(false);
    } finally {
      await once.stop();
      outputs.push(once.stdout, once.stderr);
    }
  });

  it("runs the titansoft CONFIG_* environment form", async () => {
    const ns = await namespaces.create("app-titan");
    const credFile = config("dockerconfig.json", dockerConfigJson(`${password}-titan`));
    const once = await runPatcher(["run", "--once", "--kubeconfig", kubeconfig], {
      CONFIG_DOCKERCONFIGJSONPATH: credFile,
      CONFIG_SECRETNAME: `titan-${suite}`,
      CONFIG_EXCLUDED_NAMESPACES: "kube-system,kube-public,kube-node-lease,default",
      CONFIG_FORCE: "false",
    });
    outputs.push(once.stdout, once.stderr);
    expect(once.code).toBe(0);
    await waitForCopy(core, ns, `titan-${suite}`, `${password}-titan`);
    expect(await readSecret(core, "kube-public", `titan-${suite}`)).toBeUndefined();
    const bad = await runPatcher(["run", "--once", "--kubeconfig", kubeconfig], {
      CONFIG_DOCKERCONFIGJSONPATH: credFile,
      CONFIG_FORCE: "maybe",
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("CONFIG_FORCE");
  });

  it("serves health, readiness and metrics, hot-reloads config, refuses a bad one, and stops on SIGTERM", async () => {
    const a = await namespaces.create("app-run-a", { suite, team: "a" });
    const b = await namespaces.create("app-run-b", { suite, team: "b" });
    // A Kubernetes-style ConfigMap volume: config.yaml -> ..data/config.yaml, ..data -> timestamped dir.
    const mount = join(dir, "mount");
    const writeConfigMap = (text: string, version: string): void => {
      mkdirSync(join(mount, version), { recursive: true });
      writeFileSync(join(mount, version, "config.yaml"), text);
      symlinkSync(version, join(mount, "..data_tmp"));
      renameSync(join(mount, "..data_tmp"), join(mount, "..data"));
    };
    writeConfigMap(twoTeams().replace(/ {2}- name: team-b[\s\S]*?serviceAccounts: all\n/, ""), "..v1");
    symlinkSync("..data/config.yaml", join(mount, "config.yaml"));
    const port = await freePort();
    const patcher = new PatcherProcess([
      "run",
      "--config",
      join(mount, "config.yaml"),
      "--kubeconfig",
      kubeconfig,
      "--server-address",
      `127.0.0.1:${port}`,
    ]);
    try {
      await waitForCopy(core, a, "app-pull", `${password}-a`);
      const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
      expect((await get("/healthz")).status).toBe(200);
      await eventually("ready", async () => ((await get("/readyz")).status === 200 ? true : undefined));
      const metrics = await (await get("/metrics")).text();
      expect(metrics).toContain('imagepullsecret_patcher_writes_total{kind="secret-create"}');
      expect(metrics).toMatch(/imagepullsecret_patcher_reconciles_total\{mapping="team-a",result="in-sync"\} \d+/);
      expect(metrics).toContain('imagepullsecret_patcher_source_state{mapping="team-a",state="ready"} 1');
      expect(metrics).toMatch(/imagepullsecret_patcher_namespaces\{mapping="team-a",state="in_scope"\} \d+/);
      expect(metrics).toContain("imagepullsecret_patcher_queue_depth");
      expect(metrics).not.toContain(password);
      expect(await readSecret(core, b, "app-pull")).toBeUndefined();

      // A valid change is applied without a restart.
      writeConfigMap(twoTeams(), "..v2");
      await waitForCopy(core, b, "app-pull", `${password}-b`);
      await patcher.waitForLog((l) => l.msg === "config reloaded");

      // An invalid one is refused; the old config keeps running and the error is surfaced.
      writeConfigMap("mappings:\n  - name: Bad!\n", "..v3");
      await patcher.waitForLog((l) => l.msg === "new config refused; the previous one keeps running");
      const health = (await (await get("/healthz")).json()) as { configError?: string };
      expect(health.configError).toContain("mappings[0].name");
      await core.deleteNamespacedSecret({ name: "app-pull", namespace: b });
      await waitForCopy(core, b, "app-pull", `${password}-b`);
      expect(await (await get("/metrics")).text()).toContain(
        'imagepullsecret_patcher_config_reloads_total{result="refused"} 1',
      );

      // Removing team-b by reload cleans up its copy.
      writeConfigMap(twoTeams().replace(/ {2}- name: team-b[\s\S]*?serviceAccounts: all\n/, ""), "..v4");
      await waitForNoSecret(core, b, "app-pull");
      await waitForPullSecrets(core, b, "default", []);
    } finally {
      const code = await patcher.stop();
      outputs.push(patcher.stdout, patcher.stderr);
      expect(code).toBe(0);
      expect(patcher.logs().some((l) => l.msg === "stopped")).toBe(true);
    }
  });
});
