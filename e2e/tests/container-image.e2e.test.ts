// The container image end to end. Builds the bundle and apps/patcher/Dockerfile the way CI does (a
// local Node 24 runtime base made with `docker import`, since no image can be pulled; the legacy
// builder; PREBUILT=1), then runs the image as deploy/ runs it: read-only root filesystem, uid 65532,
// no capabilities, no-new-privileges, config and kubeconfig as read-only mounts. It must copy the
// credential, patch the default ServiceAccount, serve /healthz and /metrics, and exit 0 on SIGTERM.
//
// Needs a Docker engine: it uses the one `docker info` reaches, else (as root on Debian/Ubuntu)
// installs docker.io if needed and starts dockerd for the duration of this file, then stops it
// (e2e/src/container/docker.ts). If no engine can be had, every test here FAILS with the reason.
// On a machine that cannot run Docker at all, set E2E_SKIP_CONTAINER=1 to skip this file.
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { Wait } from "testcontainers";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import {
  TEST_PASSWORD_PREFIX,
  putSourceSecret,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";
import { freePort } from "../src/cluster/local/processes.ts";
import { docker, ensureDockerEngine, run, type DockerEngine } from "../src/container/docker.ts";
import { ensureNodeRuntimeBase, type BaseImage } from "../src/container/base-image.ts";
import {
  PATCHER_DIR,
  buildPatcherBundle,
  buildPatcherImage,
  patcherVersion,
  removePatcherImage,
  type BuiltImage,
} from "../src/container/image.ts";
import { HardenedContainer, NONROOT_UID } from "../src/container/hardened-container.ts";

const SKIP = process.env.E2E_SKIP_CONTAINER === "1";
const log = (line: string): void => void process.stderr.write(`[e2e:container] ${line}\n`);
const CONFIG_IN_CONTAINER = "/etc/imagepullsecret-patcher/config.yaml";
const KUBECONFIG_IN_CONTAINER = "/var/run/imagepullsecret-patcher/kubeconfig";
const HARDENING = [
  "--read-only",
  "--user",
  `${NONROOT_UID}:${NONROOT_UID}`,
  "--cap-drop",
  "ALL",
  "--security-opt",
  "no-new-privileges",
];

interface ImageInspect {
  Size: number;
  Config: {
    User: string;
    Entrypoint: string[];
    Cmd: string[];
    Env: string[];
    WorkingDir: string;
    Labels: Record<string, string>;
  };
}
interface ContainerInspect {
  Config: { User: string };
  State: { Pid: number; Running: boolean; ExitCode: number; OOMKilled: boolean; Status: string };
  HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] | null; SecurityOpt: string[] | null; NetworkMode: string };
  Mounts: { Source: string; Destination: string; RW: boolean }[];
}

async function inspect<T>(kind: "image" | "container", ref: string): Promise<T> {
  return (JSON.parse(await docker([kind, "inspect", ref])) as T[])[0] as T;
}

/** A file the container's uid 65532 can read: owned by it with mode 0600 when we are root, else 0644. */
function readableByNonroot(path: string, from: { text: string } | { file: string }): string {
  if ("file" in from) copyFileSync(from.file, path);
  else writeFileSync(path, from.text);
  try {
    chmodSync(path, 0o600);
    chownSync(path, NONROOT_UID, NONROOT_UID);
  } catch {
    chmodSync(path, 0o644);
  }
  return path;
}

describe.skipIf(SKIP)("container image", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("image")}`;
  const suite = uniqueName("image");
  const secretName = uniqueName("image-pull");
  const dir = mkdtempSync(join(tmpdir(), "patcher-image-"));
  const imageRef = `imagepullsecret-patcher-e2e/patcher:run-${process.pid}`;
  const containerIds: string[] = [];
  const outputs: string[] = [];
  const timings: Record<string, number> = {};
  const fileStarted = Date.now();
  let engine: DockerEngine | undefined;
  let base: BaseImage;
  let image: BuiltImage | undefined;
  let src: string;

  let setupError: Error | undefined;
  /** Every test fails with the setup's error (no engine, build failed), rather than being skipped. */
  const built = (): BuiltImage => {
    if (setupError !== undefined) throw setupError;
    if (!image) throw new Error("the image was not built");
    return image;
  };

  beforeAll(async () => {
    try {
      let t = Date.now();
      // Throws with the reason when there is no engine and none can be started.
      engine = await ensureDockerEngine({ log });
      timings.engine = Date.now() - t;
      timings.bundle = (await buildPatcherBundle(log)).ms;
      t = Date.now();
      base = await ensureNodeRuntimeBase(log);
      timings.base = Date.now() - t;
      image = await buildPatcherImage(base.ref, imageRef, log);
      timings.image = image.ms;
      src = await namespaces.create("image-src");
      await putSourceSecret(core, src, "regcred", password);
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
      log(`setup failed: ${setupError.message}`);
    }
  }, 900_000);

  afterAll(async () => {
    try {
      for (const id of containerIds) await run("docker", ["rm", "--force", id], { timeoutMs: 60_000 });
      if (image) await removePatcherImage(image);
      await namespaces.cleanup();
    } finally {
      await engine?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    timings.file = Date.now() - fileStarted;
    log(`timings (ms): ${JSON.stringify(timings)}`);
    for (const out of outputs) expect(out).not.toContain(password);
  }, 120_000);

  it("is a non-root image with OCI labels whose entrypoint runs the bundle; `version` works read-only", async () => {
    built();
    const info = await inspect<ImageInspect>("image", imageRef);
    const baseInfo = await inspect<ImageInspect>("image", base.ref);
    log(
      `image ${imageRef}: ${(info.Size / 1e6).toFixed(1)} MB; base ${base.ref}: ${(baseInfo.Size / 1e6).toFixed(1)} MB; app layers ${((info.Size - baseInfo.Size) / 1e6).toFixed(2)} MB`,
    );
    expect(info.Config.User).toBe(`${NONROOT_UID}:${NONROOT_UID}`);
    const nodeFlags = JSON.parse(readFileSync(join(PATCHER_DIR, "node-flags.json"), "utf8")) as {
      flags: string[];
      env?: Record<string, string>;
    };
    expect(info.Config.Entrypoint).toEqual(["/nodejs/bin/node", ...nodeFlags.flags, "/app/bundle/main.mjs"]);
    for (const [name, value] of Object.entries(nodeFlags.env ?? {}))
      expect(info.Config.Env).toContain(`${name}=${value}`);
    expect(info.Config.Cmd).toEqual(["run"]);
    expect(info.Config.Labels).toMatchObject({
      "org.opencontainers.image.title": "imagepullsecret-patcher",
      "org.opencontainers.image.version": patcherVersion(),
      "org.opencontainers.image.licenses": "Apache-2.0",
    });
    expect(info.Config.Labels["org.opencontainers.image.source"]).toMatch(/^https:\/\//);
    // Only the bundle is added to the base: no node_modules, no sources.
    expect(info.Size - baseInfo.Size).toBeLessThan(20e6);

    const started = Date.now();
    const version = await run("docker", ["run", "--rm", ...HARDENING, "--network", "none", imageRef, "version"], {
      timeoutMs: 60_000,
    });
    timings.version = Date.now() - started;
    expect(version.stderr.replace(/^WARNING: .*\n/gm, "")).toBe("");
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(`imagepullsecret-patcher ${patcherVersion()}\n`);
  });

  it("loads each cloud source from its own chunk of the bundle when a mapping uses it, read-only and offline", async () => {
    built();
    const config = readableByNonroot(join(dir, "cloud-config.yaml"), {
      text: [
        "mappings:",
        "  - name: aws",
        "    source: { ecr: { registries: [{ region: eu-west-1, registryId: '123456789012' }] } }",
        "    targets: { namespaces: [team-a] }",
        "  - name: google",
        "    source: { gcp: { registries: [europe-docker.pkg.dev] } }",
        "    targets: { namespaces: [team-b] }",
        "  - name: azure",
        "    sources: [{ acr: { registries: [example.azurecr.io] } }, { name: hub, namespace: creds }]",
        "    targets: { namespaces: [team-c] }",
        "",
      ].join("\n"),
    });
    const validate = await run(
      "docker",
      [
        "run",
        "--rm",
        ...HARDENING,
        "--network",
        "none",
        "-v",
        `${config}:${CONFIG_IN_CONTAINER}:ro`,
        imageRef,
        "validate",
        "--config",
        CONFIG_IN_CONTAINER,
      ],
      { timeoutMs: 60_000 },
    );
    const output = validate.stdout + validate.stderr.replace(/^WARNING: .*\n/gm, "");
    expect(validate.code, output).toBe(0);
    expect(output).toContain("valid, 3 mapping(s)");
    expect(output).toContain("aws: ecr 123456789012/eu-west-1");
    expect(output).toContain("google: gcp europe-docker.pkg.dev");
    expect(output).toContain("azure: merged [acr example.azurecr.io");
  });

  it("runs the controller read-only as 65532: copies and patches, serves /healthz and /metrics on the host network, exits 0 on docker stop", async () => {
    built();
    const target = await namespaces.create("image-target", { suite });
    await waitForDefaultServiceAccount(core, target);
    const config = readableByNonroot(join(dir, "config.yaml"), {
      text: [
        `secretName: ${secretName}`,
        "source:",
        `  secret: { name: regcred, namespace: ${src} }`,
        "targets:",
        `  selector: { matchLabels: { suite: ${suite} } }`,
        "controller: { resyncInterval: 0 }",
        "",
      ].join("\n"),
    });
    const kubeconfig = readableByNonroot(join(dir, "kubeconfig"), { file: inject("kubeconfigPath") });
    const port = await freePort();
    let logs = "";

    let t = Date.now();
    const container = await new HardenedContainer(imageRef)
      .withNetworkMode("host")
      .withBindMounts([
        { source: config, target: CONFIG_IN_CONTAINER, mode: "ro" },
        { source: kubeconfig, target: KUBECONFIG_IN_CONTAINER, mode: "ro" },
      ])
      .withCommand([
        "run",
        "--config",
        CONFIG_IN_CONTAINER,
        "--kubeconfig",
        KUBECONFIG_IN_CONTAINER,
        "--server-address",
        `127.0.0.1:${port}`,
      ])
      .withLogConsumer((stream) => stream.on("data", (d: Buffer | string) => (logs += d.toString())))
      .withWaitStrategy(Wait.forLogMessage(/"msg":"starting"/))
      .withStartupTimeout(60_000)
      .start();
    const id = container.getId();
    containerIds.push(id);
    timings.containerStart = Date.now() - t;
    let stopMs: number | undefined;
    let finalState: ContainerInspect["State"] | undefined;
    try {
      // What Docker was asked for…
      const info = await inspect<ContainerInspect>("container", id);
      expect(info.Config.User).toBe(`${NONROOT_UID}:${NONROOT_UID}`);
      expect(info.HostConfig.ReadonlyRootfs).toBe(true);
      expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
      expect(info.HostConfig.SecurityOpt).toContain("no-new-privileges");
      expect(info.HostConfig.NetworkMode).toBe("host");
      expect(info.Mounts.map((m) => [m.Destination, m.RW]).sort()).toEqual([
        [CONFIG_IN_CONTAINER, false],
        [KUBECONFIG_IN_CONTAINER, false],
      ]);
      // …and what the process got, seen from the host (when the engine runs on this host).
      const procStatus = `/proc/${info.State.Pid}/status`;
      if (
        existsSync(procStatus) &&
        readFileSync(`/proc/${info.State.Pid}/cmdline`, "utf8").includes("/app/bundle/main.mjs")
      ) {
        const status = readFileSync(procStatus, "utf8");
        expect(status).toMatch(
          new RegExp(`^Uid:\\s+${NONROOT_UID}\\s+${NONROOT_UID}\\s+${NONROOT_UID}\\s+${NONROOT_UID}$`, "m"),
        );
        expect(status).toMatch(
          new RegExp(`^Gid:\\s+${NONROOT_UID}\\s+${NONROOT_UID}\\s+${NONROOT_UID}\\s+${NONROOT_UID}$`, "m"),
        );
        expect(status).toMatch(/^CapEff:\s+0+$/m);
        expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      } else
        log(
          `container process ${info.State.Pid} is not visible in this host's /proc; checked its uid through docker inspect only`,
        );

      // The work: the copy and the ServiceAccount reference, also in a namespace created later.
      t = Date.now();
      await waitForCopy(core, target, secretName, password);
      await waitForPullSecrets(core, target, "default", [secretName]);
      timings.firstCopy = Date.now() - t;
      const late = await namespaces.create("image-late", { suite });
      await waitForCopy(core, late, secretName, password);
      await waitForPullSecrets(core, late, "default", [secretName]);

      // The HTTP surface, on the host network at --server-address.
      const get = (path: string): Promise<Response> => fetch(`http://127.0.0.1:${port}${path}`);
      expect((await get("/healthz")).status).toBe(200);
      await eventually("/readyz 200", async () => ((await get("/readyz")).status === 200 ? true : undefined));
      const metrics = await (await get("/metrics")).text();
      expect(metrics).toContain('imagepullsecret_patcher_writes_total{kind="secret-create"}');
      expect(metrics).toContain('imagepullsecret_patcher_source_state{mapping="default",state="ready"} 1');
      // The default metrics of the process inside the image: Node 24.
      expect(metrics).toMatch(/^imagepullsecret_patcher_nodejs_version_info\{version="v24\.[^}]*major="24"/m);
      outputs.push(metrics);
    } finally {
      // docker stop: SIGTERM, SIGKILL only after 20 s.
      t = Date.now();
      await container.stop({ timeout: 20_000, remove: false });
      stopMs = Date.now() - t;
      finalState = (await inspect<ContainerInspect>("container", id)).State;
      outputs.push(logs, await docker(["logs", id]).catch(() => ""));
      await run("docker", ["rm", "--force", id], { timeoutMs: 60_000 });
      containerIds.splice(containerIds.indexOf(id), 1);
    }
    timings.stop = stopMs ?? -1;
    log(`docker stop took ${stopMs} ms; state ${JSON.stringify(finalState)}`);
    expect(finalState, logs.slice(-3000)).toMatchObject({ Running: false, ExitCode: 0, OOMKilled: false });
    expect(stopMs).toBeLessThan(10_000);
    expect(logs).toContain('"msg":"stopped"');
    // Nothing it logged is a credential, and it never needed to write to its root filesystem.
    expect(logs).not.toMatch(/EROFS|read-only file system/i);
  });
});
