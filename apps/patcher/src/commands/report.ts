import type { Action, KeyStatus, MappingStatus, Plan } from "@imagepullsecret-patcher/core";

export interface PlannedKey extends KeyStatus {
  plan: Plan;
}

function actionText(action: Action, secretName: string): [string, string] {
  switch (action.type) {
    case "create-secret":
      return ["create", `Secret ${secretName}`];
    case "update-secret":
      return ["update", `Secret ${secretName}${action.adopt ? " (take over)" : ""}`];
    case "recreate-secret":
      return ["recreate", `Secret ${secretName} (type must change)`];
    case "delete-secret":
      return ["remove", `Secret ${secretName}`];
    case "add-reference":
      return ["patch", `ServiceAccount ${action.serviceAccount.name}: add ${secretName}`];
    case "remove-reference":
      return ["patch", `ServiceAccount ${action.serviceAccount.name}: remove ${secretName}`];
    case "claim-reference":
      return ["patch", `ServiceAccount ${action.serviceAccount.name}: record ${secretName} as managed`];
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "))
    .join("\n");
}

type PlanRows = { kind: "in-sync" | "quiet" | "refused" | "changes" | "skip"; rows: string[][] };

/** The lines one key adds to the `plan` table, and what kind of line they are. */
function planRows(key: PlannedKey, secretName: string): PlanRows {
  const { plan } = key;
  // A selected namespace left alone on purpose (it holds a configured source) is worth a line.
  if (plan.outcome === "skipped" && plan.reason.includes("configured source")) {
    return { kind: "skip", rows: [[key.mapping, key.namespace, "skip", plan.reason]] };
  }
  if (plan.outcome === "in-sync") return { kind: "in-sync", rows: [] };
  if (plan.outcome === "skipped" || (plan.outcome === "out-of-scope" && plan.actions.length === 0)) {
    return { kind: "quiet", rows: [] };
  }
  if (plan.outcome === "conflict" || plan.outcome === "waiting") {
    const verb = plan.outcome === "conflict" ? "refuse" : "wait";
    return { kind: "refused", rows: [[key.mapping, key.namespace, verb, plan.reason]] };
  }
  const rows = plan.actions.map((action) => [key.mapping, key.namespace, ...actionText(action, secretName)]);
  return { kind: "changes", rows };
}

/**
 * The `plan` table: one row per change the patcher would make, and one per refusal with its
 * reason. Keys already in sync are counted, not listed. No credential bytes are ever printed.
 */
export function renderPlan(keys: readonly PlannedKey[], secretNames: ReadonlyMap<string, string>): string {
  const rows: string[][] = [["MAPPING", "NAMESPACE", "ACTION", "OBJECT / REASON"]];
  let inSync = 0;
  let changes = 0;
  let refused = 0;
  const sorted = [...keys].sort((a, b) => a.mapping.localeCompare(b.mapping) || a.namespace.localeCompare(b.namespace));
  for (const key of sorted) {
    const row = planRows(key, key.secretName ?? secretNames.get(key.mapping) ?? "?");
    if (row.kind === "in-sync") inSync++;
    if (row.kind === "refused") refused++;
    if (row.kind === "changes") changes += row.rows.length;
    rows.push(...row.rows);
  }
  const summary = `${changes} change(s), ${refused} refused or waiting, ${inSync} namespace(s) already in sync`;
  return rows.length > 1 ? `${table(rows)}\n\n${summary}` : `Nothing to do. ${summary}`;
}

function skippedText(keys: readonly PlannedKey[]): string {
  const skipped = keys.filter((k) => k.plan.outcome === "skipped" && k.plan.reason.includes("configured source"));
  if (skipped.length === 0) return "0";
  return `${skipped.length} (${skipped.map((k) => `${k.namespace}: ${k.plan.reason}`).join("; ")})`;
}

/** The `status` table: per mapping, its source and where its namespaces stand. */
/**
 * `stuckPods`: per mapping, Pods the diagnostics reported as unable to pull for lack of the copy and
 * that still exist; undefined when that could not be read (shown as "?").
 */
export function renderStatus(
  statuses: readonly MappingStatus[],
  keys: readonly PlannedKey[],
  stuckPods?: ReadonlyMap<string, number>,
): string {
  const rows: string[][] = [
    [
      "MAPPING",
      "SOURCE",
      "STATE",
      "IN SCOPE",
      "IN SYNC",
      "TO CHANGE",
      "CONFLICTING",
      "FAILING",
      "SKIPPED",
      "STUCK PODS",
    ],
  ];
  for (const s of statuses) {
    const mine = keys.filter((k) => k.mapping === s.name);
    const inScope = mine.filter((k) => k.plan.outcome !== "out-of-scope" && k.plan.outcome !== "skipped");
    rows.push([
      s.name,
      s.source,
      s.sourceState + (s.sourceError ? ` (${s.sourceError})` : ""),
      String(inScope.length),
      String(inScope.filter((k) => k.plan.outcome === "in-sync").length),
      String(inScope.filter((k) => k.plan.outcome === "changes").length),
      String(inScope.filter((k) => k.plan.outcome === "conflict").length),
      String(inScope.filter((k) => k.plan.outcome === "waiting").length),
      skippedText(mine),
      stuckPods ? String(stuckPods.get(s.name) ?? 0) : "?",
    ]);
  }
  return table(rows);
}
