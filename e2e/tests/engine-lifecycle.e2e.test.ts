// Mappings across teams, cleanup on relabel, hot reload, restart, bad sources and terminating namespaces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { ADDED_ANNOTATION } from "@imagepullsecret-patcher/core";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { startEngine, type RunningEngine } from "../src/support/engine.ts";
import {
  TEST_PASSWORD_PREFIX,
  b64,
  putSourceSecret,
  readSecret,
  sleep,
  waitForCopy,
  waitForNoSecret,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

const JSON_PATCH = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.JsonPatch);

describe("mappings, cleanup and failure handling", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const suite = uniqueName("life");
  const passA = `${TEST_PASSWORD_PREFIX}${uniqueName("a")}`;
  const passB = `${TEST_PASSWORD_PREFIX}${uniqueName("b")}`;
  let sourceNs: string;
  let listedA: string;
  const running: RunningEngine[] = [];

  const teamConfigs = (listed: string): unknown[] => [
    {
      name: "team-a",
      source: { secret: { name: "regcred-a", namespace: sourceNs } },
      targets: { namespaces: [listed] },
      secretName: "pull",
    },
    {
      name: "team-a-labelled",
      source: { secret: { name: "regcred-a", namespace: sourceNs } },
      targets: { selector: { matchLabels: { suite, team: "a" } } },
      secretName: "pull",
      serviceAccounts: "all",
    },
    {
      name: "team-b",
      source: { secret: { name: "regcred-b", namespace: sourceNs } },
      targets: { selector: `suite=${suite},team=b` },
      secretName: "pull",
    },
  ];

  async function start(configs: unknown[], options = {}): Promise<RunningEngine> {
    const e = await startEngine(kc, configs, options);
    running.push(e);
    return e;
  }

  beforeAll(async () => {
    sourceNs = await namespaces.create("life-src");
    await putSourceSecret(core, sourceNs, "regcred-a", passA);
    await putSourceSecret(core, sourceNs, "regcred-b", passB);
    listedA = await namespaces.create("life-listed");
  });
  afterAll(async () => {
    for (const e of running) await e.stop();
    await namespaces.cleanup();
    for (const e of running) {
      expect(e.logger.text()).not.toContain(passA);
      expect(e.logger.text()).not.toContain(passB);
    }
  });

  it("sends each team's credential only to its own namespaces, by list and by label", async () => {
    const patcher = await start(teamConfigs(listedA));
    const a = await namespaces.create("life-a", { suite, team: "a" });
    const b = await namespaces.create("life-b", { suite, team: "b" });
    const none = await namespaces.create("life-none", { suite });
    await waitForCopy(core, listedA, "pull", passA);
    await waitForCopy(core, a, "pull", passA);
    await waitForCopy(core, b, "pull", passB);
    await core.createNamespacedServiceAccount({ namespace: a, body: { metadata: { name: "deployer" } } });
    await waitForPullSecrets(core, a, "deployer", ["pull"]); // team-a-labelled patches all ServiceAccounts
    await waitForPullSecrets(core, b, "default", ["pull"]);
    await sleep(500);
    expect(await readSecret(core, none, "pull")).toBeUndefined();

    // Relabel b from team b to team a: b's copy is replaced by a's, entries stay single.
    await core.patchNamespace(
      { name: b, body: [{ op: "replace", path: "/metadata/labels/team", value: "a" }] },
      JSON_PATCH,
    );
    await waitForCopy(core, b, "pull", passA);
    await waitForPullSecrets(core, b, "default", ["pull"]);
    const status = patcher.engine.status();
    expect(status.find((s) => s.name === "team-b")?.inScope).toBe(0);
    await patcher.stop();
  });

  it("reports two mappings writing one Secret into one namespace, and never flip-flops", async () => {
    const ns = await namespaces.create("life-clash", { suite, team: "b", extra: "yes" });
    const patcher = await start([
      {
        name: "first",
        source: { secret: { name: "regcred-a", namespace: sourceNs } },
        targets: { selector: `suite=${suite},extra=yes` },
        secretName: "clash",
      },
      {
        name: "second",
        source: { secret: { name: "regcred-b", namespace: sourceNs } },
        targets: { selector: `suite=${suite},team=b` },
        secretName: "clash",
      },
    ]);
    const copy = await waitForCopy(core, ns, "clash", passA);
    await sleep(2000);
    const later = await readSecret(core, ns, "clash");
    expect(later?.metadata?.resourceVersion).toBe(copy.metadata?.resourceVersion);
    const second = patcher.engine.keyStatuses().find((k) => k.mapping === "second" && k.namespace === ns);
    expect(second?.outcome).toBe("conflict");
    expect(second?.reason).toContain("first");
    await patcher.stop();
  });

  it("cleans up a mapping removed by reload, and keeps it when retain is set", async () => {
    const ns = await namespaces.create("life-reload", { suite, team: "b" });
    const retainNs = await namespaces.create("life-retain", { suite, team: "r" });
    const patcher = await start(teamConfigs(listedA));
    await waitForCopy(core, ns, "pull", passB);
    await waitForPullSecrets(core, ns, "default", ["pull"]);
    patcher.reload(teamConfigs(listedA).slice(0, 2));
    await waitForNoSecret(core, ns, "pull");
    await waitForPullSecrets(core, ns, "default", []);
    await patcher.stop();

    const retaining = await start(
      [
        {
          name: "retained",
          source: { secret: { name: "regcred-b", namespace: sourceNs } },
          targets: { selector: `suite=${suite},team=r` },
          secretName: "kept",
        },
      ],
      { retainOnMappingRemoval: true },
    );
    await waitForCopy(core, retainNs, "kept", passB);
    await waitForPullSecrets(core, retainNs, "default", ["kept"]);
    retaining.engine.setMappings([]);
    await sleep(1500);
    expect(await readSecret(core, retainNs, "kept")).toBeDefined();
    await retaining.stop();
  });

  it("finishes cleanup after a restart: a namespace relabelled while the patcher was down", async () => {
    const ns = await namespaces.create("life-restart", { suite, team: "b" });
    const first = await start(teamConfigs(listedA));
    await waitForCopy(core, ns, "pull", passB);
    await waitForPullSecrets(core, ns, "default", ["pull"]);
    await first.stop();
    await core.patchNamespace({ name: ns, body: [{ op: "remove", path: "/metadata/labels/team" }] }, JSON_PATCH);
    const second = await start(teamConfigs(listedA));
    await waitForNoSecret(core, ns, "pull");
    await waitForPullSecrets(core, ns, "default", []);
    const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
    expect(sa.metadata?.annotations?.[ADDED_ANNOTATION]).toBeUndefined();
    await second.stop();
  });

  it("never propagates a bad source: copies stay, the error is surfaced, and it resumes when fixed", async () => {
    const badSourceNs = await namespaces.create("life-badsrc");
    await putSourceSecret(core, badSourceNs, "flaky", passA);
    const target = await namespaces.create("life-badtgt", { suite, team: "flaky" });
    const patcher = await start([
      {
        name: "flaky",
        source: { secret: { name: "flaky", namespace: badSourceNs } },
        targets: { selector: `suite=${suite},team=flaky` },
        secretName: "flaky-pull",
      },
    ]);
    const good = await waitForCopy(core, target, "flaky-pull", passA);
    // The API server itself refuses a dockerconfigjson Secret that is not JSON; these pass it.
    const bad: [string, k8s.V1Secret][] = [
      [
        "no auths",
        { type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64('{"credsStore":"x"}') } },
      ],
      ["empty auths", { type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64('{"auths":{}}') } }],
      [
        "auth not base64",
        {
          type: "kubernetes.io/dockerconfigjson",
          data: { ".dockerconfigjson": b64('{"auths":{"r":{"auth":"%%%"}}}') },
        },
      ],
    ];
    for (const [what, body] of bad) {
      const current = await core.readNamespacedSecret({ name: "flaky", namespace: badSourceNs });
      await core.replaceNamespacedSecret({ name: "flaky", namespace: badSourceNs, body: { ...current, ...body } });
      const status = await eventually(`source degraded after ${what}`, () => {
        const s = patcher.engine.status()[0];
        return s?.sourceState === "degraded" ? s : undefined;
      });
      expect(status.sourceError).toContain("flaky");
      expect(status.sourceError).not.toContain(passA);
      await putSourceSecret(core, badSourceNs, "flaky", passA);
      await eventually("source ready again", () =>
        patcher.engine.status()[0]?.sourceState === "ready" ? true : undefined,
      );
    }
    // Wrong type: Secret types are immutable, so replace the Secret.
    await core.deleteNamespacedSecret({ name: "flaky", namespace: badSourceNs });
    await eventually("degraded after delete", () =>
      patcher.engine.status()[0]?.sourceState === "degraded" ? true : undefined,
    );
    await putSourceSecret(core, badSourceNs, "flaky", passA, "Opaque");
    await eventually("wrong type reported", () =>
      patcher.engine.status()[0]?.sourceError?.includes("type Opaque") ? true : undefined,
    );
    const kept = await readSecret(core, target, "flaky-pull");
    expect(kept?.metadata?.resourceVersion).toBe(good.metadata?.resourceVersion);
    await core.deleteNamespacedSecret({ name: "flaky", namespace: badSourceNs });
    const rotated = `${passA}-new`;
    await putSourceSecret(core, badSourceNs, "flaky", rotated);
    await waitForCopy(core, target, "flaky-pull", rotated);
    expect(patcher.logger.text()).not.toContain(rotated);
    await patcher.stop();
  });

  it("skips terminating namespaces", async () => {
    const src = await namespaces.create("life-termsrc");
    await putSourceSecret(core, src, "term", passA);
    const ns = await namespaces.create("life-term", { suite, team: "term" });
    const patcher = await start([
      {
        name: "term",
        source: { secret: { name: "term", namespace: src } },
        targets: { selector: `suite=${suite},team=term` },
        secretName: "term-pull",
      },
    ]);
    const copy = await waitForCopy(core, ns, "term-pull", passA);
    // A finalizer on a ConfigMap holds the namespace in Terminating.
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name: "hold", finalizers: ["e2e.example/hold"] } },
    });
    await core.deleteNamespace({ name: ns });
    await eventually("namespace terminating", async () =>
      (await core.readNamespace({ name: ns })).status?.phase === "Terminating" ? true : undefined,
    );
    await putSourceSecret(core, src, "term", `${passA}-2`);
    await sleep(1500);
    const after = await readSecret(core, ns, "term-pull");
    // The namespace controller may already have deleted the copy; it must not have been rewritten.
    if (after) expect(after.metadata?.resourceVersion).toBe(copy.metadata?.resourceVersion);
    // Nothing was attempted there: a write into a terminating namespace would have failed and been logged.
    expect(patcher.logger.lines.filter((l) => l.includes(ns) && l.includes("failed"))).toEqual([]);
    await core.patchNamespacedConfigMap(
      { name: "hold", namespace: ns, body: [{ op: "remove", path: "/metadata/finalizers" }] },
      JSON_PATCH,
    );
    await patcher.stop();
  });
});
