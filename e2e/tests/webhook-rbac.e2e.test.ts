// The Pod admission webhook's install paths (the Helm chart with webhook.enabled, the kustomize
// overlay deploy/kustomize/overlays/webhook) grant exactly what the webhook uses, on a real API
// server: get/update on its one MutatingWebhookConfiguration (no create, list, watch, delete,
// patch), get on Namespaces, get/update on its self-managed TLS Secret in its own namespace. With
// webhook.enabled false the chart renders none of it. A helm upgrade keeps the webhooks the patcher
// wrote into the configuration the chart created empty.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@kubernetes/client-node";
import { NamespaceScope, adminKubeConfig, eventually, tokenKubeConfig, uniqueName } from "../src/support/kube.ts";
import { expectedOf, review, type AccessCase, type Install } from "../src/deploy/access.ts";
import { Discovery, rawRequest, serverSideApply } from "../src/deploy/apply.ts";
import { CHART_DIR, ensureHelmBinary, helmTemplate, runHelm } from "../src/deploy/helm.ts";
import { relocate } from "../src/deploy/relocate.ts";
import { DEPLOY_DIR } from "../src/deploy/render-all-in-one.ts";
import { ensureKubectl } from "../src/docs/tools.ts";
import { describeManifest, parseManifests, parseYaml, type Manifest } from "../src/deploy/yaml.ts";
import { runPatcher } from "../src/support/patcher-process.ts";

const OVERLAY = `${DEPLOY_DIR}kustomize/overlays/webhook`;
const MWC_PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";
const RBAC_KINDS = new Set(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);

type Rule = { apiGroups?: string[]; resources?: string[]; resourceNames?: string[]; verbs: string[] };
type Container = { name: string; ports?: { name: string; containerPort: number }[] };
type PodSpec = {
  containers: (Container & { volumeMounts?: { name: string; mountPath: string }[] })[];
  volumes?: { name: string; secret?: { secretName: string } }[];
};

const rules = (m: Manifest): Rule[] => (m as unknown as { rules: Rule[] }).rules;
const ofKind = (ms: readonly Manifest[], kind: string): Manifest[] => ms.filter((m) => m.kind === kind);
const named = (ms: readonly Manifest[], kind: string, name: string): Manifest => {
  const found = ms.find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${ms.map(describeManifest).join(", ")}`);
  return found;
};
const configOf = (ms: readonly Manifest[]): Record<string, unknown> =>
  parseYaml(
    (ofKind(ms, "ConfigMap")[0] as unknown as { data: Record<string, string> }).data["config.yaml"] ?? "",
  ) as Record<string, unknown>;
const podSpec = (ms: readonly Manifest[]): PodSpec =>
  (ofKind(ms, "Deployment")[0] as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
const servicePorts = (ms: readonly Manifest[]): unknown[] =>
  (ofKind(ms, "Service")[0] as unknown as { spec: { ports: unknown[] } }).spec.ports;
/** Every rule, from every ClusterRole and Role, over one resource. */
const rulesFor = (ms: readonly Manifest[], resource: string): Rule[] =>
  ms
    .filter((m) => m.kind === "ClusterRole" || m.kind === "Role")
    .flatMap((m) => rules(m).filter((r) => r.resources?.includes(resource)));

interface WebhookAccess {
  install: Install;
  configurationName: string;
  tlsSecret: string;
}

function c(
  allowed: boolean,
  verb: string,
  resource: string,
  o: { ns?: string; name?: string; group?: string } = {},
): AccessCase {
  const where = o.ns ? `in ${o.ns}` : "(cluster)";
  return {
    what: `${verb} ${resource}${o.name ? `/${o.name}` : ""} ${where}`,
    attrs: {
      verb,
      resource,
      group: o.group ?? "",
      ...(o.ns ? { namespace: o.ns } : {}),
      ...(o.name ? { name: o.name } : {}),
    },
    allowed,
  };
}

/** What the webhook uses, allowed; its neighbours, refused. */
function webhookMatrix(a: WebhookAccess, elsewhere: string): AccessCase[] {
  const group = "admissionregistration.k8s.io";
  const mwc = "mutatingwebhookconfigurations";
  const own = { group, name: a.configurationName };
  const other = { group, name: "someone-elses-webhook" };
  const ns = a.install.namespace;
  return [
    c(true, "get", mwc, own),
    c(true, "update", mwc, own),
    ...["patch", "delete"].map((verb) => c(false, verb, mwc, own)),
    ...["get", "update", "patch", "delete"].map((verb) => c(false, verb, mwc, other)),
    ...["create", "list", "watch", "deletecollection"].map((verb) => c(false, verb, mwc, { group })),
    c(false, "get", "validatingwebhookconfigurations", own),
    // The webhook's namespace lookup: a list by name from the watch cache, then a GET.
    ...["get", "list", "watch"].map((verb) => c(true, verb, "namespaces", { name: elsewhere })),
    ...["update", "patch", "delete"].map((verb) => c(false, verb, "namespaces", { name: elsewhere })),
    c(true, "get", "secrets", { ns, name: a.tlsSecret }),
    c(true, "update", "secrets", { ns, name: a.tlsSecret }),
    c(true, "create", "secrets", { ns }),
    ...["patch", "delete", "list", "watch"].map((verb) => c(false, verb, "secrets", { ns, name: a.tlsSecret })),
    ...["get", "update"].map((verb) => c(false, verb, "secrets", { ns, name: "not-the-webhook-tls" })),
    ...["get", "update"].map((verb) => c(false, verb, "secrets", { ns: elsewhere, name: a.tlsSecret })),
    c(false, "get", "pods", { ns: elsewhere, name: "x" }),
  ];
}

describe("the webhook's install paths and their RBAC", () => {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const discovery = new Discovery(kc);
  const namespaces = new NamespaceScope(core);
  const clusterScoped: Manifest[] = [];
  const work = mkdtempSync(join(tmpdir(), "webhook-rbac-"));
  let helm = "";

  beforeAll(async () => {
    helm = await ensureHelmBinary((line) => process.stderr.write(`${line}\n`));
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

  const valuesFile = (values: unknown): string => {
    const path = join(work, `${uniqueName("values")}.json`);
    writeFileSync(path, JSON.stringify(values)); // JSON is YAML
    return path;
  };
  const render = async (
    values: unknown = {},
    release = "imagepullsecret-patcher",
    namespace = "ipsp",
  ): Promise<Manifest[]> =>
    parseManifests(await helmTemplate(helm, work, { release, namespace, valuesFiles: [valuesFile(values)] }));
  const failure = (values: unknown): Promise<string> =>
    render(values).then(
      () => "rendered",
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
  const admitting = (targets: unknown = { all: {} }, sourceNamespace = "kube-system"): Record<string, unknown> => ({
    mappings: [
      { name: "a", source: { secret: { name: "regcred", namespace: sourceNamespace } }, targets, podAdmission: true },
    ],
  });

  /** Applies the ServiceAccount and RBAC in `namespace` (and cluster-wide), then waits for the authorizer. */
  async function applyRbac(ms: readonly Manifest[], namespace: string, a: WebhookAccess): Promise<void> {
    const picked = ms.filter((m) => RBAC_KINDS.has(m.kind) && (m.metadata.namespace ?? namespace) === namespace);
    for (const m of picked) {
      if (!m.metadata.namespace) clusterScoped.push(m);
      const r = await serverSideApply(kc, discovery, m, { dryRun: false });
      expect(r.status, `${describeManifest(m)}: ${JSON.stringify(r.body.message ?? "")}`).toBeLessThan(300);
    }
    const probe = c(true, "update", "mutatingwebhookconfigurations", {
      group: "admissionregistration.k8s.io",
      name: a.configurationName,
    });
    await eventually("RBAC for the new bindings", async () =>
      (await review(authz, a.install, [probe]))[probe.what] ? true : undefined,
    );
  }

  const access = (
    namespace: string,
    serviceAccount: string,
    configurationName: string,
    tlsSecret: string,
  ): WebhookAccess => ({
    install: { label: "webhook", namespace, serviceAccount, copyNames: [], sources: {}, lease: "" },
    configurationName,
    tlsSecret,
  });

  describe("Helm chart", () => {
    it("renders no webhook object, port, rule or config while webhook.enabled is false", async () => {
      const plain = {
        name: "a",
        source: { secret: { name: "regcred", namespace: "kube-system" } },
        targets: { all: {} },
      };
      for (const values of [{}, { config: { mappings: [plain] }, webhook: { enabled: false, port: 9443 } }]) {
        const ms = await render(values);
        expect(
          ms.filter((m) => ["MutatingWebhookConfiguration", "Certificate"].includes(m.kind)).map(describeManifest),
        ).toEqual([]);
        expect(ms.filter((m) => m.metadata.name.includes("webhook")).map(describeManifest)).toEqual([]);
        expect(configOf(ms).webhook).toBeUndefined();
        expect(podSpec(ms).containers[0]?.ports?.map((p) => p.name)).toEqual(["http"]);
        expect(servicePorts(ms)).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
        expect(rulesFor(ms, "mutatingwebhookconfigurations")).toEqual([]);
        expect(rulesFor(ms, "namespaces")).toEqual([
          { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
        ]);
      }
      // certManager values alone change nothing either.
      const quiet = await render({ webhook: { certManager: { enabled: true, issuerRef: { name: "ca" } } } });
      expect(quiet.map(describeManifest)).toEqual((await render()).map(describeManifest));
    });

    it("refuses podAdmission without webhook.enabled, and TLS settings it cannot serve", async () => {
      expect(await failure({ config: admitting() })).toContain(
        "config.mappings[0].podAdmission needs the webhook: set webhook.enabled: true",
      );
      expect(await failure({ config: { ...admitting(), webhook: { enabled: true } } })).toContain(
        "config.webhook.enabled needs webhook.enabled: true",
      );
      expect(await failure({ webhook: { enabled: true, tls: { mode: "files" } } })).toContain(
        "webhook.tls.mode files needs config.webhook.tls.certFile and keyFile",
      );
      expect(await failure({ webhook: { enabled: true, tls: { mode: "manual" } } })).toContain(
        "webhook.tls.mode manual: use self-managed or files",
      );
      expect(await failure({ webhook: { enabled: true, certManager: { enabled: true } } })).toContain(
        "webhook.certManager.issuerRef.name is required",
      );
      expect(await failure({ webhook: { enabled: true, timeoutSeconds: 31 } })).toContain("must be 1 to 30");
    });

    it("with webhook.enabled renders the config section, the ports, the empty configuration and RBAC by name", async () => {
      const ms = await render({ config: admitting(), webhook: { enabled: true } }, "rel", "ipsp");
      const fullname = "rel-imagepullsecret-patcher";
      expect(configOf(ms).webhook).toEqual({
        enabled: true,
        address: ":8443",
        service: { name: fullname, namespace: "ipsp", port: 443 },
        configurationName: fullname,
        manageConfiguration: true,
        timeoutSeconds: 2,
        tls: { mode: "self-managed", secretName: `${fullname}-webhook-tls` },
      });
      const mwc = named(ms, "MutatingWebhookConfiguration", fullname) as Manifest & { webhooks: unknown[] };
      expect(mwc.webhooks).toEqual([]);
      expect(podSpec(ms).containers[0]?.ports).toContainEqual({
        name: "webhook",
        containerPort: 8443,
        protocol: "TCP",
      });
      expect(servicePorts(ms)).toContainEqual({ name: "webhook", port: 443, targetPort: "webhook", protocol: "TCP" });
      expect(rulesFor(ms, "mutatingwebhookconfigurations")).toEqual([
        {
          apiGroups: ["admissionregistration.k8s.io"],
          resources: ["mutatingwebhookconfigurations"],
          resourceNames: [fullname],
          verbs: ["get", "update"],
        },
      ]);
      expect(rulesFor(ms, "namespaces")).toEqual([
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
      ]);
      expect(rules(named(ms, "Role", `${fullname}-webhook-tls`))).toEqual([
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [`${fullname}-webhook-tls`],
          verbs: ["get", "update"],
        },
      ]);
      expect(named(ms, "Role", `${fullname}-webhook-tls`).metadata.namespace).toBe("ipsp");
      // Creating the TLS Secret rides on the ClusterRole's create on Secrets, which copies need anyway.
      expect(rulesFor(ms, "secrets").filter((r) => r.verbs.includes("create"))).toEqual([
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      ]);
    });

    it("with cert-manager: a Certificate for the Service's names, its Secret mounted and read as files, no TLS Role", async () => {
      const ms = await render(
        {
          webhook: { enabled: true, certManager: { enabled: true, issuerRef: { name: "ca", kind: "ClusterIssuer" } } },
        },
        "rel",
        "ipsp",
      );
      const fullname = "rel-imagepullsecret-patcher";
      const dir = "/var/run/imagepullsecret-patcher/webhook-tls";
      const certificate = named(ms, "Certificate", `${fullname}-webhook`) as Manifest & {
        spec: Record<string, unknown>;
      };
      expect(certificate.apiVersion).toBe("cert-manager.io/v1");
      expect(certificate.spec).toMatchObject({
        secretName: `${fullname}-webhook-tls`,
        dnsNames: [fullname, `${fullname}.ipsp`, `${fullname}.ipsp.svc`, `${fullname}.ipsp.svc.cluster.local`],
        issuerRef: { name: "ca", kind: "ClusterIssuer", group: "cert-manager.io" },
      });
      expect((configOf(ms).webhook as { tls: unknown }).tls).toEqual({
        mode: "files",
        certFile: `${dir}/tls.crt`,
        keyFile: `${dir}/tls.key`,
        caFile: `${dir}/ca.crt`,
      });
      expect(podSpec(ms).volumes).toContainEqual({
        name: "webhook-tls",
        secret: { secretName: `${fullname}-webhook-tls` },
      });
      expect(podSpec(ms).containers[0]?.volumeMounts).toContainEqual({
        name: "webhook-tls",
        mountPath: dir,
        readOnly: true,
      });
      expect(ms.filter((m) => m.kind === "Role" && m.metadata.name.endsWith("-webhook-tls"))).toEqual([]);
      // The patcher publishes ca.crt itself: no cainjector annotation, no second writer of caBundle.
      expect(named(ms, "MutatingWebhookConfiguration", fullname).metadata.annotations).toBeUndefined();
    });

    it("ships webhook configs the patcher accepts (imagepullsecret-patcher validate)", async () => {
      const kubectl = await ensureKubectl((line) => process.stderr.write(`${line}\n`));
      const configs: Record<string, Record<string, unknown>> = {
        "chart, self-managed": configOf(await render({ config: admitting(), webhook: { enabled: true } })),
        "chart, cert-manager": configOf(
          await render({
            config: admitting(),
            webhook: { enabled: true, certManager: { enabled: true, issuerRef: { name: "ca" } } },
          }),
        ),
        "kustomize overlay": configOf(parseManifests(await kustomize(kubectl, OVERLAY))),
      };
      const results: Record<string, string> = {};
      for (const [what, config] of Object.entries(configs)) {
        const r = await runPatcher(["validate", "--config", valuesFile(config)]);
        results[what] =
          r.code === 0
            ? (r.stdout.split("\n")[0]?.replace(/^\S+: /, "") ?? "")
            : `exit ${r.code}: ${r.stderr}${r.stdout}`;
      }
      expect(results).toEqual({
        "chart, self-managed": "valid, 1 mapping(s)",
        "chart, cert-manager": "valid, 1 mapping(s)",
        "kustomize overlay": "valid, 1 mapping(s)",
      });
    });

    it("SubjectAccessReviews for the chart's ServiceAccount: its configuration and TLS Secret by name, nothing more", async () => {
      const release = uniqueName("wh");
      const ns = await namespaces.create("ipsp-webhook-helm");
      const fullname = `${release}-imagepullsecret-patcher`;
      const ms = await render({ webhook: { enabled: true } }, release, ns);
      const a = access(ns, fullname, fullname, `${fullname}-webhook-tls`);
      await applyRbac(ms, ns, a);
      const cases = webhookMatrix(a, uniqueName("anywhere"));
      expect(await review(authz, a.install, cases)).toEqual(expectedOf(cases));
      process.stderr.write(`[webhook-rbac] helm: ${cases.length} SubjectAccessReviews as expected\n`);
    });

    it("helm upgrade keeps the webhooks the patcher wrote; the ServiceAccount's token can get and update, not create or delete", async () => {
      const release = uniqueName("whu");
      const ns = await namespaces.create("ipsp-webhook-upgrade");
      const target = await namespaces.create("ipsp-webhook-target");
      const creds = await namespaces.create("ipsp-webhook-creds");
      const fullname = `${release}-imagepullsecret-patcher`;
      const kubeconfig = join(work, `${release}.kubeconfig`);
      writeFileSync(kubeconfig, kc.exportConfig());
      const helmOk = async (...args: string[]): Promise<void> => {
        const r = await runHelm(helm, [...args, "--namespace", ns, "--kubeconfig", kubeconfig], work);
        expect(r.code, `helm ${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(0);
      };
      const values = valuesFile({
        replicaCount: 1,
        config: { ...admitting({ namespaces: [target] }, creds), controller: { instance: release } },
        webhook: { enabled: true },
      });
      await helmOk("install", release, CHART_DIR, "--values", values);
      try {
        const token = (
          await core.createNamespacedServiceAccountToken({
            name: fullname,
            namespace: ns,
            body: { spec: { audiences: [], expirationSeconds: 600 } },
          })
        ).status?.token;
        const patcher = tokenKubeConfig(kc, token ?? "", `${release}-patcher`);
        const own = `${MWC_PATH}/${fullname}`;
        const got = await eventually("the token to read the configuration", async () => {
          const r = await rawRequest(patcher, "GET", own);
          return r.status === 200
            ? (JSON.parse(r.body) as Record<string, unknown> & { webhooks?: unknown[] })
            : undefined;
        });
        expect(got.webhooks ?? []).toEqual([]);
        // What a replica does: replace the configuration with its webhooks and its own labels. This
        // webhook is never called: no namespace carries the label it selects, and it fails open.
        const webhook = {
          name: "probe.imagepullsecret-patcher.io",
          clientConfig: { service: { name: fullname, namespace: ns, port: 443, path: "/mutate" } },
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Ignore",
          timeoutSeconds: 1,
          rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
          namespaceSelector: { matchLabels: { "imagepullsecret-patcher.io/e2e-never": release } },
        };
        const put = await rawRequest(patcher, "PUT", own, {
          body: JSON.stringify({
            ...got,
            metadata: {
              ...(got.metadata as object),
              labels: { "app.kubernetes.io/managed-by": "imagepullsecret-patcher" },
            },
            webhooks: [webhook],
          }),
          contentType: "application/json",
        });
        expect(put.status, put.body).toBe(200);
        const another = {
          apiVersion: "admissionregistration.k8s.io/v1",
          kind: "MutatingWebhookConfiguration",
          metadata: { name: `${fullname}-2` },
        };
        const denied = {
          "create another": (
            await rawRequest(patcher, "POST", MWC_PATH, {
              body: JSON.stringify(another),
              contentType: "application/json",
            })
          ).status,
          list: (await rawRequest(patcher, "GET", MWC_PATH)).status,
          delete: (await rawRequest(patcher, "DELETE", own)).status,
          patch: (await rawRequest(patcher, "PATCH", own, { body: "{}", contentType: "application/merge-patch+json" }))
            .status,
        };
        expect(denied).toEqual({ "create another": 403, list: 403, delete: 403, patch: 403 });

        await helmOk("upgrade", release, CHART_DIR, "--reuse-values", "--set", "webhook.timeoutSeconds=3");
        // Helm's three-way merge puts its labels back (the object did change) and leaves the webhooks.
        const after = JSON.parse((await rawRequest(kc, "GET", own)).body) as {
          metadata: { labels?: Record<string, string> };
          webhooks?: { name: string }[];
        };
        expect(after.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("Helm");
        expect(after.webhooks?.map((w) => w.name)).toEqual([webhook.name]);
        process.stderr.write(`[webhook-rbac] helm upgrade kept the webhook the ServiceAccount wrote\n`);
      } finally {
        await helmOk("uninstall", release);
      }
      expect((await rawRequest(kc, "GET", `${MWC_PATH}/${fullname}`)).status).toBe(404);
    });
  });

  describe("kustomize overlay deploy/kustomize/overlays/webhook", () => {
    it("adds the configuration, ports and RBAC to the base; SubjectAccessReviews as for the chart", async () => {
      const kubectl = await ensureKubectl((line) => process.stderr.write(`${line}\n`));
      const ms = parseManifests(await kustomize(kubectl, OVERLAY));
      const base = parseManifests(await kustomize(kubectl, `${DEPLOY_DIR}kustomize/base`));
      expect(
        ms
          .map(describeManifest)
          .filter((d) => !base.map(describeManifest).includes(d))
          .sort(),
      ).toEqual([
        "ClusterRole imagepullsecret-patcher-webhook",
        "ClusterRoleBinding imagepullsecret-patcher-webhook",
        "MutatingWebhookConfiguration imagepullsecret-patcher",
        "Role imagepullsecret-patcher/imagepullsecret-patcher-webhook-tls",
        "RoleBinding imagepullsecret-patcher/imagepullsecret-patcher-webhook-tls",
      ]);
      expect(
        (named(ms, "MutatingWebhookConfiguration", "imagepullsecret-patcher") as Manifest & { webhooks: unknown[] })
          .webhooks,
      ).toEqual([]);
      expect(podSpec(ms).containers[0]?.ports).toContainEqual({
        name: "webhook",
        containerPort: 8443,
        protocol: "TCP",
      });
      expect(servicePorts(ms)).toContainEqual({ name: "webhook", port: 443, targetPort: "webhook", protocol: "TCP" });
      // The base's ClusterRole is untouched; the webhook's rules are a ClusterRole of their own.
      expect(named(ms, "ClusterRole", "imagepullsecret-patcher")).toEqual(
        named(base, "ClusterRole", "imagepullsecret-patcher"),
      );
      const config = configOf(ms) as { mappings: { name: string }[]; webhook: Record<string, unknown> };
      expect(config.mappings.map((m) => m.name)).toEqual(["default"]);
      expect(config.webhook).toMatchObject({
        enabled: true,
        configurationName: "imagepullsecret-patcher",
        service: { name: "imagepullsecret-patcher", port: 443 },
        tls: { mode: "self-managed", secretName: "imagepullsecret-patcher-webhook-tls" },
      });

      const ns = await namespaces.create("ipsp-webhook-kustomize");
      const moved = relocate(ms, {
        namespaces: { "imagepullsecret-patcher": ns },
        clusterSuffix: uniqueName("k").slice(2),
      });
      const a = access(ns, "imagepullsecret-patcher", "imagepullsecret-patcher", "imagepullsecret-patcher-webhook-tls");
      await applyRbac(moved, ns, a);
      const cases = webhookMatrix(a, uniqueName("anywhere"));
      expect(await review(authz, a.install, cases)).toEqual(expectedOf(cases));
      process.stderr.write(`[webhook-rbac] kustomize: ${cases.length} SubjectAccessReviews as expected\n`);
    });
  });
});

/** `kubectl kustomize DIR`: the overlay uses components and patches, beyond e2e/src/deploy/kustomize.ts's subset. */
function kustomize(kubectl: string, dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(kubectl, ["kustomize", dir], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl kustomize ${dir}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}
