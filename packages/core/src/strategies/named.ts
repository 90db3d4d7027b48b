import {
  PluginConfigError,
  type PatchStrategy,
  type ServiceAccountView,
  type StrategyFactory,
} from "../plugins/contracts.js";
import { dns1123SubdomainProblem } from "../selectors/k8s-names.js";
import { describeValue, isPlainObject, readStringList, refuseUnknownKeys } from "../selectors/validation.js";

/** Validated config of the `named` strategy. */
export interface NamedStrategyConfig {
  /** ServiceAccount names, as written (order kept for descriptions). */
  readonly names: readonly string[];
}

function serviceAccountNameProblem(name: string): string | undefined {
  const problem = dns1123SubdomainProblem(name);
  return problem ? `${JSON.stringify(name)} is not a valid ServiceAccount name: ${problem}` : undefined;
}

/**
 * Reads a list of ServiceAccount names at `path`: at least one, each a DNS-1123 subdomain, no
 * duplicates. Shared with the shorthand, where the list stands alone.
 */
export function readServiceAccountNames(value: unknown, path: string): string[] {
  return readStringList(value, path, {
    emptyProblem: "must list at least one ServiceAccount name",
    check: serviceAccountNameProblem,
    refuseDuplicates: true,
  });
}

/** Patches the ServiceAccounts with the listed names. */
export class NamedServiceAccountsStrategy implements PatchStrategy {
  readonly description: string;
  readonly names: readonly string[];
  readonly #names: ReadonlySet<string>;

  constructor(config: NamedStrategyConfig) {
    this.names = Object.freeze([...config.names]);
    this.#names = new Set(this.names);
    this.description = `ServiceAccounts ${this.names.join(", ")}`;
  }

  selects(serviceAccount: ServiceAccountView): boolean {
    return this.#names.has(serviceAccount.name);
  }
}

/** Factory of the `named` strategy. Config: `{ names: string[] }`. */
export const namedStrategyFactory: StrategyFactory<NamedStrategyConfig> = {
  type: "named",
  summary: "the ServiceAccounts listed in `names`",
  validate(config: unknown): NamedStrategyConfig {
    if (!isPlainObject(config)) {
      throw new PluginConfigError(
        "",
        `expected an object like { names: [default, builder] }, got ${describeValue(config)}`,
      );
    }
    refuseUnknownKeys(config, ["names"], "");
    if (config["names"] === undefined || config["names"] === null) throw new PluginConfigError("names", "is required");
    return { names: readServiceAccountNames(config["names"], "names") };
  },
  create(config: NamedStrategyConfig): NamedServiceAccountsStrategy {
    return new NamedServiceAccountsStrategy(config);
  },
};
