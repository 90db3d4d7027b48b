import type { Logger } from "../logging/logger.js";

/** Below this many namespaces only the completion is logged, not the 10% steps. */
const REPORT_STEPS_FROM = 100;

interface Pass {
  readonly total: number;
  readonly done: Set<string>;
  nextReport: number;
  readonly started: number;
}

/**
 * Progress of the first full pass, for "synced 4,000/10,000 namespaces" logs. Counted in keys, so a
 * namespace is done only when every mapping has reconciled it; large clusters get a line about
 * every 10%, and one line when the pass is complete.
 */
export class InitialSyncProgress {
  readonly #log: Logger;
  readonly #now: () => number;
  #pass: Pass | undefined;

  constructor(log: Logger, now: () => number = Date.now) {
    this.#log = log;
    this.#now = now;
  }

  /** Starts counting a pass over `namespaces` namespaces. */
  begin(namespaces: number): void {
    this.#pass = { total: namespaces, done: new Set(), nextReport: 0, started: this.#now() };
  }

  /** `key` settled (not failing); each namespace has `keysPerNamespace` keys. */
  settled(key: string, keysPerNamespace: number): void {
    const pass = this.#pass;
    if (!pass || pass.done.has(key)) return;
    pass.done.add(key);
    const perNamespace = Math.max(1, keysPerNamespace);
    const totalKeys = pass.total * perNamespace;
    const total = pass.total.toLocaleString("en-US");
    if (pass.done.size >= totalKeys) {
      this.#log.info(
        { namespaces: pass.total, ms: this.#now() - pass.started },
        `initial sync complete: ${total} namespaces`,
      );
      this.#pass = undefined;
      return;
    }
    if (pass.total < REPORT_STEPS_FROM || pass.done.size < pass.nextReport) return;
    const done = Math.floor(pass.done.size / perNamespace);
    if (done > 0)
      this.#log.info({ done, total: pass.total }, `synced ${done.toLocaleString("en-US")}/${total} namespaces`);
    pass.nextReport = pass.done.size + Math.ceil(totalKeys / 10);
  }
}
