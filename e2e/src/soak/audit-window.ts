// Counts requests in the API server's audit log (JSON lines, Metadata level) between two byte
// offsets and two points in time, by identity, verb and resource.
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";

export interface AuditRequest {
  user: string;
  userAgent: string;
  verb: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  code: number;
  /** requestReceivedTimestamp, epoch ms. */
  received: number;
}

const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);

export function isWrite(r: AuditRequest): boolean {
  return WRITE_VERBS.has(r.verb);
}

/** Current size of the audit log, the offset to start reading from later. */
export function auditOffset(path: string): number {
  return path && existsSync(path) ? statSync(path).size : 0;
}

interface RawEvent {
  stage?: string;
  verb?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp?: string;
}

/** A completed request received in [fromMs, toMs), or undefined for any other line. */
function completedRequest(line: string, fromMs: number, toMs: number): AuditRequest | undefined {
  // Cheap filter before JSON.parse: most lines are from other stages or are reads.
  if (!line.includes('"ResponseComplete"')) return undefined;
  let e: RawEvent;
  try {
    e = JSON.parse(line) as RawEvent;
  } catch {
    return undefined;
  }
  if (e.stage !== "ResponseComplete") return undefined;
  const received = Date.parse(e.requestReceivedTimestamp ?? "");
  if (!(received >= fromMs && received < toMs)) return undefined;
  return toRequest(e, received);
}

function toRequest(e: RawEvent, received: number): AuditRequest {
  const ref = e.objectRef ?? {};
  return {
    user: e.user?.username ?? "",
    userAgent: e.userAgent ?? "",
    verb: e.verb ?? "",
    resource: ref.resource ?? "",
    subresource: ref.subresource ?? "",
    namespace: ref.namespace ?? "",
    name: ref.name ?? "",
    code: e.responseStatus?.code ?? 0,
    received,
  };
}

/** Every complete line of the file after byte `from`, in order. */
function* linesAfter(path: string, from: number): Generator<string> {
  const size = statSync(path).size;
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(4 << 20);
    let offset = from;
    let partial = "";
    while (offset < size) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, size - offset), offset);
      if (n <= 0) break;
      offset += n;
      const lines = (partial + buf.toString("utf8", 0, n)).split("\n");
      partial = lines.pop() ?? "";
      yield* lines;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Completed requests (stage ResponseComplete) logged after byte `from`, received in
 * [fromMs, toMs). Watches complete when they end and are not writes, so they never count here.
 */
export function readAudit(path: string, from: number, fromMs: number, toMs: number): AuditRequest[] {
  const out: AuditRequest[] = [];
  if (!path || !existsSync(path)) return out;
  for (const line of linesAfter(path, from)) {
    const request = completedRequest(line, fromMs, toMs);
    if (request) out.push(request);
  }
  return out;
}

export interface WriteCounts {
  secrets: number;
  serviceaccounts: number;
  events: number;
  leases: number;
  other: number;
}

/** Write requests per identity and resource class. */
export function countWrites(requests: readonly AuditRequest[]): Map<string, WriteCounts> {
  const out = new Map<string, WriteCounts>();
  for (const r of requests) {
    if (!isWrite(r)) continue;
    let c = out.get(r.user);
    if (!c) out.set(r.user, (c = { secrets: 0, serviceaccounts: 0, events: 0, leases: 0, other: 0 }));
    if (r.resource === "secrets") c.secrets++;
    else if (r.resource === "serviceaccounts") c.serviceaccounts++;
    else if (r.resource === "events") c.events++;
    else if (r.resource === "leases") c.leases++;
    else c.other++;
  }
  return out;
}

/** The most frequent write targets: "user verb resource ns/name → code" with counts, for evidence. */
export function topWrites(requests: readonly AuditRequest[], limit = 15): string[] {
  const counts = new Map<string, number>();
  for (const r of requests) {
    if (!isWrite(r) || r.resource === "leases") continue;
    const key = `${r.user.split(":").at(-1)} ${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""} ${r.namespace}/${r.name} → ${r.code}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, n]) => `${n}× ${k}`);
}
