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
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  ")).join("\n");
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
    const secretName = key.secretName ?? secretNames.get(key.mapping) ?? "?";
    // A selected namespace left alone on purpose (it holds a configured source) is worth a line.
    if (key.plan.outcome === "skipped" && key.plan.reason.includes("configured source")) {
      rows.push([key.mapping, key.namespace, "skip", key.plan.reason]);
      continue;
    }
    if (key.plan.outcome === "in-sync" || (key.plan.outcome === "out-of-scope" && key.plan.actions.length === 0) || key.plan.outcome === "skipped") {
      if (key.plan.outcome === "in-sync") inSync++;
      continue;
    }
    if (key.plan.outcome === "conflict" || key.plan.outcome === "waiting") {
      refused++;
      rows.push([key.mapping, key.namespace, key.plan.outcome === "conflict" ? "refuse" : "wait", key.plan.reason]);
      continue;
    }
    for (const action of key.plan.actions) {
      changes++;
      const [verb, object] = actionText(action, secretName);
      rows.push([key.mapping, key.namespace, verb, object]);
    }
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
export function renderStatus(statuses: readonly MappingStatus[], keys: readonly PlannedKey[]): string {
  const rows: string[][] = [["MAPPING", "SOURCE", "STATE", "IN SCOPE", "IN SYNC", "TO CHANGE", "CONFLICTING", "FAILING", "SKIPPED"]];
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
    ]);
  }
  return table(rows);
}
