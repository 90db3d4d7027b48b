import { ApiException } from "@kubernetes/client-node";
import type { LeaderElectionRecord, ResourceLock, VersionedRecord } from "./lock.js";

function status(code: number, reason: string, message: string): ApiException<string> {
  const body = JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message });
  return new ApiException(code, `HTTP ${code} ${reason}`, body, {});
}

/**
 * A {@link ResourceLock} in memory, for tests of code that runs an elector (several electors in one
 * process sharing one lock). It answers like the API server: 409 AlreadyExists on create, 409
 * Conflict on a stale version, 404 NotFound on update of a missing record.
 */
export class InMemoryLock implements ResourceLock {
  /** Every record written, oldest first. */
  readonly writes: LeaderElectionRecord[] = [];
  readonly #description: string;
  #stored: VersionedRecord | undefined;
  #version = 0;

  constructor(description = "in-memory lock") {
    this.#description = description;
  }

  describe(): string {
    return this.#description;
  }

  /** What is stored now. */
  get stored(): VersionedRecord | undefined {
    return this.#stored;
  }

  /** Removes the record, as `kubectl delete lease` would. */
  delete(): void {
    this.#stored = undefined;
  }

  async get(signal: AbortSignal): Promise<VersionedRecord | undefined> {
    await settle(signal);
    return this.#stored;
  }

  async create(record: LeaderElectionRecord, signal: AbortSignal): Promise<VersionedRecord> {
    await settle(signal);
    if (this.#stored) throw status(409, "AlreadyExists", `${this.#description} already exists`);
    return this.#store(record);
  }

  async update(record: LeaderElectionRecord, version: string, signal: AbortSignal): Promise<VersionedRecord> {
    await settle(signal);
    if (!this.#stored) throw status(404, "NotFound", `${this.#description} not found`);
    if (this.#stored.version !== version) {
      throw status(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${this.#description}: the object has been modified`,
      );
    }
    return this.#store(record);
  }

  #store(record: LeaderElectionRecord): VersionedRecord {
    const copy = { ...record };
    this.writes.push(copy);
    this.#stored = { record: copy, version: String(++this.#version) };
    return this.#stored;
  }
}

/** Like a request: answers asynchronously, and not at all once aborted. */
async function settle(signal: AbortSignal): Promise<void> {
  await Promise.resolve();
  signal.throwIfAborted();
}
