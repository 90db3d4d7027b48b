import { describe, expect, it } from "vitest";
import { compileLabelSelector } from "../selectors/label-selector.js";
import { LabelNamespaceSelector } from "../selectors/label.js";
import { NamespaceListSelector } from "../selectors/list.js";
import {
  buildMutatingWebhookConfiguration,
  webhookTimeoutSeconds,
  type MutatingWebhook,
  type WebhookConfigurationOptions,
} from "./webhook-configuration.js";
import { WebhookConfigurationError } from "./webhook-names.js";

const NAME_LABEL = "kubernetes.io/metadata.name";
const CA_BUNDLE = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");

function options(overrides: Partial<WebhookConfigurationOptions> = {}): WebhookConfigurationOptions {
  return {
    name: "imagepullsecret-patcher",
    mappings: [{ mappingName: "ecr", namespaceSelector: { matchLabels: { env: "prod" } } }],
    clientConfig: { service: { namespace: "patcher", name: "imagepullsecret-patcher", port: 8443 } },
    patcherNamespace: "patcher",
    ...overrides,
  };
}

function onlyWebhook(overrides: Partial<WebhookConfigurationOptions> = {}): MutatingWebhook {
  const [webhook] = buildMutatingWebhookConfiguration(options(overrides)).webhooks;
  if (!webhook) throw new Error("expected a webhook");
  return webhook;
}

function refusal(overrides: Partial<WebhookConfigurationOptions>): WebhookConfigurationError {
  try {
    buildMutatingWebhookConfiguration(options(overrides));
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookConfigurationError);
    return error as WebhookConfigurationError;
  }
  throw new Error("expected the options to be refused");
}

describe("buildMutatingWebhookConfiguration", () => {
  it("builds one webhook per mapping with the fixed policies", () => {
    expect(buildMutatingWebhookConfiguration(options({ labels: { app: "patcher" }, caBundle: CA_BUNDLE }))).toEqual({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "MutatingWebhookConfiguration",
      metadata: { name: "imagepullsecret-patcher", labels: { app: "patcher" } },
      webhooks: [
        {
          name: "ecr.pods.imagepullsecret-patcher.io",
          clientConfig: {
            service: { namespace: "patcher", name: "imagepullsecret-patcher", port: 8443, path: "/mutate-pods/ecr" },
            caBundle: CA_BUNDLE,
          },
          admissionReviewVersions: ["v1"],
          sideEffects: "None",
          failurePolicy: "Ignore",
          matchPolicy: "Equivalent",
          reinvocationPolicy: "IfNeeded",
          timeoutSeconds: 2,
          rules: [
            { operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" },
          ],
          namespaceSelector: {
            matchLabels: { env: "prod" },
            matchExpressions: [
              {
                key: NAME_LABEL,
                operator: "NotIn",
                values: ["kube-node-lease", "kube-public", "kube-system", "patcher"],
              },
            ],
          },
          objectSelector: {
            matchExpressions: [{ key: "imagepullsecret-patcher.io/skip", operator: "NotIn", values: ["true"] }],
          },
        },
      ],
    });
  });

  it("keeps mapping order and turns names into DNS labels", () => {
    const config = buildMutatingWebhookConfiguration(
      options({
        mappings: [
          { mappingName: "Team B", namespaceSelector: undefined },
          { mappingName: "ecr", namespaceSelector: {} },
        ],
      }),
    );
    expect(config.webhooks.map((webhook) => webhook.name)).toEqual([
      "team-b.pods.imagepullsecret-patcher.io",
      "ecr.pods.imagepullsecret-patcher.io",
    ]);
    expect(config.metadata).toEqual({ name: "imagepullsecret-patcher" });
  });

  it("builds a configuration without webhooks when no mapping asks for one", () => {
    expect(buildMutatingWebhookConfiguration(options({ mappings: [] })).webhooks).toEqual([]);
  });

  it("uses only the exclusion when the mapping's selector cannot say", () => {
    const webhook = onlyWebhook({ mappings: [{ mappingName: "x", namespaceSelector: undefined }] });
    expect(webhook.namespaceSelector).toEqual({
      matchExpressions: [
        { key: NAME_LABEL, operator: "NotIn", values: ["kube-node-lease", "kube-public", "kube-system", "patcher"] },
      ],
    });
  });

  it("ANDs the mapping's expressions with the exclusion and does not share arrays with the input", () => {
    const selector = new NamespaceListSelector({ namespaces: ["team-a", "kube-system"] }).namespaceSelector();
    const webhook = onlyWebhook({ mappings: [{ mappingName: "list", namespaceSelector: selector }] });
    expect(webhook.namespaceSelector.matchExpressions).toEqual([
      { key: NAME_LABEL, operator: "In", values: ["kube-system", "team-a"] },
      { key: NAME_LABEL, operator: "NotIn", values: ["kube-node-lease", "kube-public", "kube-system", "patcher"] },
    ]);
    expect(webhook.namespaceSelector.matchExpressions?.[0]?.values).not.toBe(selector.matchExpressions?.[0]?.values);
    const server = compileLabelSelector(webhook.namespaceSelector);
    expect(server.matches({ [NAME_LABEL]: "team-a" })).toBe(true);
    expect(server.matches({ [NAME_LABEL]: "kube-system" })).toBe(false);
  });

  it("selects what a label selector selects, minus the excluded namespaces", () => {
    const selector = new LabelNamespaceSelector({ selector: "env in (prod), !legacy", exclude: ["old"] });
    const webhook = onlyWebhook({
      mappings: [{ mappingName: "label", namespaceSelector: selector.namespaceSelector() }],
      excludedNamespaces: ["ops"],
    });
    const server = compileLabelSelector(webhook.namespaceSelector);
    expect(server.matches({ env: "prod", [NAME_LABEL]: "shop" })).toBe(true);
    expect(server.matches({ env: "prod", [NAME_LABEL]: "old" })).toBe(false);
    expect(server.matches({ env: "prod", [NAME_LABEL]: "ops" })).toBe(false);
    expect(server.matches({ env: "prod", [NAME_LABEL]: "patcher" })).toBe(false);
    expect(server.matches({ env: "prod", [NAME_LABEL]: "kube-system" })).toBe(true);
  });

  it("replaces the system namespaces by excludedNamespaces but always excludes its own", () => {
    const webhook = onlyWebhook({ excludedNamespaces: ["b", "a", "b"] });
    expect(webhook.namespaceSelector.matchExpressions).toEqual([
      { key: NAME_LABEL, operator: "NotIn", values: ["a", "b", "patcher"] },
    ]);
    expect(onlyWebhook({ excludedNamespaces: [] }).namespaceSelector.matchExpressions).toEqual([
      { key: NAME_LABEL, operator: "NotIn", values: ["patcher"] },
    ]);
  });

  it("appends the webhook path to a URL's path", () => {
    const at = (url: string) => onlyWebhook({ clientConfig: { url } }).clientConfig;
    expect(at("https://patcher.example.com:8443")).toEqual({ url: "https://patcher.example.com:8443/mutate-pods/ecr" });
    expect(at("https://10.0.0.1/hooks/")).toEqual({ url: "https://10.0.0.1/hooks/mutate-pods/ecr" });
  });

  it("appends the webhook path to a service's base path, port 443 by default", () => {
    const service = (path?: string) =>
      onlyWebhook({ clientConfig: { service: { namespace: "patcher", name: "svc", path } } }).clientConfig;
    expect(service()).toEqual({ service: { namespace: "patcher", name: "svc", port: 443, path: "/mutate-pods/ecr" } });
    expect(service("/base/")).toEqual({
      service: { namespace: "patcher", name: "svc", port: 443, path: "/base/mutate-pods/ecr" },
    });
  });

  it("leaves caBundle out when none is given, for a CA injector to fill", () => {
    expect(onlyWebhook().clientConfig).not.toHaveProperty("caBundle");
  });

  it.each<[number | undefined, number]>([
    [undefined, 2],
    [Number.NaN, 2],
    [Number.POSITIVE_INFINITY, 2],
    [0, 1],
    [-5, 1],
    [1.4, 1],
    [2.6, 3],
    [10, 10],
    [31, 30],
    [600, 30],
  ])("turns timeoutSeconds %s into %s", (value, seconds) => {
    expect(webhookTimeoutSeconds(value)).toBe(seconds);
    expect(onlyWebhook({ timeoutSeconds: value }).timeoutSeconds).toBe(seconds);
  });

  it.each<[string, Partial<WebhookConfigurationOptions>, string]>([
    ["a bad configuration name", { name: "Patcher" }, "name: must consist of lower case"],
    ["a bad own namespace", { patcherNamespace: "" }, "patcherNamespace: must not be empty"],
    ["a bad excluded namespace", { excludedNamespaces: ["ok", "kube_*"] }, "excludedNamespaces[1]: must consist"],
    [
      "a mapping name without letters",
      { mappings: [{ mappingName: "__", namespaceSelector: undefined }] },
      'mapping "__": its name has no letter or digit',
    ],
    [
      "two mappings with one label",
      {
        mappings: [
          { mappingName: "team-a", namespaceSelector: undefined },
          { mappingName: "Team A", namespaceSelector: undefined },
        ],
      },
      'mapping "Team A": its webhook name "team-a" is already taken by mapping "team-a"',
    ],
    [
      "an invalid mapping selector",
      { mappings: [{ mappingName: "x", namespaceSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }] },
      'mapping "x": namespaceSelector.matchExpressions[0].values',
    ],
    ["an http URL", { clientConfig: { url: "http://patcher:8443" } }, "clientConfig.url: must use https"],
    ["a URL with a user", { clientConfig: { url: "https://u:p@patcher" } }, "clientConfig.url: must not hold a user"],
    [
      "a URL with a query",
      { clientConfig: { url: "https://patcher/?a=1" } },
      "clientConfig.url: must not have a query",
    ],
    ["a URL with an empty fragment", { clientConfig: { url: "https://patcher/#" } }, "clientConfig.url: must not have"],
    ["no URL", { clientConfig: { url: "patcher:8443" } }, "clientConfig.url: "],
    [
      "a bad service namespace",
      { clientConfig: { service: { namespace: "A", name: "svc" } } },
      "clientConfig.service.namespace: must consist",
    ],
    [
      "a bad service name",
      { clientConfig: { service: { namespace: "a", name: "svc.x" } } },
      "clientConfig.service.name: must consist",
    ],
    [
      "a bad service port",
      { clientConfig: { service: { namespace: "a", name: "svc", port: 70000 } } },
      "clientConfig.service.port: must be a whole number from 1 to 65535",
    ],
    [
      "a relative service path",
      { clientConfig: { service: { namespace: "a", name: "svc", path: "base" } } },
      "clientConfig.service.path: must start with '/'",
    ],
    ["a caBundle that is not base64", { caBundle: "not base64!" }, "caBundle: must be base64"],
    [
      "a caBundle without PEM",
      { caBundle: Buffer.from("hello").toString("base64") },
      "caBundle: must be base64 of PEM",
    ],
    ["a bad label key", { labels: { "a/b/c": "x" } }, 'labels["a/b/c"]: may contain at most one'],
    ["a bad label value", { labels: { app: "-x" } }, 'labels["app"]: must be empty or consist'],
  ])("refuses %s, naming the option", (_name, overrides, message) => {
    expect(refusal(overrides).message).toContain(message);
  });

  it("never quotes the URL or the CA bundle in an error", () => {
    expect(refusal({ clientConfig: { url: "http://user:secret@patcher" } }).message).not.toContain("secret");
    expect(refusal({ caBundle: "c2VjcmV0" }).message).not.toContain("c2VjcmV0");
  });
});
