// Several instances and mappings that never fight, and the defects a review found in paths the
// other suites do not walk: sources that cannot be read, reloads, renamed copies, RBAC gaps.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import {
  ADDED_ANNOTATION,
  Engine,
  INSTANCE_LABEL,
  MANAGED_BY_LABEL,
  MAPPING_LABEL,
  buildMappings,
  builtinRegistries,
  parseDockerConfigJson,
  type EngineOptions,
  type Mapping,
  type SourceProvider,
  type SourceValue,
} from "@imagepullsecret-patcher/core";
import {
  NamespaceScope,
  adminKubeConfig,
  eventually,
  statusCode,
  tokenKubeConfig,
  uniqueName,
} from "../src/support/kube.ts";
import {
  TEST_PASSWORD_PREFIX,
  putSourceSecret,
  readSecret,
  sleep,
  waitForCopy,
  waitForDefaultServiceAccount,
  waitForNoSecret,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";
import { CapturingLogger } from "../src/support/logs.ts";

interface Running {
  engine: Engine;
  writes: string[];
  logger: CapturingLogger;
  stop(): Promise<void>;
  reload(configs: unknown[], settings?: { retainOnMappingRemoval?: boolean }): void;
}

const registries = builtinRegistries();

function build(kc: k8s.KubeConfig, configs: unknown[], logger: CapturingLogger): Mapping[] {
  return buildMappings(configs, { registries, kubeConfig: kc, logger });
}

/** Runs an engine on mappings built from config; counts every write it sends. */
async function start(
  kc: k8s.KubeConfig,
  configs: unknown[] | Mapping[],
  options: Partial<EngineOptions> = {},
): Promise<Running> {
  const logger = new CapturingLogger();
  const writes: string[] = [];
  const mappings = (configs as unknown[]).every((c) => typeof (c as Mapping).strategy === "object")
    ? (configs as Mapping[])
    : build(kc, configs, logger);
  const engine = new Engine({
    kubeConfig: kc,
    mappings,
    logger,
    resyncIntervalMs: 0,
    observer: { onWrite: (kind) => writes.push(kind) },
    ...options,
  });
  const controller = new AbortController();
  const running = engine.run(controller.signal);
  await engine.waitForSync(controller.signal);
  return {
    engine,
    writes,
    logger,
    reload: (c, settings) => engine.setMappings(build(kc, c, logger), settings),
    async stop() {
      controller.abort();
      await running;
    },
  };
}

/** Waits until no write was sent for `quietMs`, then returns how many writes `window` more ms see. */
async function writesInQuietWindow(engines: Running[], windowMs: number): Promise<number> {
  const before = engines.reduce((n, e) => n + e.writes.length, 0);
  await sleep(windowMs);
  return engines.reduce((n, e) => n + e.writes.length, 0) - before;
}

async function settle(engines: Running[], quietMs = 3000, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  while (Date.now() < deadline) {
    const count = engines.reduce((n, e) => n + e.writes.length, 0);
    if (count === last && engines.every((e) => e.engine.queueLength === 0)) return;
    last = count;
    await sleep(quietMs);
  }
  throw new Error("engines never settled");
}

async function records(core: k8s.CoreV1Api, namespace: string, sa = "default"): Promise<string> {
  const obj = await core.readNamespacedServiceAccount({ name: sa, namespace });
  return obj.metadata?.annotations?.[ADDED_ANNOTATION] ?? "";
}

describe("engine trust on the real API server", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const namespaces = new NamespaceScope(core);
  const password = `${TEST_PASSWORD_PREFIX}${uniqueName("trust")}`;
  let sourceNs: string;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    sourceNs = await namespaces.create("trust-src");
    await putSourceSecret(core, sourceNs, "regcred-a", password);
    await putSourceSecret(core, sourceNs, "regcred-b", `${password}-b`);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await namespaces.cleanup();
  });

  describe("two instances and two mappings sharing one copy name", () => {
    const engines: Running[] = [];
    let a1: string;
    let a2: string;
    let b1: string;
    let both: string;

    beforeAll(async () => {
      a1 = await namespaces.create("trust-a1");
      a2 = await namespaces.create("trust-a2");
      b1 = await namespaces.create("trust-b1");
      both = await namespaces.create("trust-both");
      for (const ns of [a1, a2, b1, both]) await waitForDefaultServiceAccount(core, ns);
      // Instance alpha: two mappings, one copy name, disjoint namespaces. Instance beta: the same
      // copy name in its own namespace. Both claim `both`.
      engines.push(
        await start(
          kc,
          [
            {
              name: "team-a",
              source: { secret: { name: "regcred-a", namespace: sourceNs } },
              targets: { namespaces: [a1, both] },
              secretName: "shared-pull",
            },
            {
              name: "team-a2",
              source: { secret: { name: "regcred-a", namespace: sourceNs } },
              targets: { namespaces: [a2] },
              secretName: "shared-pull",
            },
          ],
          { instance: "alpha" },
        ),
      );
      await waitForCopy(core, both, "shared-pull", password);
      engines.push(
        await start(
          kc,
          [
            {
              name: "team-b",
              source: { secret: { name: "regcred-b", namespace: sourceNs } },
              targets: { namespaces: [b1, both] },
              secretName: "shared-pull",
            },
          ],
          {
            instance: "beta",
          },
        ),
      );
    });
    afterAll(async () => {
      for (const e of engines) await e.stop();
    });

    it("gives every namespace exactly its own instance's copy and one entry", async () => {
      await waitForCopy(core, a1, "shared-pull", password);
      await waitForCopy(core, a2, "shared-pull", password);
      await waitForCopy(core, b1, "shared-pull", `${password}-b`);
      for (const ns of [a1, a2, b1, both]) await waitForPullSecrets(core, ns, "default", ["shared-pull"]);
      expect(await records(core, a1)).toBe("shared-pull@alpha/team-a");
      expect(await records(core, a2)).toBe("shared-pull@alpha/team-a2");
      expect(await records(core, b1)).toBe("shared-pull@beta/team-b");
    });

    it("lets the first writer keep the overlapping namespace; the other reports a conflict", async () => {
      const copy = await readSecret(core, both, "shared-pull");
      expect(copy?.metadata?.labels?.[INSTANCE_LABEL]).toBe("alpha");
      await eventually("beta reports the conflict", () => {
        const s = engines[1]?.engine.status()[0];
        return s && s.conflicting === 1 ? true : undefined;
      });
    });

    it("sends no write at all once converged", async () => {
      await settle(engines);
      const eventsBefore = (await core.listNamespacedEvent({ namespace: both })).items.length;
      expect(await writesInQuietWindow(engines, 15_000)).toBe(0);
      expect((await core.listNamespacedEvent({ namespace: both })).items.length).toBe(eventsBefore);
    });

    it("never removes the other instance's entry when a namespace leaves one instance", async () => {
      engines[1]?.reload([
        {
          name: "team-b",
          source: { secret: { name: "regcred-b", namespace: sourceNs } },
          targets: { namespaces: [b1] },
          secretName: "shared-pull",
        },
      ]);
      await settle(engines);
      await waitForCopy(core, both, "shared-pull", password);
      await waitForPullSecrets(core, both, "default", ["shared-pull"]);
      expect(await records(core, both)).toBe("shared-pull@alpha/team-a");
      expect(await writesInQuietWindow(engines, 5000)).toBe(0);
    });
  });

  it("goes on with other mappings when one source cannot be read (403), in run and in --once", async () => {
    const target = await namespaces.create("trust-403");
    const forbiddenNs = await namespaces.create("trust-403-src");
    await putSourceSecret(core, forbiddenNs, "regcred-x", `${password}-x`);
    const kcLimited = await limitedIdentity({
      readSourcesIn: sourceNs,
      copyNames: ["ok-pull", "x-pull"],
      watchNamespaces: true,
    });
    const configs = [
      {
        name: "broken",
        source: { secret: { name: "regcred-x", namespace: forbiddenNs } },
        targets: { namespaces: [target] },
        secretName: "x-pull",
      },
      {
        name: "works",
        source: { secret: { name: "regcred-a", namespace: sourceNs } },
        targets: { namespaces: [target] },
        secretName: "ok-pull",
      },
    ];
    const once = new Engine({
      kubeConfig: kcLimited,
      mappings: build(kcLimited, configs, new CapturingLogger()),
      resyncIntervalMs: 0,
      onceSourceWaitMs: 10_000,
    });
    const started = Date.now();
    const left = await once.runOnce(new AbortController().signal);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(left.map((k) => `${k.mapping}:${k.outcome}`)).toEqual(["broken:waiting"]);
    await waitForCopy(core, target, "ok-pull", password);
    const status = once.status().find((s) => s.name === "broken");
    expect(status?.sourceError).toMatch(/403/);

    const running = await start(kcLimited, configs);
    try {
      await eventually("the broken mapping reports why", () =>
        running.engine
          .status()
          .find((s) => s.name === "broken")
          ?.sourceError?.includes("403")
          ? true
          : undefined,
      );
      expect(await readSecret(core, target, "x-pull")).toBeUndefined();
    } finally {
      await running.stop();
    }
  });

  it("ends run --once within its retry budget while a key keeps failing retryably (a failing webhook)", async () => {
    const label = uniqueName("hook");
    const target = await namespaces.create("trust-hook", { "trust-webhook": label });
    const admission = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
    const name = `${label}.trust.e2e.test`;
    await admission.createValidatingWebhookConfiguration({
      body: {
        metadata: { name },
        webhooks: [
          {
            name,
            // Nothing listens there: every call fails, and the API server answers 500.
            clientConfig: { url: "https://127.0.0.1:9/validate" },
            rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["secrets"] }],
            namespaceSelector: { matchLabels: { "trust-webhook": label } },
            failurePolicy: "Fail",
            sideEffects: "None",
            admissionReviewVersions: ["v1"],
            timeoutSeconds: 1,
          },
        ],
      },
    });
    cleanups.push(() => admission.deleteValidatingWebhookConfiguration({ name }));
    await eventually("the webhook to refuse Secret creates", async () => {
      try {
        await core.createNamespacedSecret({ namespace: target, body: { metadata: { generateName: "probe-" } } });
        return undefined;
      } catch (err) {
        return statusCode(err) === 500 ? true : undefined;
      }
    });
    const engine = new Engine({
      kubeConfig: kc,
      mappings: build(
        kc,
        [
          {
            name: "hooked",
            source: { secret: { name: "regcred-a", namespace: sourceNs } },
            targets: { namespaces: [target] },
            secretName: "hook-pull",
          },
        ],
        new CapturingLogger(),
      ),
      resyncIntervalMs: 0,
      onceRetryBudgetMs: 3000,
    });
    const started = Date.now();
    const left = await engine.runOnce(new AbortController().signal);
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(left.map((k) => `${k.namespace}:${k.outcome}`)).toEqual([`${target}:error`]);
    expect(left[0]?.reason).toMatch(/gave up after .*500/);
  });

  it("retries a watch refused with 403 by relisting, sees new namespaces, and names the missing verb", async () => {
    const kcNoWatch = await limitedIdentity({
      readSourcesIn: sourceNs,
      copyNames: ["nowatch-pull"],
      watchNamespaces: false,
    });
    const label = uniqueName("nowatch");
    const running = await start(kcNoWatch, [
      {
        name: "nowatch",
        source: { secret: { name: "regcred-a", namespace: sourceNs } },
        targets: { selector: { matchLabels: { trust: label } } },
        secretName: "nowatch-pull",
      },
    ]);
    try {
      await eventually("the missing verb reported", () =>
        running.engine.problems().some((p) => p.includes('needs "watch"') && p.includes("/api/v1/namespaces"))
          ? true
          : undefined,
      );
      const fresh = await namespaces.create("trust-nowatch", { trust: label });
      await waitForCopy(core, fresh, "nowatch-pull", password);
    } finally {
      await running.stop();
    }
  });

  it("stops sources no mapping uses after a reload, and reports a source that failed to start", async () => {
    const target = await namespaces.create("trust-src-life");
    const stable = new RecordingSource("stable", password);
    const dropped = new RecordingSource("dropped", password);
    const failing = new RecordingSource("failing", password, new Error("backend refused the login"));
    const m = (name: string, source: SourceProvider): Mapping => ({
      name,
      secretName: `${name}-pull`,
      source,
      selector: { description: "list", matches: (ns) => ns.name === target },
      strategy: { description: "default", selects: (sa) => sa.name === "default" },
      conflictPolicy: "skip",
    });
    const running = await start(kc, [m("stable", stable), m("dropped", dropped), m("failing", failing)]);
    try {
      await waitForCopy(core, target, "dropped-pull", password);
      expect(running.engine.status().find((s) => s.name === "failing")?.sourceState).toBe("failed");
      expect(running.engine.problems().join("\n")).toContain("backend refused the login");
      running.engine.setMappings([m("stable", stable)]);
      expect(dropped.signal?.aborted).toBe(true);
      expect(stable.signal?.aborted).toBe(false);
      await waitForNoSecret(core, target, "dropped-pull");
      await eventually(
        "the removed mapping forgotten once cleaned up",
        () => (running.engine.trackedCounts().retiredMappings === 0 ? true : undefined),
        30_000,
      );
      expect(running.engine.trackedCounts().copyWatches).toBe(1);
    } finally {
      await running.stop();
    }
  });

  it("cleans up the old copies and entries when a mapping's secretName changes, by reload and across a restart", async () => {
    const target = await namespaces.create("trust-rename");
    await waitForDefaultServiceAccount(core, target);
    const config = (secretName: string): unknown[] => [
      {
        name: "renamed",
        source: { secret: { name: "regcred-a", namespace: sourceNs } },
        targets: { namespaces: [target] },
        secretName,
      },
    ];
    const running = await start(kc, config("first-pull"));
    try {
      await waitForPullSecrets(core, target, "default", ["first-pull"]);
      running.reload(config("second-pull"));
      await waitForCopy(core, target, "second-pull", password);
      await waitForNoSecret(core, target, "first-pull");
      await waitForPullSecrets(core, target, "default", ["second-pull"]);
    } finally {
      await running.stop();
    }
    // Changed while stopped: the records on the ServiceAccount name what the mapping left behind.
    const restarted = await start(kc, config("third-pull"));
    try {
      await waitForCopy(core, target, "third-pull", password);
      await waitForNoSecret(core, target, "second-pull");
      await waitForPullSecrets(core, target, "default", ["third-pull"]);
      expect(await records(core, target)).toBe("third-pull@default/renamed");
    } finally {
      await restarted.stop();
    }
  });

  it("keeps its maps bounded: forgets deleted namespaces, caps what tenants' labels can add", async () => {
    const label = uniqueName("bound");
    const running = await start(kc, [
      {
        name: "bound",
        source: { secret: { name: "regcred-a", namespace: sourceNs } },
        targets: { selector: { matchLabels: { trust: label } } },
        secretName: "bound-pull",
      },
    ]);
    try {
      const created: string[] = [];
      for (let i = 0; i < 5; i++) created.push(await namespaces.create("trust-bound", { trust: label }));
      for (const ns of created) await waitForCopy(core, ns, "bound-pull", password);
      const before = running.engine.trackedCounts().keyStatuses;
      await Promise.all(created.map((name) => core.deleteNamespace({ name })));
      await eventually(
        "statuses of deleted namespaces forgotten",
        () => (running.engine.trackedCounts().keyStatuses <= before - 5 ? true : undefined),
        90_000,
      );
      // A tenant labels Secrets named like our copy with made-up mappings of this instance.
      const tenant = await namespaces.create("trust-tenant");
      for (let i = 0; i < 80; i++) {
        await core
          .createNamespacedSecret({
            namespace: tenant,
            body: {
              metadata: {
                name: "bound-pull",
                labels: {
                  [MANAGED_BY_LABEL]: "imagepullsecret-patcher",
                  [MAPPING_LABEL]: `made-up-${i}`,
                  [INSTANCE_LABEL]: "default",
                },
              },
              type: "Opaque",
            },
          })
          .catch(() => undefined);
        await core.deleteNamespacedSecret({ name: "bound-pull", namespace: tenant }).catch(() => undefined);
      }
      await sleep(2000);
      expect(running.engine.trackedCounts().retiredMappings).toBeLessThanOrEqual(64);
    } finally {
      await running.stop();
    }
  });

  /** A ServiceAccount token identity with only the grants named, for RBAC-shaped failures. */
  async function limitedIdentity(o: {
    readSourcesIn: string;
    copyNames: string[];
    watchNamespaces: boolean;
  }): Promise<k8s.KubeConfig> {
    const name = uniqueName("trust-id");
    const home = await namespaces.create("trust-id");
    await core.createNamespacedServiceAccount({ namespace: home, body: { metadata: { name } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [
          { apiGroups: [""], resources: ["namespaces"], verbs: o.watchNamespaces ? ["list", "watch"] : ["list"] },
          { apiGroups: [""], resources: ["serviceaccounts"], verbs: ["list", "watch", "patch"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
          {
            apiGroups: [""],
            resources: ["secrets"],
            resourceNames: o.copyNames,
            verbs: ["list", "watch", "update", "delete"],
          },
          { apiGroups: [""], resources: ["events"], verbs: ["create"] },
        ],
      },
    });
    cleanups.push(() => rbac.deleteClusterRole({ name }));
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [{ kind: "ServiceAccount", name, namespace: home }],
      },
    });
    cleanups.push(() => rbac.deleteClusterRoleBinding({ name }));
    await rbac.createNamespacedRole({
      namespace: o.readSourcesIn,
      body: {
        metadata: { name },
        rules: [
          {
            apiGroups: [""],
            resources: ["secrets"],
            resourceNames: ["regcred-a", "regcred-b"],
            verbs: ["list", "watch"],
          },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: o.readSourcesIn,
      body: {
        metadata: { name },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
        subjects: [{ kind: "ServiceAccount", name, namespace: home }],
      },
    });
    const token = await core.createNamespacedServiceAccountToken({
      name,
      namespace: home,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    return tokenKubeConfig(kc, token.status?.token ?? "", name);
  }
});

/** A source that records the signal it runs under, so a test can see it stopped. */
class RecordingSource implements SourceProvider {
  readonly description: string;
  signal: AbortSignal | undefined;
  readonly #value: SourceValue;
  readonly #startError: Error | undefined;
  constructor(name: string, password: string, startError?: Error) {
    this.description = `recording ${name}`;
    this.#startError = startError;
    const json = JSON.stringify({
      auths: { "registry.example.test": { auth: Buffer.from(`robot:${password}`).toString("base64") } },
    });
    this.#value = { credential: parseDockerConfigJson(json, this.description), fetchedAt: new Date() };
  }
  start(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    return this.#startError ? Promise.reject(this.#startError) : Promise.resolve();
  }
  current(): SourceValue | undefined {
    return this.#startError ? undefined : this.#value;
  }
  status(): { state: "ready" | "pending" } {
    return { state: this.#startError ? "pending" : "ready" };
  }
  onChange(): () => void {
    return () => undefined;
  }
}
