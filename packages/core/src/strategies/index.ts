import type { StrategyFactory } from "../plugins/contracts.js";
import { allStrategyFactory } from "./all.js";
import { defaultStrategyFactory } from "./default.js";
import { namedStrategyFactory } from "./named.js";
import { selectorStrategyFactory } from "./selector.js";

export { AllServiceAccountsStrategy, allStrategyFactory, type AllStrategyConfig } from "./all.js";
export {
  DEFAULT_SERVICE_ACCOUNT,
  DefaultServiceAccountStrategy,
  defaultStrategyFactory,
  type DefaultStrategyConfig,
} from "./default.js";
export {
  NamedServiceAccountsStrategy,
  namedStrategyFactory,
  readServiceAccountNames,
  type NamedStrategyConfig,
} from "./named.js";
export {
  LabelSelectorStrategy,
  selectorStrategyFactory,
  validateSelectorStrategyConfig,
  type SelectorStrategyConfig,
} from "./selector.js";
export { strategyFromShorthand, type StrategyReference } from "./shorthand.js";

/** The strategies core ships, for registering in a `PluginRegistry`. */
export const builtinStrategyFactories: readonly StrategyFactory[] = Object.freeze([
  defaultStrategyFactory,
  allStrategyFactory,
  namedStrategyFactory,
  selectorStrategyFactory,
]);
