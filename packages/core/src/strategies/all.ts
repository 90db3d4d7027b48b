import type { PatchStrategy, StrategyFactory } from "../plugins/contracts.js";
import { validateNoConfig } from "../selectors/validation.js";

/** Validated config of the `all` strategy: it has no options. */
export type AllStrategyConfig = Readonly<Record<string, never>>;

/** Patches every ServiceAccount of a selected namespace. */
export class AllServiceAccountsStrategy implements PatchStrategy {
  readonly description = "all ServiceAccounts";

  selects(): boolean {
    return true;
  }
}

/** Factory of the `all` strategy. Config: none (`{}`, `true`, `null` or absent). */
export const allStrategyFactory: StrategyFactory<AllStrategyConfig> = {
  type: "all",
  summary: "every ServiceAccount in the namespace",
  validate: (config: unknown): AllStrategyConfig => validateNoConfig(config),
  create(): AllServiceAccountsStrategy {
    return new AllServiceAccountsStrategy();
  },
};
