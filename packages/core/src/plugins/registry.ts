import type { PluginFactory } from "./contracts.js";

/** Thrown for a `type` nobody registered; lists the valid ones. */
export class UnknownPluginTypeError extends Error {
  override readonly name = "UnknownPluginTypeError";
  constructor(
    readonly kind: string,
    readonly type: string,
    readonly known: readonly string[],
  ) {
    super(`unknown ${kind} type "${type}"; valid types: ${known.length ? known.join(", ") : "(none registered)"}`);
  }
}

/** Factories of one kind of plugin, keyed by `type`. A plain map: no container needed. */
export class PluginRegistry<TFactory extends PluginFactory<unknown, unknown>> {
  readonly #factories = new Map<string, TFactory>();

  /** @param kind what the registry holds, for messages: `source`, `selector` or `strategy`. */
  constructor(readonly kind: string) {}

  /** Adds a factory. Registering a type twice is an error: two plugins would claim one name. */
  register(factory: TFactory): this {
    if (this.#factories.has(factory.type)) {
      throw new Error(`${this.kind} type "${factory.type}" is already registered`);
    }
    this.#factories.set(factory.type, factory);
    return this;
  }

  get(type: string): TFactory {
    const factory = this.#factories.get(type);
    if (!factory) throw new UnknownPluginTypeError(this.kind, type, this.types());
    return factory;
  }

  has(type: string): boolean {
    return this.#factories.has(type);
  }

  types(): string[] {
    return [...this.#factories.keys()].sort();
  }
}
