import type { Logger } from "../logging/logger.js";
import type { SourceProvider, SourceValue } from "../plugins/contracts.js";
import { describeError } from "../util/errors.js";

/** Checks a new credential before it fans out, e.g. a registry login probe. */
export type VerifyCredential = (
  value: SourceValue,
  mapping: string,
) => Promise<{ ok: boolean; problem?: string | undefined }>;

/** What is known of one source: the hash checked last, its result, and the newest value that passed. */
interface Verification {
  readonly hash: string;
  readonly ok?: boolean | undefined;
  readonly problem?: string | undefined;
  readonly passed?: SourceValue | undefined;
}

/**
 * Holds a source's new credential back until it passed verification; until then the newest value
 * that passed keeps being used. Each new value (by hash) is checked once; when the check settles,
 * `settled` is called so the source's keys are planned again.
 */
export class CredentialGate {
  readonly #verify: VerifyCredential | undefined;
  readonly #log: Logger;
  readonly #settled: (source: SourceProvider) => void;
  readonly #bySource = new Map<SourceProvider, Verification>();

  constructor(verify: VerifyCredential | undefined, log: Logger, settled: (source: SourceProvider) => void) {
    this.#verify = verify;
    this.#log = log;
    this.#settled = settled;
  }

  /** Sources with a verification record. */
  get size(): number {
    return this.#bySource.size;
  }

  /** The source's value, or with verification the newest value that passed (starting a check if needed). */
  usable(source: SourceProvider, mapping: string): SourceValue | undefined {
    const value = source.current();
    if (!value || !this.#verify) return value;
    const record = this.#bySource.get(source);
    if (record?.hash === value.credential.hash) return record.ok ? value : record.passed;
    const passed = record?.passed;
    this.#bySource.set(source, { hash: value.credential.hash, passed });
    this.#verify(value, mapping).then(
      (result) => this.#verified(source, mapping, value, result.ok, result.problem),
      (err: unknown) => this.#verified(source, mapping, value, false, describeError(err)),
    );
    return passed;
  }

  /** Why the source's newest credential is held back, if verification refused it. */
  problem(source: SourceProvider): string | undefined {
    const record = this.#bySource.get(source);
    return record?.ok === false ? record.problem : undefined;
  }

  /** Forgets a source no mapping uses any more; a check still running for it is ignored. */
  forget(source: SourceProvider): void {
    this.#bySource.delete(source);
  }

  #verified(
    source: SourceProvider,
    mapping: string,
    value: SourceValue,
    ok: boolean,
    problem: string | undefined,
  ): void {
    const record = this.#bySource.get(source);
    const hash = value.credential.hash;
    if (record?.hash !== hash) return; // a newer value is being checked, or the source was removed
    this.#bySource.set(source, { hash, ok, problem, passed: ok ? value : record.passed });
    if (ok) this.#log.info({ mapping, hash }, "new credential verified");
    else this.#log.warn({ mapping, hash, problem }, "new credential failed verification; keeping the previous one");
    this.#settled(source);
  }
}
