// Reads the API server's audit log (JSON lines, Metadata level) incrementally and keeps compact
// records of the requests the benchmark counts: everything the patcher's own identity did, plus
// the Namespace and ServiceAccount creations the latency scenario times against.
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface AuditRecord {
  id: string;
  /** The stage the record was first seen at: ResponseStarted (watches) or ResponseComplete. */
  stage: string;
  verb: string;
  resource: string;
  subresource: string;
  group: string;
  namespace: string;
  name: string;
  code: number;
  user: string;
  uri: string;
  /** requestReceivedTimestamp, epoch ms with microseconds. */
  received: number;
  /** stageTimestamp of ResponseComplete (for watches: when the watch ended; NaN while open). */
  completed: number;
}

interface RawEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

/** RFC 3339 with microseconds → epoch milliseconds with a fraction. */
export function parseMicroTime(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(s);
  if (!m) return Date.parse(s);
  const whole = Date.parse(`${m[1]}Z`);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

/** "user (agent)" with the agent shortened: kube-controller-manager/…/service-account-controller. */
function clientName(user: string, agent: string): string {
  const product = agent.split(" ")[0]?.split("/")[0] ?? "";
  const controller = agent.includes("kubernetes/") ? agent.split("/").at(-1) : undefined;
  const short = product
    ? controller && controller !== product
      ? `${product}/${controller}`
      : product
    : "no user agent";
  return `${user} (${short})`;
}

export class AuditLog {
  readonly path: string;
  readonly patcherUser: string;
  /** The patcher's requests, one record per request (a watch counted once). */
  readonly patcher: AuditRecord[] = [];
  /** namespace → creation of its `default` ServiceAccount (by kube-controller-manager). */
  readonly defaultSaCreated = new Map<string, AuditRecord>();
  /** namespace → creation of the Namespace. */
  readonly namespaceCreated = new Map<string, AuditRecord>();
  /** Second (epoch) → user → requests completed, for "who else loaded the API server". */
  readonly othersBySecond = new Map<number, Map<string, number>>();
  lines = 0;
  #offset = 0;
  #partial = "";
  readonly #open = new Map<string, AuditRecord>();

  constructor(path: string, patcherUser: string) {
    this.path = path;
    this.patcherUser = patcherUser;
  }

  get bytesRead(): number {
    return this.#offset;
  }

  /** Reads whatever was appended since the last call. */
  sync(): void {
    if (!existsSync(this.path)) return;
    const size = statSync(this.path).size;
    if (size <= this.#offset) return;
    const fd = openSync(this.path, "r");
    try {
      const buf = Buffer.alloc(8 << 20);
      while (this.#offset < size) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, size - this.#offset), this.#offset);
        if (n <= 0) break;
        this.#offset += n;
        const text = this.#partial + buf.toString("utf8", 0, n);
        const lines = text.split("\n");
        this.#partial = lines.pop() ?? "";
        for (const line of lines) if (line) this.#line(line);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Waits for the API server to write the events of requests that just finished, then reads them. */
  async settle(ms = 1500): Promise<void> {
    await sleep(ms);
    this.sync();
  }

  #line(line: string): void {
    this.lines++;
    let e: RawEvent;
    try {
      e = JSON.parse(line) as RawEvent;
    } catch {
      return;
    }
    if (e.stage !== "ResponseComplete" && e.stage !== "ResponseStarted") return;
    const user = e.user?.username ?? "";
    if (user === this.patcherUser) this.#patcherEvent(e, user);
    else if (e.stage === "ResponseComplete") this.#otherEvent(e, user);
  }

  #patcherEvent(e: RawEvent, user: string): void {
    const open = this.#open.get(e.auditID);
    if (open) {
      // The end of a request already counted at ResponseStarted (a watch): record when it ended.
      if (e.stage === "ResponseComplete") {
        open.completed = parseMicroTime(e.stageTimestamp);
        open.code = e.responseStatus?.code ?? open.code;
        this.#open.delete(e.auditID);
      }
      return;
    }
    const rec = this.#record(e, user);
    this.patcher.push(rec);
    if (e.stage === "ResponseStarted") this.#open.set(e.auditID, rec);
  }

  #otherEvent(e: RawEvent, user: string): void {
    const second = Math.floor(parseMicroTime(e.requestReceivedTimestamp) / 1000);
    let byUser = this.othersBySecond.get(second);
    if (!byUser) this.othersBySecond.set(second, (byUser = new Map<string, number>()));
    const client = clientName(user, e.userAgent ?? "");
    byUser.set(client, (byUser.get(client) ?? 0) + 1);
    if (e.verb === "create" && (e.responseStatus?.code ?? 0) < 300) this.#creation(e, user);
  }

  /** Namespace creations, and kube-controller-manager's creation of each `default` ServiceAccount. */
  #creation(e: RawEvent, user: string): void {
    const ref = e.objectRef;
    if (!ref || ref.subresource) return;
    if (ref.resource === "serviceaccounts" && ref.namespace) {
      // kube-controller-manager's serviceaccount controller (it runs with the admin kubeconfig of
      // the local control plane, so it is told apart by its user agent).
      const isDefault = !ref.name || ref.name === "default";
      if (
        isDefault &&
        (e.userAgent ?? "").includes("service-account-controller") &&
        !this.defaultSaCreated.has(ref.namespace)
      ) {
        this.defaultSaCreated.set(ref.namespace, this.#record(e, user));
      }
    } else if (ref.resource === "namespaces") {
      const rec = this.#record(e, user);
      if (rec.name) this.namespaceCreated.set(rec.name, rec);
    }
  }

  #record(e: RawEvent, user: string): AuditRecord {
    const ref = e.objectRef ?? {};
    return {
      id: e.auditID,
      stage: e.stage,
      verb: e.verb,
      resource: ref.resource ?? "",
      subresource: ref.subresource ?? "",
      group: ref.apiGroup ?? "",
      namespace: ref.namespace ?? "",
      name: ref.name ?? "",
      code: e.responseStatus?.code ?? 0,
      user,
      uri: e.requestURI,
      received: parseMicroTime(e.requestReceivedTimestamp),
      completed: e.stage === "ResponseComplete" ? parseMicroTime(e.stageTimestamp) : Number.NaN,
    };
  }

  /** The patcher's requests received in [from, to). */
  patcherBetween(from: number, to: number): AuditRecord[] {
    return this.patcher.filter((r) => r.received >= from && r.received < to);
  }

  /** Requests by other users completed in [from, to), by user. */
  othersBetween(from: number, to: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (let s = Math.floor(from / 1000); s < Math.ceil(to / 1000); s++) {
      for (const [user, n] of this.othersBySecond.get(s) ?? []) out[user] = (out[user] ?? 0) + n;
    }
    return out;
  }
}
