// Checks that need the patcher binary or its HTTP surface: `plan -o json` per instance (what each
// instance would still do, and which keys it reports as conflicts) and /metrics.
import { runPatcher } from "../support/patcher-process.ts";
import { metricSamples, metricValue, type Fleet } from "./fleet.ts";
import type { ExpectedConflict, InstanceSpec } from "./world.ts";

export interface PlanRow {
  mapping: string;
  namespace: string;
  outcome: string;
  reason: string;
  actions: string[];
}

export async function planRows(
  configPath: string,
  kubeconfigPath: string,
): Promise<{ rows: PlanRow[]; error?: string }> {
  const out = await runPatcher(["plan", "-o", "json", "--config", configPath, "--kubeconfig", kubeconfigPath]);
  if (out.code !== 0) return { rows: [], error: `plan exited ${out.code}: ${out.stderr.slice(-1000)}` };
  try {
    return { rows: JSON.parse(out.stdout) as PlanRow[] };
  } catch {
    return { rows: [], error: `plan printed no JSON: ${out.stdout.slice(0, 500)}` };
  }
}

/**
 * Compares an instance's plan with the model: no pending actions on soak namespaces, every expected
 * conflict reported, no conflict the model does not expect.
 */
export function judgePlan(
  instance: string,
  rows: readonly PlanRow[],
  soakNamespaces: ReadonlySet<string>,
  expected: readonly ExpectedConflict[],
): string[] {
  const out: string[] = [];
  const mine = rows.filter((r) => soakNamespaces.has(r.namespace));
  for (const r of mine) {
    if (r.actions.length)
      out.push(
        `plan of ${instance} still wants ${r.mapping} in ${r.namespace}: [${r.actions.join(", ")}] (${r.reason})`,
      );
    else if (r.outcome === "waiting")
      out.push(`plan of ${instance}: ${r.mapping} in ${r.namespace} is waiting (${r.reason})`);
  }
  const want = expected.filter((c) => c.instance === instance);
  for (const c of want) {
    if (!mine.some((r) => r.outcome === "conflict" && r.mapping === c.mapping && r.namespace === c.namespace)) {
      out.push(
        `plan of ${instance} does not report the conflict of ${c.mapping} in ${c.namespace} (${c.secretName} is held by ${c.heldBy})`,
      );
    }
  }
  for (const r of mine) {
    if (r.outcome === "conflict" && !want.some((c) => c.mapping === r.mapping && c.namespace === r.namespace)) {
      out.push(`plan of ${instance} reports an unexpected conflict: ${r.mapping} in ${r.namespace} (${r.reason})`);
    }
  }
  return out;
}

export interface MetricsReport {
  /** Members whose engine runs (beta, and alpha's leader). */
  engines: string[];
  /** Violations of the reported-conflicts check. */
  conflictCounts: string[];
  /** tracked-keys samples found, as "member map=value (bound)". */
  trackedKeys: string[];
  trackedKeysMissing: string[];
  trackedKeysOverBound: string[];
}

export const TRACKED_KEYS_METRIC = "imagepullsecret_patcher_engine_tracked_keys";

/**
 * Reads /metrics of every running member whose engine runs: the `conflicting` namespace gauge per
 * mapping must equal the model's expected conflicts, and the engine's internal maps
 * ({@link TRACKED_KEYS_METRIC}, by `map`) must stay within namespaces × mappings + slack.
 */
export async function checkMetrics(
  fleet: Fleet,
  specs: readonly InstanceSpec[],
  expected: readonly ExpectedConflict[],
  clusterNamespaces: number,
  slack = 16,
): Promise<MetricsReport> {
  const report: MetricsReport = {
    engines: [],
    conflictCounts: [],
    trackedKeys: [],
    trackedKeysMissing: [],
    trackedKeysOverBound: [],
  };
  for (const m of fleet.running()) {
    const text = await fleet.metrics(m.id);
    if (!text) continue;
    const spec = specs.find((s) => s.instance === m.instance);
    if (!spec) continue;
    if (spec.leaderElection && metricValue(text, "imagepullsecret_patcher_leader") !== 1) continue;
    report.engines.push(m.id);
    for (const mapping of spec.mappings) {
      const want = expected.filter((c) => c.instance === spec.instance && c.mapping === mapping.name).length;
      const got = metricValue(text, "imagepullsecret_patcher_namespaces", {
        mapping: mapping.name,
        state: "conflicting",
      });
      if (got !== want)
        report.conflictCounts.push(
          `${m.id}: imagepullsecret_patcher_namespaces{mapping="${mapping.name}",state="conflicting"} = ${got ?? "absent"}, expected ${want}`,
        );
    }
    const samples = metricSamples(text, TRACKED_KEYS_METRIC);
    const bound = clusterNamespaces * spec.mappings.length + slack;
    if (!samples.length) report.trackedKeysMissing.push(m.id);
    for (const s of samples) {
      const line = `${m.id} ${s.labels.map ?? "?"}=${s.value} (bound ${clusterNamespaces} namespaces × ${spec.mappings.length} mappings + ${slack} = ${bound})`;
      report.trackedKeys.push(line);
      if (!(s.value <= bound)) report.trackedKeysOverBound.push(line);
    }
  }
  return report;
}
