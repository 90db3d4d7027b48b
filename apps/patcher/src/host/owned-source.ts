import type { SourceProvider, SourceStatus, SourceValue } from "@imagepullsecret-patcher/core";

/**
 * A source the app can stop on its own: the engine starts it with the engine's signal, and
 * {@link OwnedSource.stop} ends it earlier (a mapping removed or replaced by a reload), so a
 * reload never leaves a file watch or a Vault renewal running for a mapping that is gone.
 */
export class OwnedSource implements SourceProvider {
  readonly #inner: SourceProvider;
  readonly #stop = new AbortController();

  constructor(inner: SourceProvider) {
    this.#inner = inner;
  }

  get description(): string {
    return this.#inner.description;
  }

  get secretsRead(): readonly { namespace: string; name: string }[] | undefined {
    return this.#inner.secretsRead;
  }

  /** True once {@link stop} was called. */
  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  start(signal: AbortSignal): Promise<void> {
    return this.#inner.start(AbortSignal.any([signal, this.#stop.signal]));
  }

  current(): SourceValue | undefined {
    return this.#inner.current();
  }

  status(): SourceStatus {
    return this.#inner.status();
  }

  onChange(listener: () => void): () => void {
    return this.#inner.onChange(listener);
  }

  stop(): void {
    this.#stop.abort();
  }
}
