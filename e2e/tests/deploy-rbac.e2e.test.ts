// The install manifests (deploy/kustomize/base, deploy/all-in-one.yaml, the Helm chart) are accepted
// by a real API server, and the RBAC they grant is exactly what the patcher needs: copies by name in
// every namespace (including list/watch through ?fieldSelector=metadata.name=<copy>), its source
// Secrets only in their namespaces, nothing else among Secrets, and no verb the code does not use.
// Installing never touches the user's own source Secret; the chart creates one only when asked, and
// keeps cleanup access to the copies of a mapping an upgrade removes.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import {
  NamespaceScope,
  adminKubeConfig,
  eventually,
  statusCode,
  tokenKubeConfig,
  uniqueName,
} from "../src/support/kube.ts";
import {
  USED_CLUSTER_VERBS,
  accessMatrix,
  expectedOf,
  review,
  OTHER_SECRET,
  type Install,
} from "../src/deploy/access.ts";
import { Discovery, rawRequest, serverSideApply, type ApplyResult } from "../src/deploy/apply.ts";
import { CHART_DIR, ensureHelmBinary, helmTemplate, runHelm } from "../src/deploy/helm.ts";
import { relocate } from "../src/deploy/relocate.ts";
import { renderKustomization } from "../src/deploy/kustomize.ts";
import { ALL_IN_ONE, KUSTOMIZE_BASE, renderAllInOne } from "../src/deploy/render-all-in-one.ts";
import { EMPTY_DOCKER_CONFIG, requestMatrix, runRequests } from "../src/deploy/token-checks.ts";
import { describeManifest, parseManifests, parseYaml, type Manifest } from "../src/deploy/yaml.ts";
import {
  TEST_PASSWORD_PREFIX,
  dockerConfigJson,
  putSourceSecret,
  pullSecretNames,
  waitForCopy,
  waitForNoSecret,
} from "../src/support/fixtures.ts";
import { PatcherProcess, runPatcher } from "../src/support/patcher-process.ts";

const TWO_MAPPINGS_VALUES = new URL("../helm/values-two-mappings.yaml", import.meta.url).pathname;
const RESTRICTED = {
  "pod-security.kubernetes.io/enforce": "restricted",
  "pod-security.kubernetes.io/enforce-version": "latest",
};

type Rule = { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] };
type PodSpec = {
  securityContext?: Record<string, unknown>;
  containers: {
    name: string;
    args?: string[];
    env?: { name: string; value?: string; valueFrom?: unknown }[];
    ports?: { name: string; containerPort: number }[];
    livenessProbe?: { httpGet?: { path: string; port: unknown } };
    readinessProbe?: { httpGet?: { path: string; port: unknown } };
    resources?: unknown;
    securityContext?: Record<string, unknown>;
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: { name: string; configMap?: { name: string } }[];
  serviceAccountName?: string;
};
type DeploymentSpec = { replicas: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };

const one = (ms: readonly Manifest[], kind: string, namespace?: string): Manifest => {
  const found = ms.filter((m) => m.kind === kind && (namespace === undefined || m.metadata.namespace === namespace));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${namespace ? ` in ${namespace}` : ""}, found ${found.length}`);
  return found[0] as Manifest;
};
const rules = (m: Manifest): Rule[] => (m as unknown as { rules: Rule[] }).rules;
/** The rule over named Secrets: in the ClusterRole the copies' (the one that can update), in a Role the sources'. */
const secretRule = (m: Manifest): Rule | undefined =>
  rules(m).find(
    (r) =>
      r.resources?.includes("secrets") && r.resourceNames && (m.kind !== "ClusterRole" || r.verbs.includes("update")),
  );
const podSpec = (ms: readonly Manifest[]): PodSpec =>
  (one(ms, "Deployment") as unknown as { spec: DeploymentSpec }).spec.template.spec;
const configOf = (ms: readonly Manifest[]): Record<string, unknown> =>
  parseYaml((one(ms, "ConfigMap") as unknown as { data: Record<string, string> }).data["config.yaml"] ?? "") as Record<
    string,
    unknown
  >;

/**
 * What the config says RBAC must allow, computed independently of the chart's template code. Copy
 * name: the mapping's secretName, else the top-level one, else the source Secret's name for a
 * `secret` source, else `image-pull-secret`.
 */
function expectedRbac(config: Record<string, unknown>): { copyNames: string[]; sources: Record<string, string[]> } {
  const topLevel = config.secretName as string | undefined;
  const mappings = (config.mappings as
    { source: { secret?: { name: string; namespace: string } }; secretName?: string }[] | undefined) ?? [
    { source: config.source as { secret?: { name: string; namespace: string } } },
  ];
  const copyNames = [
    ...new Set(mappings.map((m) => m.secretName ?? topLevel ?? m.source.secret?.name ?? "image-pull-secret")),
  ].sort();
  const sources: Record<string, string[]> = {};
  for (const m of mappings) if (m.source.secret) (sources[m.source.secret.namespace] ??= []).push(m.source.secret.name);
  for (const ns of Object.keys(sources)) sources[ns] = [...new Set(sources[ns])].sort();
  return { copyNames, sources };
}

/** A ClusterRole's rules as `resource [names]` -> verbs, to compare with what the code uses. */
function clusterRoleShape(m: Manifest): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {};
  for (const r of rules(m)) {
    for (const resource of r.resources ?? []) {
      const key = r.resourceNames
        ? `${resource} ${r.resourceNames.join(",")}`
        : resource === "secrets"
          ? "secrets (any name)"
          : resource;
      if (key in out) throw new Error(`${describeManifest(m)} has two rules for ${key}`);
      out[key] = r.verbs;
    }
  }
  return out;
}

/** RBAC as rendered: copy names from the ClusterRole, source names from each source Role. */
function renderedRbac(ms: readonly Manifest[]): { copyNames: string[]; sources: Record<string, string[]> } {
  const copyNames = [...(secretRule(one(ms, "ClusterRole"))?.resourceNames ?? [])].sort();
  const sources: Record<string, string[]> = {};
  for (const role of ms.filter((m) => m.kind === "Role")) {
    const rule = secretRule(role);
    if (!rule) {
      expect(
        rules(role).some((r) => r.resources?.includes("secrets")),
        `${describeManifest(role)} grants Secrets without names`,
      ).toBe(false);
      continue;
    }
    const names = [...(rule.resourceNames ?? [])].sort();
    expect(rules(role), describeManifest(role)).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: rule.resourceNames,
        verbs: [...USED_CLUSTER_VERBS.sources],
      },
    ]);
    sources[role.metadata.namespace ?? ""] = names;
  }
  return { copyNames, sources };
}

describe("install manifests and the patcher's RBAC", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const discovery = new Discovery(kc);
  const namespaces = new NamespaceScope(core);
  const clusterScoped: Manifest[] = [];
  const installs: Record<"kustomize" | "helm", Install | undefined> = { kustomize: undefined, helm: undefined };
  /** The config.yaml each install ships (in its unique namespaces). */
  const configs: Record<"kustomize" | "helm", Record<string, unknown> | undefined> = {
    kustomize: undefined,
    helm: undefined,
  };
  const base = parseManifests(readFileSync(ALL_IN_ONE, "utf8"));
  const work = mkdtempSync(join(tmpdir(), "deploy-rbac-"));
  let helm = "";

  beforeAll(async () => {
    const started = Date.now();
    helm = await ensureHelmBinary((line) => process.stderr.write(`${line}\n`));
    const version = await runHelm(helm, ["version", "--short"], work);
    process.stderr.write(`[deploy-rbac] helm ${version.stdout.trim()} ready in ${Date.now() - started} ms\n`);
  });
  afterAll(async () => {
    for (const m of clusterScoped) {
      const res = await rawRequest(kc, "DELETE", await discovery.objectPath(m));
      if (res.status !== 200 && res.status !== 404)
        throw new Error(`deleting ${describeManifest(m)}: HTTP ${res.status}`);
    }
    await namespaces.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** Server-side applies every object with dryRun=All (nothing may persist), then for real. */
  async function applyTwice(ms: readonly Manifest[]): Promise<{ dry: ApplyResult[]; real: ApplyResult[] }> {
    const dry: ApplyResult[] = [];
    for (const m of ms) dry.push(await serverSideApply(kc, discovery, m, { dryRun: true }));
    for (const r of dry.filter((d) => d.manifest.kind.startsWith("Cluster"))) {
      const after = await rawRequest(kc, "GET", await discovery.objectPath(r.manifest));
      expect(after.status, `${describeManifest(r.manifest)} must not exist after a dry run`).toBe(404);
    }
    const real: ApplyResult[] = [];
    for (const m of ms) {
      if (!m.metadata.namespace && m.kind !== "Namespace") clusterScoped.push(m);
      real.push(await serverSideApply(kc, discovery, m, { dryRun: false }));
    }
    return { dry, real };
  }

  const outcome = (results: ApplyResult[]): Record<string, string> =>
    Object.fromEntries(
      results.map((r) => [
        describeManifest(r.manifest),
        r.status < 300 && r.warnings.length === 0
          ? "accepted"
          : `HTTP ${r.status} ${JSON.stringify(r.body.message ?? "")} ${r.warnings.join("; ")}`,
      ]),
    );
  const allAccepted = (ms: readonly Manifest[]): Record<string, string> =>
    Object.fromEntries(ms.map((m) => [describeManifest(m), "accepted"]));

  /** Dry-run-creates a Pod from the Deployment's template: the namespace enforces PodSecurity `restricted`. */
  async function podFromTemplate(
    ms: readonly Manifest[],
    namespace: string,
    mutate: (spec: PodSpec) => void = () => {},
  ): Promise<ApplyResult> {
    const spec = structuredClone(podSpec(ms));
    mutate(spec);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: uniqueName("pss-probe"), namespace },
      spec,
    } as unknown as Manifest;
    return serverSideApply(kc, discovery, pod, { dryRun: true });
  }

  describe("kustomize base and deploy/all-in-one.yaml", () => {
    it("all-in-one.yaml is exactly the rendered kustomize base", () => {
      expect(readFileSync(ALL_IN_ONE, "utf8"), "run: node e2e/src/deploy/render-all-in-one.ts --write").toBe(
        renderAllInOne(),
      );
      expect(base.map(describeManifest)).toEqual([
        "Namespace imagepullsecret-patcher",
        "ServiceAccount imagepullsecret-patcher/imagepullsecret-patcher",
        "ConfigMap imagepullsecret-patcher/imagepullsecret-patcher-config",
        "ClusterRole imagepullsecret-patcher",
        "ClusterRoleBinding imagepullsecret-patcher",
        "Role kube-system/imagepullsecret-patcher-source",
        "RoleBinding kube-system/imagepullsecret-patcher-source",
        "Role imagepullsecret-patcher/imagepullsecret-patcher-leader-election",
        "RoleBinding imagepullsecret-patcher/imagepullsecret-patcher-leader-election",
        "Service imagepullsecret-patcher/imagepullsecret-patcher",
        "Deployment imagepullsecret-patcher/imagepullsecret-patcher",
        "PodDisruptionBudget imagepullsecret-patcher/imagepullsecret-patcher",
      ]);
      expect(KUSTOMIZE_BASE).toContain("deploy/kustomize/base");
      // Nothing a user applies may carry a Secret: it would replace their real credential.
      expect(base.filter((m) => m.kind === "Secret").map(describeManifest)).toEqual([]);
      expect(
        parseManifests(renderKustomization(KUSTOMIZE_BASE))
          .filter((m) => m.kind === "Secret")
          .map(describeManifest),
      ).toEqual([]);
    });

    it("grants exactly the verbs the patcher's code uses, nothing more", () => {
      expect(clusterRoleShape(one(base, "ClusterRole"))).toEqual({
        namespaces: USED_CLUSTER_VERBS.namespaces,
        serviceaccounts: USED_CLUSTER_VERBS.serviceaccounts,
        "secrets (any name)": USED_CLUSTER_VERBS.secretsCreate,
        "secrets regcred": USED_CLUSTER_VERBS.copies,
        events: USED_CLUSTER_VERBS.events,
      });
    });

    it("grants RBAC that matches its seed config, and runs locked down with leader election", () => {
      const config = configOf(base);
      expect(config).toEqual({
        source: { secret: { name: "regcred", namespace: "kube-system" } },
        leaderElection: { enabled: true, name: "imagepullsecret-patcher" },
      });
      expect(renderedRbac(base)).toEqual(expectedRbac(config));
      // The copies carry the source's name.
      expect(renderedRbac(base)).toEqual({ copyNames: ["regcred"], sources: { "kube-system": ["regcred"] } });

      const deployment = (one(base, "Deployment") as unknown as { spec: DeploymentSpec }).spec;
      expect(deployment.replicas).toBe(2);
      const pod = deployment.template.spec;
      const [container] = pod.containers;
      expect(pod.serviceAccountName).toBe("imagepullsecret-patcher");
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container?.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(container?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(container?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(container?.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      const resources = container?.resources as
        { requests?: Record<string, string>; limits?: Record<string, string> } | undefined;
      expect(Object.keys(resources?.requests ?? {}).sort()).toEqual(["cpu", "memory"]);
      expect(Object.keys(resources?.limits ?? {})).toEqual(["memory"]);
      expect(container?.args).toContain("--config=/etc/imagepullsecret-patcher/config.yaml");
      expect(container?.volumeMounts).toContainEqual({
        name: "config",
        mountPath: "/etc/imagepullsecret-patcher",
        readOnly: true,
      });
      expect(pod.volumes).toContainEqual({ name: "config", configMap: { name: one(base, "ConfigMap").metadata.name } });

      expect(container?.env?.map((e) => e.name)).toEqual(["POD_NAME", "POD_NAMESPACE"]);
      const lease = (config.leaderElection as { name: string }).name;
      const leaderRole = base.find((m) => m.kind === "Role" && m.metadata.name.endsWith("-leader-election"));
      expect(leaderRole?.metadata.namespace).toBe("imagepullsecret-patcher");
      expect(rules(leaderRole as Manifest)).toEqual([
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: [lease], verbs: ["get", "update"] },
      ]);
    });

    it("is accepted by the API server (dryRun=All, then for real), and its pods pass PodSecurity restricted", async () => {
      const suffix = uniqueName("k").slice(2);
      const patcherNs = await namespaces.create("ipsp-kustomize");
      const sourceNs = await namespaces.create("ipsp-kustomize-src");
      const moved = relocate(base, {
        namespaces: { "imagepullsecret-patcher": patcherNs, "kube-system": sourceNs },
        clusterSuffix: suffix,
      });
      expect(configOf(moved).source).toEqual({ secret: { name: "regcred", namespace: sourceNs } });

      const { dry, real } = await applyTwice(moved);
      expect(outcome(dry)).toEqual(allAccepted(moved));
      expect(outcome(real)).toEqual(allAccepted(moved));

      const stored = await rbac.readClusterRole({ name: `imagepullsecret-patcher-${suffix}` });
      expect(stored.rules).toEqual(rules(one(base, "ClusterRole")));
      const ns = await core.readNamespace({ name: patcherNs });
      expect(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");

      const probe = await podFromTemplate(moved, patcherNs);
      expect(outcome([probe])).toEqual(allAccepted([probe.manifest]));
      // The namespace really enforces `restricted`: the same pod without its hardening is refused.
      const weak = await podFromTemplate(moved, patcherNs, (spec) => {
        for (const c of spec.containers) delete c.securityContext;
      });
      expect(weak.status).toBe(403);
      expect(String(weak.body.message)).toContain("violates PodSecurity");

      configs.kustomize = configOf(moved);
      installs.kustomize = {
        label: "kustomize",
        namespace: patcherNs,
        serviceAccount: "imagepullsecret-patcher",
        copyNames: ["regcred"],
        sources: { [sourceNs]: ["regcred"] },
        lease: "imagepullsecret-patcher",
      };
    });
  });

  describe("installing never replaces the user's source Secret", () => {
    it.each([
      ["deploy/all-in-one.yaml", (): Manifest[] => base],
      ["deploy/kustomize/base", (): Manifest[] => parseManifests(renderKustomization(KUSTOMIZE_BASE))],
    ] as const)(
      "applying %s after creating the real kube-system/regcred leaves its bytes unchanged",
      async (what, manifests) => {
        const suffix = uniqueName("keep").slice(2);
        const patcherNs = await namespaces.create("ipsp-keep");
        const sourceNs = await namespaces.create("ipsp-keep-src");
        // docs/install.md step 1: the user's real credential, in the source namespace.
        const password = `${TEST_PASSWORD_PREFIX}${uniqueName("keep")}`;
        await putSourceSecret(core, sourceNs, "regcred", password);
        const before = await core.readNamespacedSecret({ name: "regcred", namespace: sourceNs });

        // Step 2: the manifest, as shipped (moved into unique namespaces, the source's with it).
        const moved = relocate(manifests(), {
          namespaces: { "imagepullsecret-patcher": patcherNs, "kube-system": sourceNs },
          clusterSuffix: suffix,
        });
        const { real } = await applyTwice(moved);
        expect(outcome(real)).toEqual(allAccepted(moved));

        const after = await core.readNamespacedSecret({ name: "regcred", namespace: sourceNs });
        expect(after.type).toBe("kubernetes.io/dockerconfigjson");
        expect(after.data, `${what} changed the credential`).toEqual(before.data);
        expect(Buffer.from(after.data?.[".dockerconfigjson"] ?? "", "base64").toString()).toBe(
          dockerConfigJson(password),
        );
        expect(after.metadata?.resourceVersion, `${what} wrote to the source Secret`).toBe(
          before.metadata?.resourceVersion,
        );
        expect(after.metadata?.managedFields?.map((f) => f.manager)).toEqual(
          before.metadata?.managedFields?.map((f) => f.manager),
        );
      },
    );
  });

  describe("Helm chart", () => {
    const render = async (
      valuesFiles: string[] = [],
      set: string[] = [],
      release = "imagepullsecret-patcher",
      namespace = "imagepullsecret-patcher",
    ): Promise<Manifest[]> => parseManifests(await helmTemplate(helm, work, { release, namespace, valuesFiles, set }));
    const valuesFile = (name: string, values: unknown): string => {
      const path = join(work, name);
      writeFileSync(path, JSON.stringify(values)); // JSON is YAML
      return path;
    };

    const failure = async (values: unknown, set: string[] = []): Promise<string> =>
      render([valuesFile(`${uniqueName("bad")}.json`, values)], set).then(
        () => "rendered",
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );

    it("passes helm lint", async () => {
      const lint = await runHelm(helm, ["lint", "--strict", CHART_DIR], work);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      const lint2 = await runHelm(helm, ["lint", "--strict", CHART_DIR, "--values", TWO_MAPPINGS_VALUES], work);
      expect(lint2.code, lint2.stdout + lint2.stderr).toBe(0);
    });

    it("by default renders the seed layout with the same RBAC, pod and security settings as the kustomize base", async () => {
      const ms = await render();
      expect(configOf(ms)).toEqual(configOf(base));
      expect(renderedRbac(ms)).toEqual({ copyNames: ["regcred"], sources: { "kube-system": ["regcred"] } });
      // Release "imagepullsecret-patcher" gives the base's names, so the grants must be identical.
      for (const kind of ["ClusterRole", "Role"]) {
        const byName = (xs: readonly Manifest[]): Record<string, Rule[]> =>
          Object.fromEntries(
            xs
              .filter((m) => m.kind === kind)
              .map((m) => [`${m.metadata.namespace ?? ""}/${m.metadata.name}`, rules(m)]),
          );
        expect(byName(ms)).toEqual(byName(base));
      }
      const [chartPod, basePod] = [podSpec(ms), podSpec(base)];
      expect(chartPod.securityContext).toEqual(basePod.securityContext);
      for (const key of [
        "args",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "resources",
        "securityContext",
        "volumeMounts",
      ] as const) {
        expect(chartPod.containers[0]?.[key], key).toEqual(basePod.containers[0]?.[key]);
      }
      expect((one(ms, "Deployment") as unknown as { spec: DeploymentSpec }).spec.replicas).toBe(2);
      expect(ms.filter((m) => m.kind === "ServiceMonitor")).toEqual([]);

      // The seed form with another copy name.
      const renamed = await render([], ["config.secretName=custom-pull"]);
      expect(configOf(renamed)).toEqual({ ...configOf(base), secretName: "custom-pull" });
      expect(renderedRbac(renamed)).toEqual({ copyNames: ["custom-pull"], sources: { "kube-system": ["regcred"] } });
    });

    it("derives RBAC from the two-mapping values file: every copy name, one Role per source namespace", async () => {
      const ms = await render([TWO_MAPPINGS_VALUES]);
      const config = configOf(ms);
      expect(config.source, "no seed source next to mappings").toBeUndefined();
      expect((config.mappings as unknown[]).length).toBe(2);
      expect(renderedRbac(ms)).toEqual({
        copyNames: ["shared-pull-secret", "team-b-pull"],
        sources: { "registry-creds": ["regcred"], "team-b-creds": ["team-b-cred"] },
      });
      expect(renderedRbac(ms)).toEqual(expectedRbac(config));
      for (const binding of ms.filter((m) => m.kind === "RoleBinding" || m.kind === "ClusterRoleBinding")) {
        expect((binding as unknown as { subjects: unknown[] }).subjects).toEqual([
          { kind: "ServiceAccount", name: "imagepullsecret-patcher", namespace: "imagepullsecret-patcher" },
        ]);
      }
    });

    it("ships configs the patcher accepts (imagepullsecret-patcher validate)", async () => {
      const configs: Record<string, Record<string, unknown>> = {
        "kustomize base": configOf(base),
        "chart defaults": configOf(await render()),
        "chart, two mappings": configOf(await render([TWO_MAPPINGS_VALUES])),
      };
      const results = Object.fromEntries(
        await Promise.all(
          Object.entries(configs).map(async ([what, config]) => {
            const r = await runPatcher([
              "validate",
              "--config",
              valuesFile(`${what.replaceAll(/\W+/g, "-")}-config.json`, config),
            ]);
            return [
              what,
              r.code === 0
                ? (r.stdout.split("\n")[0]?.replace(/^\S+: /, "") ?? "")
                : `exit ${r.code}: ${r.stderr}${r.stdout}`,
            ] as const;
          }),
        ),
      );
      expect(results).toEqual({
        "kustomize base": "valid, 1 mapping(s)",
        "chart defaults": "valid, 1 mapping(s)",
        "chart, two mappings": "valid, 2 mapping(s)",
      });
    });

    it("groups source Secrets per namespace, skips file and vault sources, adds extra secret names", async () => {
      const values = valuesFile("grouping.json", {
        config: {
          mappings: [
            { name: "a", source: { secret: { name: "cred-b", namespace: "creds" } }, targets: { all: {} } },
            {
              name: "b",
              source: { secret: { name: "cred-a", namespace: "creds" } },
              targets: { namespaces: ["x"] },
              secretName: "pull-b",
            },
            {
              name: "c",
              source: { file: { path: "/etc/creds/c.json" } },
              targets: { namespaces: ["y"] },
              secretName: "pull-c",
            },
            {
              name: "d",
              source: { vault: { address: "https://vault.example:8200", path: "secret/data/d" } },
              targets: { selector: { matchLabels: { t: "d" } } },
              secretName: "pull-b",
            },
            {
              name: "e",
              source: { secret: { name: "cred-a", namespace: "creds" } },
              targets: { namespaces: ["z"] },
              secretName: "pull-e",
            },
          ],
        },
        rbac: { extraSecretNames: ["plugin-pull"] },
      });
      const ms = await render([values]);
      expect(renderedRbac(ms)).toEqual({
        // "a" sets no secretName: its copies carry its source's name; "c" (a file source) names its own.
        copyNames: ["cred-b", "plugin-pull", "pull-b", "pull-c", "pull-e"],
        sources: { creds: ["cred-a", "cred-b"] },
      });
      expect(
        ms
          .filter((m) => m.kind === "RoleBinding")
          .map(describeManifest)
          .sort(),
      ).toEqual([
        "RoleBinding creds/imagepullsecret-patcher-source",
        "RoleBinding imagepullsecret-patcher/imagepullsecret-patcher-leader-election",
      ]);

      // A config without any secret source needs no source Role at all.
      const fileOnly = await render([
        valuesFile("file-only.json", { config: { source: { file: { path: "/creds/config.json" } } } }),
      ]);
      expect(renderedRbac(fileOnly)).toEqual({ copyNames: ["image-pull-secret"], sources: {} });
    });

    it("reads the secret sources inside merged `sources:`; a merged copy and a cloud source's copy default to image-pull-secret", async () => {
      const values = valuesFile("merged.json", {
        config: {
          mappings: [
            {
              name: "merged",
              sources: [
                { secret: { name: "hub", namespace: "creds" } },
                { name: "private", namespace: "team-creds" },
                { ecr: { registries: [{ region: "eu-west-1" }] } },
              ],
              targets: { namespaces: ["a"] },
            },
            {
              name: "gcp",
              source: { gcp: { registries: ["gcr.io"] } },
              targets: { namespaces: ["b"] },
              secretName: "gcr",
            },
          ],
        },
      });
      expect(renderedRbac(await render([values]))).toEqual({
        copyNames: ["gcr", "image-pull-secret"],
        sources: { creds: ["hub"], "team-creds": ["private"] },
      });
      expect(await failure({ config: { mappings: [{ name: "m", sources: [], targets: { all: {} } }] } })).toContain(
        "config.mappings[0].sources must be a non-empty list of sources",
      );
    });

    it("renders a ServiceMonitor only when enabled", async () => {
      const ms = await render(
        [],
        ["serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom", "serviceMonitor.interval=15s"],
        "rel",
        "mon",
      );
      const sm = one(ms, "ServiceMonitor") as Manifest & { spec: Record<string, unknown> };
      expect(sm.apiVersion).toBe("monitoring.coreos.com/v1");
      expect(sm.metadata).toMatchObject({
        name: "rel-imagepullsecret-patcher",
        namespace: "mon",
        labels: { release: "prom" },
      });
      const service = one(ms, "Service") as Manifest & {
        spec: { selector: Record<string, string>; ports: { name: string }[] };
      };
      expect(sm.spec).toEqual({
        namespaceSelector: { matchNames: ["mon"] },
        selector: { matchLabels: service.spec.selector },
        endpoints: [{ port: "http", path: "/metrics", interval: "15s", scrapeTimeout: "10s" }],
      });
      expect(service.spec.ports.map((p) => p.name)).toEqual(["http"]);
      expect((await render([], ["serviceMonitor.enabled=false"])).some((m) => m.kind === "ServiceMonitor")).toBe(false);
    });

    it("grants exactly the verbs the patcher's code uses, nothing more", async () => {
      const ms = await render([TWO_MAPPINGS_VALUES]);
      expect(clusterRoleShape(one(ms, "ClusterRole"))).toEqual({
        namespaces: USED_CLUSTER_VERBS.namespaces,
        serviceaccounts: USED_CLUSTER_VERBS.serviceaccounts,
        "secrets (any name)": USED_CLUSTER_VERBS.secretsCreate,
        "secrets shared-pull-secret,team-b-pull": USED_CLUSTER_VERBS.copies,
        events: USED_CLUSTER_VERBS.events,
      });
      // With helm template nothing is looked up: cleanup-only names come from rbac.retiredSecretNames.
      const retired = await render([TWO_MAPPINGS_VALUES], ["rbac.retiredSecretNames={old-pull,team-b-pull}"]);
      expect(clusterRoleShape(one(retired, "ClusterRole"))).toMatchObject({
        "secrets old-pull": USED_CLUSTER_VERBS.retired,
      });
      expect(one(retired, "ClusterRole").metadata.annotations).toEqual({
        "imagepullsecret-patcher.io/copy-names": "shared-pull-secret,team-b-pull",
        "imagepullsecret-patcher.io/retired-secret-names": "old-pull",
      });
    });

    it("renders no Secret by default; source.create: true renders the configured source once", async () => {
      for (const ms of [await render(), await render([TWO_MAPPINGS_VALUES])])
        expect(ms.filter((m) => m.kind === "Secret").map(describeManifest)).toEqual([]);

      const credential = dockerConfigJson(`${TEST_PASSWORD_PREFIX}chart`);
      const created = await render([
        valuesFile("source-create.json", { source: { create: true, dockerConfigJson: credential } }),
      ]);
      const secrets = created.filter((m) => m.kind === "Secret") as (Manifest & {
        type: string;
        data: Record<string, string>;
      })[];
      expect(secrets.map(describeManifest)).toEqual(["Secret kube-system/regcred"]);
      expect(secrets[0]?.type).toBe("kubernetes.io/dockerconfigjson");
      expect(Buffer.from(secrets[0]?.data[".dockerconfigjson"] ?? "", "base64").toString()).toBe(credential);
      expect(secrets[0]?.metadata.annotations).toEqual({ "helm.sh/resource-policy": "keep" });
      expect(configOf(created)).toEqual(configOf(await render()));

      // With mappings, it says which source to create, and it must be one the config reads.
      const two = parseYaml(readFileSync(TWO_MAPPINGS_VALUES, "utf8")) as Record<string, unknown>;
      expect(await failure({ ...two, source: { create: true, dockerConfigJson: credential } })).toContain(
        "source.create: set source.name and source.namespace",
      );
      expect(
        await failure({
          ...two,
          source: { create: true, name: "regcred", namespace: "kube-system", dockerConfigJson: credential },
        }),
      ).toContain("kube-system/regcred is not a `secret` source in config");
      const teamB = await render([
        valuesFile("source-create-team-b.json", {
          ...two,
          source: { create: true, name: "team-b-cred", namespace: "team-b-creds", dockerConfigJson: credential },
        }),
      ]);
      expect(teamB.filter((m) => m.kind === "Secret").map(describeManifest)).toEqual([
        "Secret team-b-creds/team-b-cred",
      ]);
      expect(await failure({ source: { create: true } })).toContain("source.create needs source.dockerConfigJson");
      expect(await failure({ source: { create: true, dockerConfigJson: "not json" } })).toContain(
        'must be a JSON object with an "auths" map',
      );
    });

    it("refuses inline Vault credentials (they would land in a ConfigMap) and accepts tokenFile / secretIdFile", async () => {
      const vault = (auth: unknown, seed = false): unknown => {
        const source = {
          vault: { address: "https://vault.example:8200", path: "secret/data/registry", key: "dockerconfigjson", auth },
        };
        return {
          config: seed
            ? { source }
            : { mappings: [{ name: "v", source, targets: { all: {} }, secretName: "vault-pull" }] },
        };
      };
      const inlineToken = await failure(vault({ token: { token: "hvs.INLINE-TOKEN" } }));
      expect(inlineToken).toContain(
        "config.mappings[0].source.vault.auth.token.token: the chart does not accept an inline Vault token",
      );
      expect(inlineToken).toContain("tokenFile");
      expect(inlineToken).not.toContain("hvs.INLINE-TOKEN");
      expect(await failure(vault({ token: { token: "hvs.INLINE-TOKEN" } }, true))).toContain(
        "config.source.vault.auth.token.token",
      );
      const inlineSecretId = await failure(vault({ appRole: { roleId: "patcher", secretId: "INLINE-SECRET-ID" } }));
      expect(inlineSecretId).toContain(
        "config.mappings[0].source.vault.auth.appRole.secretId: the chart does not accept an inline AppRole secret ID",
      );
      expect(inlineSecretId).not.toContain("INLINE-SECRET-ID");

      // The documented way: the credential in a Secret, mounted as a file.
      const mounted = await render([
        valuesFile("vault-token-file.json", {
          ...(vault({ token: { tokenFile: "/var/run/vault/token" } }) as Record<string, unknown>),
          extraVolumes: [{ name: "vault-token", secret: { secretName: "vault-token" } }],
          extraVolumeMounts: [{ name: "vault-token", mountPath: "/var/run/vault", readOnly: true }],
        }),
      ]);
      expect(JSON.stringify(configOf(mounted))).toContain('"tokenFile":"/var/run/vault/token"');
      expect(podSpec(mounted).volumes).toContainEqual({ name: "vault-token", secret: { secretName: "vault-token" } });
      const appRole = await render([
        valuesFile(
          "vault-secret-id-file.json",
          vault({ appRole: { roleId: "patcher", secretIdFile: "/var/run/vault/secret-id" } }),
        ),
      ]);
      expect(renderedRbac(appRole)).toEqual({ copyNames: ["vault-pull"], sources: {} });
    });

    it("refuses configs it cannot derive RBAC from", async () => {
      const mapping = { name: "a", source: { secret: { name: "s", namespace: "n" } }, targets: { all: {} } };
      expect(await failure({ config: { mappings: [] } })).toContain("config.mappings is empty");
      expect(
        await failure({ config: { source: { secret: { name: "s", namespace: "n" } }, mappings: [mapping] } }),
      ).toContain("config sets both `source` (seed form) and `mappings`");
      expect(await failure({ config: { source: { secret: { name: "regcred" } } } })).toContain(
        "config.source.secret.namespace is required",
      );
      expect(
        await failure({
          config: { mappings: [{ name: "a", source: { secret: { namespace: "n" } }, targets: { all: {} } }] },
        }),
      ).toContain("config.mappings[0].source.secret.name is required");
      expect(await failure({ config: { secretName: "Not_A_Name" } })).toContain("is not a valid Secret name");
      expect(await failure({ replicaCount: 2, leaderElection: { enabled: false } })).toContain(
        "replicaCount > 1 needs leaderElection.enabled",
      );
    });

    it("two-mapping release is accepted by the API server (dryRun=All, then for real), and its pods pass PodSecurity restricted", async () => {
      const release = uniqueName("rel");
      const patcherNs = await namespaces.create("ipsp-helm", RESTRICTED);
      const registryCreds = await namespaces.create("registry-creds");
      const teamCreds = await namespaces.create("team-b-creds");
      const original = parseYaml(readFileSync(TWO_MAPPINGS_VALUES, "utf8")) as {
        config: { mappings: { source: { secret: { namespace: string } } }[] };
      };
      const rename: Record<string, string> = { "registry-creds": registryCreds, "team-b-creds": teamCreds };
      for (const m of original.config.mappings)
        m.source.secret.namespace = rename[m.source.secret.namespace] ?? m.source.secret.namespace;
      const ms = await render([valuesFile("two-mappings-unique.json", original)], [], release, patcherNs);

      const fullname = `${release}-imagepullsecret-patcher`;
      expect(renderedRbac(ms)).toEqual({
        copyNames: ["shared-pull-secret", "team-b-pull"],
        sources: { [registryCreds]: ["regcred"], [teamCreds]: ["team-b-cred"] },
      });
      const { dry, real } = await applyTwice(ms);
      expect(outcome(dry)).toEqual(allAccepted(ms));
      expect(outcome(real)).toEqual(allAccepted(ms));
      const probe = await podFromTemplate(ms, patcherNs);
      expect(outcome([probe])).toEqual(allAccepted([probe.manifest]));

      // The sources exist for the real requests below.
      for (const [namespace, name] of [
        [registryCreds, "regcred"],
        [teamCreds, "team-b-cred"],
      ] as const) {
        await core.createNamespacedSecret({
          namespace,
          body: {
            metadata: { name },
            type: "kubernetes.io/dockerconfigjson",
            data: { ".dockerconfigjson": EMPTY_DOCKER_CONFIG },
          },
        });
      }
      configs.helm = configOf(ms);
      installs.helm = {
        label: "helm",
        namespace: patcherNs,
        serviceAccount: fullname,
        copyNames: ["shared-pull-secret", "team-b-pull"],
        sources: { [registryCreds]: ["regcred"], [teamCreds]: ["team-b-cred"] },
        lease: fullname,
      };
    });

    /**
     * A release with two mappings (team-a, team-b; no secretName, so the copies are named after the
     * sources) and the values that drop team-b. Each release runs as its own instance, as any
     * installation sharing a cluster with others (the other suites' patchers) must.
     */
    async function upgradeScenario(): Promise<{
      release: string;
      fullname: string;
      patcherNs: string;
      creds: string;
      target: string;
      v1: string;
      v2: string;
      helmOk: (...args: string[]) => Promise<void>;
      install: (copyNames: string[], sourceNames: string[], retiredNames?: string[]) => Install;
      reviewed: (i: Install, probe: { verb: string; name: string; allowed: boolean }) => Promise<void>;
      annotations: () => Promise<Record<string, string>>;
      uninstall: () => Promise<void>;
    }> {
      const release = uniqueName("upg");
      const fullname = `${release}-imagepullsecret-patcher`;
      const patcherNs = await namespaces.create("ipsp-upgrade", RESTRICTED);
      const creds = await namespaces.create("ipsp-upgrade-creds");
      const target = await namespaces.create("ipsp-upgrade-target");
      const mapping = (team: string): Record<string, unknown> => ({
        name: team,
        source: { secret: { name: `${team}-cred`, namespace: creds } },
        targets: { namespaces: [target] },
      });
      const controller = { instance: release };
      const v1 = valuesFile(`${release}-v1.json`, {
        replicaCount: 1,
        config: { controller, mappings: [mapping("team-a"), mapping("team-b")] },
      });
      const v2 = valuesFile(`${release}-v2.json`, {
        replicaCount: 1,
        config: { controller, mappings: [mapping("team-a")] },
      });
      const kubeconfigPath = join(work, `${release}.kubeconfig`);
      writeFileSync(kubeconfigPath, kc.exportConfig());
      const helmOk = async (...args: string[]): Promise<void> => {
        const r = await runHelm(helm, [...args, "--namespace", patcherNs, "--kubeconfig", kubeconfigPath], work);
        expect(r.code, `helm ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      };
      const install = (copyNames: string[], sourceNames: string[], retiredNames: string[] = []): Install => ({
        label: "helm-upgrade",
        namespace: patcherNs,
        serviceAccount: fullname,
        copyNames,
        sources: { [creds]: sourceNames },
        lease: fullname,
        retiredNames,
      });
      const reviewed = async (i: Install, probe: { verb: string; name: string; allowed: boolean }): Promise<void> => {
        const cases = accessMatrix(i, uniqueName("anywhere"));
        // RBAC changes reach the authorizer's cache within moments.
        await eventually(`RBAC after the ${release} change`, async () => {
          const r = await review(authz, i, [
            {
              what: "probe",
              attrs: { verb: probe.verb, resource: "secrets", namespace: target, name: probe.name },
              allowed: probe.allowed,
            },
          ]);
          return r.probe === probe.allowed ? true : undefined;
        });
        expect(await review(authz, i, cases)).toEqual(expectedOf(cases));
      };
      const annotations = async (): Promise<Record<string, string>> =>
        Object.fromEntries(
          Object.entries((await rbac.readClusterRole({ name: fullname })).metadata?.annotations ?? {}).filter(([k]) =>
            k.startsWith("imagepullsecret-patcher.io/"),
          ),
        );
      const uninstall = async (): Promise<void> => {
        const r = await runHelm(
          helm,
          ["uninstall", release, "--namespace", patcherNs, "--kubeconfig", kubeconfigPath],
          work,
        );
        expect(r.code, r.stdout + r.stderr).toBe(0);
      };
      return { release, fullname, patcherNs, creds, target, v1, v2, helmOk, install, reviewed, annotations, uninstall };
    }

    it("helm upgrade that removes a mapping keeps list/watch/delete (not update) on its copy name for that upgrade, or while listed in rbac.retiredSecretNames", async () => {
      const u = await upgradeScenario();
      try {
        await u.helmOk("install", u.release, CHART_DIR, "--values", u.v1);
        expect(await u.annotations()).toEqual({ "imagepullsecret-patcher.io/copy-names": "team-a-cred,team-b-cred" });
        await u.reviewed(u.install(["team-a-cred", "team-b-cred"], ["team-a-cred", "team-b-cred"]), {
          verb: "update",
          name: "team-b-cred",
          allowed: true,
        });

        // The upgrade drops team-b: its name keeps list/watch/delete (no update), for this upgrade.
        await u.helmOk("upgrade", u.release, CHART_DIR, "--values", u.v2);
        expect(await u.annotations()).toEqual({
          "imagepullsecret-patcher.io/copy-names": "team-a-cred",
          "imagepullsecret-patcher.io/retired-secret-names": "team-b-cred",
        });
        await u.reviewed(u.install(["team-a-cred"], ["team-a-cred"], ["team-b-cred"]), {
          verb: "update",
          name: "team-b-cred",
          allowed: false,
        });

        // The next upgrade revokes the cleanup access...
        await u.helmOk("upgrade", u.release, CHART_DIR, "--values", u.v2);
        expect(await u.annotations()).toEqual({ "imagepullsecret-patcher.io/copy-names": "team-a-cred" });
        await u.reviewed(u.install(["team-a-cred"], ["team-a-cred"]), {
          verb: "delete",
          name: "team-b-cred",
          allowed: false,
        });
        // ...unless the name is listed in rbac.retiredSecretNames (e.g. for helm template / GitOps).
        await u.helmOk(
          "upgrade",
          u.release,
          CHART_DIR,
          "--values",
          u.v2,
          "--set",
          "rbac.retiredSecretNames={team-b-cred}",
        );
        await u.reviewed(u.install(["team-a-cred"], ["team-a-cred"], ["team-b-cred"]), {
          verb: "delete",
          name: "team-b-cred",
          allowed: true,
        });
        process.stderr.write(
          `[deploy-rbac] helm upgrade: cleanup access kept for one upgrade and while listed in rbac.retiredSecretNames\n`,
        );
      } finally {
        await u.uninstall();
      }
    });

    it("after a helm upgrade that removes a mapping, the patcher on the release's RBAC deletes that mapping's copies without a 403", async () => {
      const u = await upgradeScenario();
      const password = `${TEST_PASSWORD_PREFIX}${uniqueName("upgrade")}`;
      for (const team of ["team-a", "team-b"]) await putSourceSecret(core, u.creds, `${team}-cred`, password);
      let patcher: PatcherProcess | undefined;
      try {
        await u.helmOk("install", u.release, CHART_DIR, "--values", u.v1);
        await u.reviewed(u.install(["team-a-cred", "team-b-cred"], ["team-a-cred", "team-b-cred"]), {
          verb: "update",
          name: "team-b-cred",
          allowed: true,
        });

        // The patcher, on this release's RBAC and config, makes both copies.
        const configMap = await core.readNamespacedConfigMap({ name: `${u.fullname}-config`, namespace: u.patcherNs });
        const configPath = join(work, `${u.release}-config`, "config.yaml");
        mkdirSync(dirname(configPath), { recursive: true });
        writeFileSync(configPath, configMap.data?.["config.yaml"] ?? "");
        const token = (
          await core.createNamespacedServiceAccountToken({
            name: u.fullname,
            namespace: u.patcherNs,
            body: { spec: { audiences: [], expirationSeconds: 600 } },
          })
        ).status?.token;
        const patcherKubeconfig = join(work, `${u.release}-patcher.kubeconfig`);
        writeFileSync(patcherKubeconfig, tokenKubeConfig(kc, token ?? "", `${u.release}-patcher`).exportConfig());
        patcher = new PatcherProcess(
          ["run", "--config", configPath, "--kubeconfig", patcherKubeconfig, "--server-address", "127.0.0.1:0"],
          {
            POD_NAME: `${u.release}-0`,
            POD_NAMESPACE: u.patcherNs,
          },
        );
        for (const copy of ["team-a-cred", "team-b-cred"]) await waitForCopy(core, u.target, copy, password);
        await eventually(`${u.target}/default to list both copies`, async () =>
          (await pullSecretNames(core, u.target, "default"))?.sort().join() === "team-a-cred,team-b-cred"
            ? true
            : undefined,
        );

        await u.helmOk("upgrade", u.release, CHART_DIR, "--values", u.v2);
        await u.reviewed(u.install(["team-a-cred"], ["team-a-cred"], ["team-b-cred"]), {
          verb: "update",
          name: "team-b-cred",
          allowed: false,
        });
        // As in a cluster, the new config reaches the patcher after the RBAC (the kubelet syncs the
        // ConfigMap volume later); it cleans up team-b's copy and ServiceAccount entry.
        const upgraded = await core.readNamespacedConfigMap({ name: `${u.fullname}-config`, namespace: u.patcherNs });
        writeFileSync(configPath, upgraded.data?.["config.yaml"] ?? "");
        await waitForNoSecret(core, u.target, "team-b-cred");
        await eventually(`${u.target}/default to list only team-a-cred`, async () =>
          (await pullSecretNames(core, u.target, "default"))?.join() === "team-a-cred" ? true : undefined,
        );
        expect((await core.readNamespacedSecret({ name: "team-a-cred", namespace: u.target })).metadata?.name).toBe(
          "team-a-cred",
        );
        const running = patcher;
        patcher = undefined;
        expect(await running.stop()).toBe(0);
        const output = running.stdout + running.stderr;
        expect(output).not.toMatch(/forbidden|\b403\b/i);
        expect(output).not.toContain(password);
        process.stderr.write(
          `[deploy-rbac] helm upgrade: the patcher deleted the removed mapping's copy without a 403\n`,
        );
      } finally {
        if (patcher) {
          // Failed before the patcher was stopped: show what it did.
          await patcher.stop();
          process.stderr.write(`[deploy-rbac] helm upgrade: patcher output\n${patcher.stdout}${patcher.stderr}\n`);
        }
        await u.uninstall();
      }
    });
  });

  describe.each(["kustomize", "helm"] as const)("RBAC of the %s install's ServiceAccount", (which) => {
    const installed = (): Install => {
      const i = installs[which];
      if (!i) throw new Error(`the ${which} install did not complete (see the test that applies it)`);
      return i;
    };

    it("SubjectAccessReviews: copies by name everywhere, sources only in their namespace, no other Secret", async () => {
      const i = installed();
      const cases = accessMatrix(i, uniqueName("anywhere"));
      const copy = i.copyNames[0] ?? "";
      // The bindings were just created; the authorizer's cache catches up within moments.
      await eventually("RBAC for the new bindings", async () => {
        const r = await review(authz, i, [
          { what: "probe", attrs: { verb: "list", resource: "secrets", name: copy }, allowed: true },
        ]);
        return r.probe ? true : undefined;
      });
      const actual = await review(authz, i, cases);
      expect(actual).toEqual(expectedOf(cases));
      process.stderr.write(
        `[deploy-rbac] ${which}: ${cases.length} SubjectAccessReviews as expected (${cases.filter((k) => k.allowed).length} allowed)\n`,
      );
    });

    it("real requests with a ServiceAccount token: ?fieldSelector=metadata.name=<copy> lists and watches, everything else among Secrets is 403", async () => {
      const i = installed();
      const target = await namespaces.create(`ipsp-${which}-target`);
      for (const name of [...i.copyNames, OTHER_SECRET]) {
        await core.createNamespacedSecret({
          namespace: target,
          body: {
            metadata: { name },
            type: "kubernetes.io/dockerconfigjson",
            data: { ".dockerconfigjson": EMPTY_DOCKER_CONFIG },
          },
        });
      }
      await eventually("default ServiceAccount", () =>
        core.readNamespacedServiceAccount({ name: "default", namespace: target }).catch(() => undefined),
      );
      const token = (
        await core.createNamespacedServiceAccountToken({
          name: i.serviceAccount,
          namespace: i.namespace,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        })
      ).status?.token;
      expect(token).toBeTruthy();
      const patcher = tokenKubeConfig(kc, token ?? "", `${which}-patcher`);
      // Tokens are valid at once; the probe just makes a slow authorizer cache a wait, not a failure.
      await eventually("the token to list copies", async () =>
        (await rawRequest(patcher, "GET", `/api/v1/secrets?fieldSelector=metadata.name%3D${i.copyNames[0]}`)).status ===
        200
          ? true
          : undefined,
      );

      const cases = requestMatrix(i, target, uniqueName("x").slice(2));
      const results = await runRequests(patcher, cases);
      const statuses = Object.fromEntries(Object.entries(results).map(([what, r]) => [what, r.status]));
      expect(statuses).toEqual(Object.fromEntries(cases.map((k) => [k.what, k.expect])));

      // The name-restricted cluster-wide list returns that name only, from every namespace.
      for (const copy of i.copyNames) {
        const list = JSON.parse(results[`GET list all namespaces' secrets named ${copy}`]?.body ?? "{}") as {
          items?: { metadata: { name: string; namespace: string } }[];
        };
        expect(list.items?.map((s) => s.metadata.name).every((n) => n === copy)).toBe(true);
        expect(list.items?.map((s) => s.metadata.namespace)).toContain(target);
      }
      // The writes it was allowed really happened; the refused ones did not.
      const sa = await core.readNamespacedServiceAccount({ name: "default", namespace: target });
      expect(sa.imagePullSecrets).toEqual([{ name: i.copyNames[0] }]);
      const left = (await core.listNamespacedSecret({ namespace: target })).items.map((s) => s.metadata?.name ?? "");
      expect(left.filter((n) => !n.startsWith("created-")).sort()).toEqual(
        [...i.copyNames.slice(1), OTHER_SECRET].sort(),
      );
      expect(left.filter((n) => n.startsWith("created-")).length).toBe(1);
      const refused = Object.values(statuses).filter((s) => s === 403).length;
      process.stderr.write(
        `[deploy-rbac] ${which}: ${cases.length} real requests as expected (${refused} refused with 403)\n`,
      );
    });

    it("the patcher itself runs on nothing but this RBAC: copies, patches, leads, and never hits a 403", async () => {
      const i = installed();
      const config = structuredClone(configs[which]) as {
        source?: unknown;
        targets?: unknown;
        mappings?: { targets: unknown }[];
        controller?: Record<string, unknown>;
      };
      // Both installs share this cluster (and the kustomize run leaves its entries behind): as two
      // installations must, each runs as its own instance, so neither cleans up after the other.
      config.controller = { ...config.controller, instance: `${which}-${uniqueName("i").slice(2)}` };
      const target = await namespaces.create(`ipsp-${which}-run`);
      // The shipped config, with its targets narrowed to one namespace so the rest of the shared
      // cluster stays untouched. Targets do not change what RBAC is needed: the patcher watches all
      // namespaces and ServiceAccounts and lists copies cluster-wide either way.
      if (config.mappings) for (const m of config.mappings) m.targets = { namespaces: [target] };
      else config.targets = { namespaces: [target] };
      const password = `${TEST_PASSWORD_PREFIX}${uniqueName(which)}`;
      for (const [namespace, names] of Object.entries(i.sources))
        for (const name of names) await putSourceSecret(core, namespace, name, password);
      // The request checks above left a Lease held by "e2e-2"; the patcher would wait for it to expire.
      await kc
        .makeApiClient(k8s.CoordinationV1Api)
        .deleteNamespacedLease({ name: i.lease, namespace: i.namespace })
        .catch((err: unknown) => {
          if (statusCode(err) !== 404) throw err;
        });

      const token = (
        await core.createNamespacedServiceAccountToken({
          name: i.serviceAccount,
          namespace: i.namespace,
          body: { spec: { audiences: [], expirationSeconds: 600 } },
        })
      ).status?.token;
      const kubeconfig = join(work, `${which}-patcher.kubeconfig`);
      writeFileSync(kubeconfig, tokenKubeConfig(kc, token ?? "", `${which}-patcher`).exportConfig());
      const configPath = valuesFileAt(work, `${which}-run-config.json`, config);
      const identity = `${which}-patcher-0`;
      const patcher = new PatcherProcess(
        ["run", "--config", configPath, "--kubeconfig", kubeconfig, "--server-address", "127.0.0.1:0"],
        {
          POD_NAME: identity,
          POD_NAMESPACE: i.namespace,
        },
      );
      const coordination = kc.makeApiClient(k8s.CoordinationV1Api);
      try {
        for (const copy of i.copyNames) await waitForCopy(core, target, copy, password);
        await eventually(`${target}/default to list ${i.copyNames.join(", ")}`, async () => {
          const names = await pullSecretNames(core, target, "default");
          return names && [...names].sort().join() === [...i.copyNames].sort().join() ? true : undefined;
        });
        const lease = await coordination.readNamespacedLease({ name: i.lease, namespace: i.namespace });
        expect(lease.spec?.holderIdentity).toBe(identity);
      } finally {
        expect(await patcher.stop()).toBe(0);
      }
      const released = await coordination.readNamespacedLease({ name: i.lease, namespace: i.namespace });
      expect(released.spec?.holderIdentity ?? "").toBe("");
      const output = patcher.stdout + patcher.stderr;
      expect(output).not.toMatch(/forbidden|\b403\b/i);
      expect(output).not.toContain(password);
      expect(output).not.toContain(Buffer.from(dockerConfigJson(password)).toString("base64").slice(0, 24));
      process.stderr.write(
        `[deploy-rbac] ${which}: the patcher ran with its ServiceAccount token: ${i.copyNames.length} copies, lease held and released\n`,
      );
    });
  });
});

function valuesFileAt(dir: string, name: string, values: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(values));
  return path;
}
