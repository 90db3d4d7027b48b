/** One Pod found lacking a copy, as `/diagnostics` shows it. Never holds credential bytes. */
export interface Finding {
  /** When it was last looked at (ISO 8601). */
  at: string;
  namespace: string;
  pod: string;
  uid: string;
  image: string | undefined;
  /** The mappings whose copy it lacks, and the copy's name. */
  missing: { mapping: string; secretName: string }[];
  /** `Kind/name` of its controller, if any. */
  controller: string | undefined;
  /** `reported`; `deleted` (its controller recreates it); `kept` (see `reason`); `deferred` (rate limit). */
  action: "reported" | "deleted" | "kept" | "deferred";
  reason: string | undefined;
}

/** The latest findings, newest first, at most `capacity` (one per Pod). */
export class RecentFindings {
  readonly #byUid = new Map<string, Finding>();

  constructor(private readonly capacity = 100) {}

  put(finding: Finding): void {
    this.#byUid.delete(finding.uid);
    this.#byUid.set(finding.uid, finding);
    if (this.#byUid.size > this.capacity) {
      const oldest = this.#byUid.keys().next();
      if (!oldest.done) this.#byUid.delete(oldest.value);
    }
  }

  list(): Finding[] {
    return [...this.#byUid.values()].reverse();
  }
}
