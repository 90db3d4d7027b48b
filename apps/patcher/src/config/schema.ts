import { z } from "zod";
import { GO_DURATION_PATTERN, parseGoDuration } from "@imagepullsecret-patcher/core";
import { diagnosticsSchema } from "./diagnostics-schema.js";

/** Durations as Go/Kubernetes write them ("30s", "10m", "1h30m") or plain seconds. */
export const duration = z.union([
  z.number().nonnegative(),
  z.string().regex(GO_DURATION_PATTERN, 'expected a duration such as "30s", "10m" or "1h"'),
]);

/** Milliseconds of a checked duration (plain seconds or Go form); 0 for text the schema refuses. */
export function durationMs(value: number | string): number {
  if (typeof value === "number") return value * 1000;
  return parseGoDuration(value) ?? 0;
}

/** Floor of `controller.watchInactivityTimeout`. */
export const MIN_WATCH_INACTIVITY_MS = 60_000;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const controller = z
  .object({
    /** Concurrent reconciles. */
    workers: z.number().int().min(1).max(64).default(4),
    /** Re-evaluate every key from cache this often; 0 disables. */
    resyncInterval: duration.default("10m"),
    /** Client-side write rate limit. */
    clientQps: z.number().positive().default(50),
    clientBurst: z.number().int().min(1).default(100),
    /**
     * Relist a watch that delivered nothing for this long. At least 60 s: idle watches deliver
     * nothing for minutes (bookmarks come about once a minute, after a random delay), so a
     * shorter window relists them constantly. 0 does not disable it: it would time out at once.
     */
    watchInactivityTimeout: duration
      .refine(
        (value) => durationMs(value) >= MIN_WATCH_INACTIVITY_MS,
        "must be at least 60s: a shorter window relists idle watches constantly",
      )
      .default("330s"),
    /** Keep the copies and entries of a mapping removed from config. */
    onMappingRemoved: z.enum(["delete", "retain"]).default("delete"),
    /** Probe `GET /v2/` on each registry with a new credential before it fans out. */
    verifyCredentials: z.boolean().default(false),
    /** Distinguishes installations sharing a cluster. */
    instance: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "lowercase letters, digits and '-'")
      .max(63)
      .default("default"),
  })
  .strict();

const leaderElection = z
  .object({
    enabled: z.boolean().default(false),
    namespace: z.string().optional(),
    name: z.string().default("imagepullsecret-patcher"),
    leaseDuration: duration.default("15s"),
    renewDeadline: duration.default("10s"),
    retryPeriod: duration.default("2s"),
  })
  .strict();

const server = z
  .object({
    /** host:port for /healthz, /readyz and /metrics; empty disables. */
    address: z.string().default(":8080"),
  })
  .strict();

// Certificates start 5 minutes before they are made (clock skew) and are renewed with a third of that lifetime left,
// so one lasting V is renewed (2V - 5m)/3 after it is made: 4m gives a minute, the replicas' check interval.
const MIN_SERVING_VALIDITY_MS = 4 * 60_000;
// A new CA must not be renewed before the serving certificate has moved to it: it is renewed (2V - 5m)/3 after it is
// made, and the move takes at most servingValidity/3 <= V/3; 8m leaves a minute between the two.
const MIN_CA_VALIDITY_MS = 8 * 60_000;
// The replica that rotates the CA publishes it at once and the API server's watch delivers it in seconds.
const MIN_CA_PROPAGATION_MS = 60_000;

/** What is wrong with webhook.tls's lifetimes, as [field, message]. */
function webhookTlsTimingProblems(tls: {
  servingValidity: number | string;
  caValidity: number | string;
  caPropagation: number | string;
}): [string, string][] {
  const serving = durationMs(tls.servingValidity);
  const ca = durationMs(tls.caValidity);
  const propagation = durationMs(tls.caPropagation);
  const problems: [string, string][] = [];
  if (serving < MIN_SERVING_VALIDITY_MS) {
    problems.push(["servingValidity", "must be at least 4m: a shorter certificate is renewed almost as soon as made"]);
  }
  if (ca < Math.max(serving, MIN_CA_VALIDITY_MS)) {
    problems.push(["caValidity", "must be at least 8m and at least servingValidity"]);
  }
  if (propagation < MIN_CA_PROPAGATION_MS || propagation > serving / 3) {
    // The serving certificate signed by the old CA stays in use through the propagation; a third of its life is left.
    problems.push(["caPropagation", "must be at least 1m and at most a third of servingValidity"]);
  }
  return problems;
}

const webhookTls = z
  .object({
    /**
     * `self-managed`: the patcher makes a CA and a serving certificate, keeps them in a Secret shared
     * by its replicas, writes the CA into its MutatingWebhookConfiguration and rotates both.
     * `files`: a certificate and key mounted from elsewhere (cert-manager), reloaded when they change.
     */
    mode: z.enum(["self-managed", "files"]).default("self-managed"),
    secretName: z.string().regex(DNS1123_SUBDOMAIN).max(253).default("imagepullsecret-patcher-webhook-tls"),
    /** Default: the patcher's own namespace (POD_NAMESPACE). */
    secretNamespace: z.string().optional(),
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Mode files: the CA to publish in the configuration's caBundle (cert-manager writes ca.crt). */
    caFile: z.string().optional(),
    /** Extra names of the serving certificate; the Service's DNS names or the URL's host are added. */
    dnsNames: z.array(z.string()).default([]),
    ipAddresses: z.array(z.string()).default([]),
    /** Self-managed: lifetime of the serving certificate; renewed when a third of it is left. */
    servingValidity: duration.default("2160h"),
    /** Self-managed: lifetime of the CA; renewed when a third of it is left. */
    caValidity: duration.default("8760h"),
    /** Self-managed: how long a new CA is published before the serving certificate moves to it. */
    caPropagation: duration.default("10m"),
  })
  .strict()
  .superRefine((tls, ctx) => {
    for (const [path, message] of webhookTlsTimingProblems(tls)) {
      ctx.addIssue({ code: "custom", path: [path], message });
    }
  });

const webhook = z
  .object({
    enabled: z.boolean().default(false),
    /** host:port of the HTTPS listener that the API server calls. */
    address: z.string().default(":8443"),
    /** The MutatingWebhookConfiguration the patcher keeps up to date (RBAC by this name). */
    configurationName: z.string().regex(DNS1123_SUBDOMAIN).max(253).default("imagepullsecret-patcher"),
    /** False when something else (Helm with cert-manager's CA injector) owns the configuration. */
    manageConfiguration: z.boolean().default(true),
    /** How the API server reaches the webhook in a cluster. */
    service: z
      .object({
        name: z.string(),
        namespace: z.string().optional(),
        port: z.number().int().min(1).max(65535).default(443),
      })
      .strict()
      .optional(),
    /** Or a URL (an API server outside the cluster, or tests): https://host:port. */
    url: z.url({ protocol: /^https$/ }).optional(),
    /** The API server gives up after this long and admits the Pod anyway (failurePolicy Ignore). */
    timeoutSeconds: z.number().int().min(1).max(30).default(2),
    tls: webhookTls.default(webhookTls.parse({})),
  })
  .strict()
  .superRefine((hook, ctx) => {
    if (!hook.enabled) return;
    if (!hook.service === !hook.url) {
      ctx.addIssue({
        code: "custom",
        path: ["service"],
        message: "set exactly one of webhook.service and webhook.url",
      });
    }
    if (hook.tls.mode === "files" && (!hook.tls.certFile || !hook.tls.keyFile)) {
      ctx.addIssue({ code: "custom", path: ["tls", "certFile"], message: "tls.mode files needs certFile and keyFile" });
    }
  });

const log = z
  .object({
    level: z.enum(["trace", "debug", "info", "warn", "error"]).default("info"),
  })
  .strict();

/**
 * The top level of config.yaml. Mappings, sources, targets and strategies are validated by the
 * plugins themselves (they know their own config); this schema checks everything around them.
 */
export const configSchema = z
  .object({
    /**
     * Name of the copies of every mapping that sets none. Unset: each mapping's own default, the
     * source Secret's name for a `secret` source and `image-pull-secret` for any other source.
     */
    secretName: z
      .string()
      .refine((name) => name.length <= 253 && DNS1123_SUBDOMAIN.test(name), {
        error: (issue) =>
          `${JSON.stringify(issue.input)} is not a valid Secret name (DNS-1123 subdomain: lowercase letters, digits, '-' and '.')`,
      })
      .optional(),
    /** Default strategy of mappings that set none. */
    serviceAccounts: z.unknown().optional(),
    /** Default conflict policy of mappings that set none. */
    conflictPolicy: z.enum(["skip", "adopt", "overwrite"]).optional(),
    /** Seed form: one source, one mapping. Checked with the mappings (`source: {name, namespace}` is a `secret` source). */
    source: z.unknown().optional(),
    /** Seed form: targets of that one mapping (default: all namespaces); a map, or a list of `{namespace}`. */
    targets: z.unknown().optional(),
    mappings: z.array(z.unknown()).optional(),
    /** Third-party plugin packages, loaded by package name. */
    plugins: z.array(z.string().min(1)).default([]),
    controller: controller.default(controller.parse({})),
    leaderElection: leaderElection.default(leaderElection.parse({})),
    server: server.default(server.parse({})),
    webhook: webhook.default(webhook.parse({})),
    diagnostics: diagnosticsSchema.default(diagnosticsSchema.parse({})),
    log: log.default(log.parse({})),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.source && config.mappings) {
      ctx.addIssue({
        code: "custom",
        path: ["source"],
        message: "use either the seed form (source) or mappings, not both",
      });
    }
    if (!config.source && !config.mappings) {
      ctx.addIssue({ code: "custom", path: [], message: "nothing to do: set source (seed form) or mappings" });
    }
    if (!config.webhook.enabled) {
      (config.mappings ?? []).forEach((mapping, i) => {
        if ((mapping as { podAdmission?: unknown } | null)?.podAdmission === true) {
          ctx.addIssue({
            code: "custom",
            path: ["mappings", i, "podAdmission"],
            message: "needs the webhook: set webhook.enabled (and webhook.service or webhook.url)",
          });
        }
      });
    }
    if (config.targets && !config.source) {
      ctx.addIssue({
        code: "custom",
        path: ["targets"],
        message: "targets at the top level belongs to the seed form; inside mappings, set targets per mapping",
      });
    }
  });

export type PatcherConfig = z.infer<typeof configSchema>;

/** The keys a map at `path` may have (for "did you mean" hints); empty when `path` is no fixed map. */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  const unwrap = (s: z.ZodType): z.ZodType =>
    s instanceof z.ZodDefault || s instanceof z.ZodOptional ? unwrap(s.unwrap() as z.ZodType) : s;
  for (const segment of path) {
    const object = unwrap(schema);
    const next =
      object instanceof z.ZodObject && typeof segment === "string"
        ? (object.shape as Record<string, z.ZodType>)[segment]
        : undefined;
    if (!next) return [];
    schema = next;
  }
  const object = unwrap(schema);
  return object instanceof z.ZodObject ? Object.keys(object.shape) : [];
}
