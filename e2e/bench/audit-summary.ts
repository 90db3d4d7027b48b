// What the patcher's requests in a window add up to: each request classified by verb, resource
// and scope, the writes per namespace compared with the shape a target demands, and per-minute
// counts for the idle scenario.
import type { AuditRecord } from "./audit.ts";

/** Where the objects the patcher may read without counting as per-namespace reads live. */
export interface Context {
  /** Namespace and name of the source Secret (its list/watch is expected). */
  sourceNamespace: string;
  sourceName: string;
  /** Namespace of the leader-election Lease. */
  leaseNamespace: string;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);
const READ_VERBS = new Set(["get", "list", "watch"]);

export function isWrite(r: AuditRecord): boolean {
  return WRITE_VERBS.has(r.verb);
}

function isSourceRequest(r: AuditRecord, ctx: Context): boolean {
  if (r.resource !== "secrets" || r.namespace !== ctx.sourceNamespace) return false;
  return r.name === ctx.sourceName || decodeURIComponent(r.uri).includes(`metadata.name=${ctx.sourceName}`);
}

function scopeOf(r: AuditRecord, ctx: Context): string {
  if (!r.namespace) return r.resource === "namespaces" && r.name ? "[one namespace]" : "[all namespaces]";
  if (r.resource === "leases") return `[${r.namespace}]`;
  if (isSourceRequest(r, ctx)) return `[source ${ctx.sourceNamespace}/${ctx.sourceName}]`;
  return "[per-namespace]";
}

/**
 * A stable label for a request: verb, resource and scope, e.g. `list secrets [all namespaces]`,
 * `patch serviceaccounts [per-namespace]`, `update leases [ipsp-bench]`.
 */
export function classify(r: AuditRecord, ctx: Context): string {
  const resource = `${r.group ? `${r.resource}.${r.group}` : r.resource}${r.subresource ? `/${r.subresource}` : ""}`;
  return `${r.verb} ${resource} ${scopeOf(r, ctx)}`;
}

export interface Deviation {
  namespace: string;
  requests: string[];
}

export interface WindowSummary {
  requests: number;
  /** classify() label → count. */
  byKind: Record<string, number>;
  /** HTTP status → count. */
  byCode: Record<string, number>;
  /** Write requests on Secrets, ServiceAccounts and Namespaces (not the Lease, not Events). */
  writes: number;
  /** Write requests answered with a non-2xx status (409 conflicts, 422, 429...). */
  failedWrites: number;
  /** Requests on the leader-election Lease. */
  leaseRequests: number;
  /** Events the patcher wrote (conflicts, failures). */
  eventWrites: number;
  /** get/list/watch of one namespace's objects (not the source, not the Lease). */
  perNamespaceReads: number;
  perNamespaceReadExamples: string[];
  /** Write requests per target namespace: "1 create secrets + 1 patch serviceaccounts" → count. */
  writeShapes: Record<string, number>;
  /** Namespaces whose writes differ from the expected shape, with their requests (at most 20). */
  deviations: Deviation[];
  deviationCount: number;
  /** Target namespaces that got no write at all although one was expected. */
  missing: number;
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

function shapeOf(records: AuditRecord[]): string {
  const counts: Record<string, number> = {};
  for (const r of records) increment(counts, `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""}`);
  return Object.entries(counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${n} ${k}`)
    .join(" + ");
}

/** Request counts of a window, and each namespace's writes to Secrets and ServiceAccounts. */
class RequestTally {
  readonly byKind: Record<string, number> = {};
  readonly byCode: Record<string, number> = {};
  readonly perNamespace = new Map<string, AuditRecord[]>();
  readonly perNamespaceReadExamples: string[] = [];
  writes = 0;
  failedWrites = 0;
  leaseRequests = 0;
  eventWrites = 0;
  perNamespaceReads = 0;

  add(r: AuditRecord, ctx: Context): void {
    const kind = classify(r, ctx);
    increment(this.byKind, kind);
    increment(this.byCode, String(r.code));
    if (r.resource === "leases") this.leaseRequests++;
    else if (r.resource === "events") this.eventWrites += isWrite(r) ? 1 : 0;
    else if (isWrite(r)) this.#write(r);
    else if (READ_VERBS.has(r.verb) && kind.endsWith("[per-namespace]")) {
      this.perNamespaceReads++;
      if (this.perNamespaceReadExamples.length < 10)
        this.perNamespaceReadExamples.push(`${r.verb} ${r.uri} → ${r.code}`);
    }
  }

  #write(r: AuditRecord): void {
    this.writes++;
    if (r.code >= 300 || r.code === 0) this.failedWrites++;
    if (!r.namespace || (r.resource !== "secrets" && r.resource !== "serviceaccounts")) return;
    let list = this.perNamespace.get(r.namespace);
    if (!list) this.perNamespace.set(r.namespace, (list = []));
    list.push(r);
  }
}

/** Each namespace's write shape against the expected one. */
function compareShapes(
  perNamespace: ReadonlyMap<string, AuditRecord[]>,
  targets: ReadonlySet<string>,
  expectedShape: string | undefined,
): Pick<WindowSummary, "writeShapes" | "deviations" | "deviationCount" | "missing"> {
  const writeShapes: Record<string, number> = {};
  const deviations: Deviation[] = [];
  let deviationCount = 0;
  let missing = 0;
  const namespaces = new Set<string>([...perNamespace.keys(), ...(expectedShape ? targets : [])]);
  for (const ns of [...namespaces].sort()) {
    const list = perNamespace.get(ns) ?? [];
    const shape = list.length ? shapeOf(list) : "no writes";
    increment(writeShapes, shape);
    const expected = targets.has(ns) ? (expectedShape ?? "no writes") : "no writes";
    if (shape === expected) continue;
    deviationCount++;
    if (shape === "no writes") missing++;
    if (deviations.length < 20) {
      deviations.push({
        namespace: ns,
        requests: list.map((r) => `${new Date(r.received).toISOString()} ${r.verb} ${r.uri} → ${r.code}`),
      });
    }
  }
  return { writeShapes, deviations, deviationCount, missing };
}

/**
 * Summarises the patcher's requests in a window. `expectedShape` is the exact per-namespace write
 * pattern the target demands (e.g. "1 create secrets + 1 patch serviceaccounts"); `targets` are the
 * namespaces expected to get it.
 */
export function summarise(
  records: AuditRecord[],
  ctx: Context,
  targets: ReadonlySet<string>,
  expectedShape: string | undefined,
): WindowSummary {
  const tally = new RequestTally();
  for (const r of records) tally.add(r, ctx);
  const shapes = compareShapes(tally.perNamespace, targets, expectedShape);
  return {
    requests: records.length,
    byKind: tally.byKind,
    byCode: tally.byCode,
    writes: tally.writes,
    failedWrites: tally.failedWrites,
    leaseRequests: tally.leaseRequests,
    eventWrites: tally.eventWrites,
    perNamespaceReads: tally.perNamespaceReads,
    perNamespaceReadExamples: tally.perNamespaceReadExamples,
    writeShapes: shapes.writeShapes,
    deviations: shapes.deviations,
    deviationCount: shapes.deviationCount,
    missing: shapes.missing,
  };
}

/** Requests per minute of a window, by classify() label (for the idle scenario). */
export function perMinute(
  records: AuditRecord[],
  ctx: Context,
  from: number,
  minutes: number,
): Record<string, number>[] {
  const out: Record<string, number>[] = Array.from({ length: Math.ceil(minutes) }, () => ({}));
  for (const r of records) {
    const bucket = out[Math.floor((r.received - from) / 60_000)];
    if (bucket) increment(bucket, classify(r, ctx));
  }
  return out;
}
