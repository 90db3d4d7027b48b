import type { PatchStrategy, ServiceAccountView, StrategyFactory } from "../plugins/contracts.js";
import { validateNoConfig } from "../selectors/validation.js";

/** Name of the ServiceAccount Kubernetes creates in every namespace. */
export const DEFAULT_SERVICE_ACCOUNT = "default";

/** Validated config of the `default` strategy: it has no options. */
export type DefaultStrategyConfig = Readonly<Record<string, never>>;

/**
 * Patches only the `default` ServiceAccount: what pods use when they name none, and what
 * titansoft/imagepullsecret-patcher patched by default.
 */
export class DefaultServiceAccountStrategy implements PatchStrategy {
  readonly description = `ServiceAccount "${DEFAULT_SERVICE_ACCOUNT}"`;

  selects(serviceAccount: ServiceAccountView): boolean {
    return serviceAccount.name === DEFAULT_SERVICE_ACCOUNT;
  }
}

/** Factory of the `default` strategy. Config: none (`{}`, `true`, `null` or absent). */
export const defaultStrategyFactory: StrategyFactory<DefaultStrategyConfig> = {
  type: "default",
  summary: `only the ServiceAccount named "${DEFAULT_SERVICE_ACCOUNT}"`,
  validate: (config: unknown): DefaultStrategyConfig => validateNoConfig(config),
  create(): DefaultServiceAccountStrategy {
    return new DefaultServiceAccountStrategy();
  },
};
