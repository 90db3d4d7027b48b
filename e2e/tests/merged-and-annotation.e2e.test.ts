// Merged sources (`sources:`), the `annotation` selector and the opt-out annotation, through the
// patcher app against the real API server. One patcher process serves every case.
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, uniqueName } from "../src/support/kube.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";
import {
  TEST_PASSWORD_PREFIX,
  b64,
  decodeCopy,
  readSecret,
  waitForNoSecret,
  waitForPullSecrets,
} from "../src/support/fixtures.ts";

const MERGE_PATCH = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const MAPPING_ANNOTATION = "imagepullsecret-patcher.io/mapping";
const OPT_OUT_ANNOTATION = "imagepullsecret-patcher.io/exclude";
const CONFLICT_LOG = "registry host listed by two sources of a merge; the first listed wins";
const SHARED = "shared.registry.test";

const authOf = (password: string): string => Buffer.from(`robot:${password}`).toString("base64");

/** A `.dockerconfigjson` with one `robot:<password>` entry per host. */
function registries(passwords: Record<string, string>): string {
  const auths = Object.fromEntries(Object.entries(passwords).map(([host, pw]) => [host, { auth: authOf(pw) }]));
  return JSON.stringify({ auths });
}

describe("merged sources, the annotation selector and the opt-out annotation", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespaces = new NamespaceScope(core);
  const kubeconfig = inject("kubeconfigPath");
  const suite = uniqueName("mna");
  const pw = (what: string): string => `${TEST_PASSWORD_PREFIX}${suite}-${what}`;
  const dir = mkdtempSync(join(tmpdir(), "merged-and-annotation-"));
  const configPath = join(dir, "config.yaml");
  const optIn = `optin-${suite}`;
  const byLabel = `label-${suite}`;
  const passwords: string[] = [];
  let src: string;
  let patcher: PatcherProcess;
  const outputs: string[] = [];

  const putSource = async (name: string, text: string): Promise<void> => {
    const body: k8s.V1Secret = {
      metadata: { name, namespace: src },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": b64(text) },
    };
    const existing = await readSecret(core, src, name);
    if (!existing) await core.createNamespacedSecret({ namespace: src, body });
    else {
      const metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion };
      await core.replaceNamespacedSecret({ name, namespace: src, body: { ...body, metadata } });
    }
  };
  const serve = (name: string, byHost: Record<string, string>): Promise<void> => {
    passwords.push(...Object.values(byHost));
    return putSource(name, registries(byHost));
  };
  const annotate = (namespace: string, annotations: Record<string, string | null>): Promise<unknown> =>
    core.patchNamespace({ name: namespace, body: { metadata: { annotations } } }, MERGE_PATCH);

  /** Waits until the copy's `auths` holds exactly `byHost` (`robot:<password>` per host). */
  const waitForAuths = (namespace: string, name: string, byHost: Record<string, string>): Promise<true> =>
    eventually(`copy ${namespace}/${name} holding ${Object.keys(byHost).join(", ")}`, async () => {
      const secret = await readSecret(core, namespace, name);
      if (!secret) return undefined;
      const auths = (JSON.parse(decodeCopy(secret)) as { auths: Record<string, unknown> }).auths;
      const expected = (JSON.parse(registries(byHost)) as { auths: Record<string, unknown> }).auths;
      return JSON.stringify(auths) === JSON.stringify(expected) ? true : undefined;
    });

  const config = (withLabelMapping: boolean): string => `
mappings:
  - name: merged
    sources:
      - { name: first, namespace: ${src} }
      - { secret: { name: second, namespace: ${src} } }
    targets: { selector: "suite=${suite},role=merged" }
  - name: ${optIn}
    source: { name: first, namespace: ${src} }
    targets: { annotation: {} }
    secretName: ${optIn}
${
  withLabelMapping
    ? `  - name: ${byLabel}
    source: { name: first, namespace: ${src} }
    targets: { selector: "suite=${suite},by-label=yes" }
    secretName: ${byLabel}
`
    : ""
}controller: { resyncInterval: 0 }
`;
  const writeConfig = (text: string): void => {
    writeFileSync(`${configPath}.next`, text);
    renameSync(`${configPath}.next`, configPath);
  };

  beforeAll(async () => {
    src = await namespaces.create("mna-src");
    await serve("first", { [SHARED]: pw("first-shared"), "first.registry.test": pw("first-own") });
    await serve("second", { [SHARED]: pw("second-shared"), "second.registry.test": pw("second-own") });
    writeConfig(config(true));
    patcher = new PatcherProcess(["run", "--config", configPath, "--kubeconfig", kubeconfig]);
  });

  afterAll(async () => {
    try {
      // Removing a mapping by reload cleans up its copies.
      const labelled = await namespaces.create("mna-reload", { suite, "by-label": "yes" });
      await waitForPullSecrets(core, labelled, "default", [byLabel]);
      writeConfig(config(false));
      await waitForNoSecret(core, labelled, byLabel);
      await waitForPullSecrets(core, labelled, "default", []);
    } finally {
      const code = await patcher.stop();
      outputs.push(patcher.stdout, patcher.stderr);
      await namespaces.cleanup();
      expect(code).toBe(0);
    }
    const text = outputs.join("\n");
    for (const password of passwords) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(authOf(password));
    }
  });

  it("merges two sources into one copy, first wins a shared host with one warning, and keeps a failing source's part", async () => {
    const ns = await namespaces.create("mna-merged", { suite, role: "merged" });
    await waitForAuths(ns, "image-pull-secret", {
      [SHARED]: pw("first-shared"),
      "first.registry.test": pw("first-own"),
      "second.registry.test": pw("second-own"),
    });
    await waitForPullSecrets(core, ns, "default", ["image-pull-secret"]);
    const warning = await patcher.waitForLog((l) => l.msg === CONFLICT_LOG);
    expect(warning).toMatchObject({ host: SHARED, kept: `secret ${src}/first`, ignored: `secret ${src}/second` });

    // The second source changes: the copy follows.
    await serve("second", { [SHARED]: pw("second-shared"), "second.registry.test": pw("second-own-2") });
    await waitForAuths(ns, "image-pull-secret", {
      [SHARED]: pw("first-shared"),
      "first.registry.test": pw("first-own"),
      "second.registry.test": pw("second-own-2"),
    });

    // The second source turns invalid (the API server only takes parseable JSON for this type, so it
    // is JSON without usable auths): its last good part stays, and the first source's change lands.
    await putSource("second", JSON.stringify({ auths: "not a map" }));
    await patcher.waitForLog((l) => l.msg === "source is not usable; existing copies are kept");
    await serve("first", { [SHARED]: pw("first-shared"), "first.registry.test": pw("first-own-2") });
    await waitForAuths(ns, "image-pull-secret", {
      [SHARED]: pw("first-shared"),
      "first.registry.test": pw("first-own-2"),
      "second.registry.test": pw("second-own-2"),
    });
    expect(patcher.logs().filter((l) => l.msg === CONFLICT_LOG)).toHaveLength(1);
  });

  it("plan shows what an annotation mapping would write, and leaves out a namespace that opted out", async () => {
    const planned = `planned-${suite}`;
    const asks = await namespaces.create("mna-plan");
    const optedOut = await namespaces.create("mna-plan-out");
    await annotate(asks, { [MAPPING_ANNOTATION]: `other, ${planned}` });
    await annotate(optedOut, { [MAPPING_ANNOTATION]: planned, [OPT_OUT_ANNOTATION]: "true" });
    const planConfig = join(dir, "plan.yaml");
    writeFileSync(
      planConfig,
      `mappings:\n  - name: ${planned}\n    source: { name: first, namespace: ${src} }\n    targets: { annotation: {} }\n    secretName: ${planned}\n`,
    );
    const plan = await runPatcher(["plan", "--config", planConfig, "--kubeconfig", kubeconfig]);
    outputs.push(plan.stdout, plan.stderr);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(new RegExp(`${planned}\\s+${asks}\\s+create\\s+Secret ${planned}`));
    expect(plan.stdout).not.toContain(optedOut);
    const validate = await runPatcher(["validate", "--config", planConfig]);
    expect(validate.stdout).toContain(`namespaces annotated ${MAPPING_ANNOTATION}: ${planned}`);
    expect(await readSecret(core, asks, planned)).toBeUndefined();
  });

  it("writes the copy where a namespace asks for the mapping by annotation, and cleans up when it stops asking", async () => {
    const ns = await namespaces.create("mna-optin", { suite, "by-label": "yes" });
    await waitForPullSecrets(core, ns, "default", [byLabel]);
    await annotate(ns, { [MAPPING_ANNOTATION]: `someone-else,${optIn}` });
    const copy = await eventually(`copy ${ns}/${optIn}`, () => readSecret(core, ns, optIn), 10_000);
    expect(decodeCopy(copy)).toBe(
      registries({ [SHARED]: pw("first-shared"), "first.registry.test": pw("first-own-2") }),
    );
    await waitForPullSecrets(core, ns, "default", [byLabel, optIn]);
    await annotate(ns, { [MAPPING_ANNOTATION]: null });
    await waitForNoSecret(core, ns, optIn);
    await waitForPullSecrets(core, ns, "default", [byLabel]);
  });

  it("takes a namespace that opted out away from every mapping: copies and ServiceAccount entries removed", async () => {
    const ns = await namespaces.create("mna-out", { suite, role: "merged", "by-label": "yes" });
    await annotate(ns, { [MAPPING_ANNOTATION]: optIn });
    for (const name of [byLabel, optIn, "image-pull-secret"]) {
      await eventually(`copy ${ns}/${name}`, () => readSecret(core, ns, name));
    }
    await eventually(`three entries on ${ns}/default`, async () => {
      const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: ns });
      return (sa.imagePullSecrets ?? []).length === 3 ? true : undefined;
    });
    await annotate(ns, { [OPT_OUT_ANNOTATION]: "true" });
    for (const name of [byLabel, optIn, "image-pull-secret"]) await waitForNoSecret(core, ns, name);
    await waitForPullSecrets(core, ns, "default", []);
  });
});
