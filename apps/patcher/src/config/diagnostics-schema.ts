import { z } from "zod";

/**
 * `diagnostics:` finds Pods in selected namespaces whose image pull failed and that lack the
 * mapping's copy in `spec.imagePullSecrets` (created before their ServiceAccount was patched, or
 * while the webhook was down). Off by default; bound when the process starts.
 */
export const diagnosticsSchema = z
  .object({
    /** Watch the kubelet's pull-failure Events and report such Pods (Event, metric, /diagnostics). */
    enabled: z.boolean().default(false),
    /** Also delete such a Pod when a ReplicaSet, StatefulSet, DaemonSet or Job controls it, so it is recreated. */
    deleteStuckPods: z.boolean().default(false),
    /** Token bucket of deletions: this many a minute, at most this many at once. */
    maxDeletesPerMinute: z.number().int().min(1).max(600).default(10),
  })
  .strict();

export type DiagnosticsConfig = z.infer<typeof diagnosticsSchema>;
