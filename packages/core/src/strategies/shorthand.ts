import { PluginConfigError } from "../plugins/contracts.js";
import { describeValue, isPlainObject } from "../selectors/validation.js";
import type { AllStrategyConfig } from "./all.js";
import type { DefaultStrategyConfig } from "./default.js";
import { readServiceAccountNames, type NamedStrategyConfig } from "./named.js";
import { validateSelectorStrategyConfig, type SelectorStrategyConfig } from "./selector.js";

/**
 * A strategy plugin type with its validated config, as the shorthand resolves it. Pass it to the
 * registry: `registry.get(ref.type).create(ref.config, context)`; every factory accepts its own
 * validated config again unchanged.
 */
export type StrategyReference =
  | { readonly type: "default"; readonly config: DefaultStrategyConfig }
  | { readonly type: "all"; readonly config: AllStrategyConfig }
  | { readonly type: "named"; readonly config: NamedStrategyConfig }
  | { readonly type: "selector"; readonly config: SelectorStrategyConfig };

const EXPECTED = `expected "default", "all", a list of ServiceAccount names, or { selector: ... }`;

/**
 * Resolves the strategy shorthand of mapping config:
 * - `"default"` → `default`; `"all"` → `all`;
 * - `[a, b]` → `named` with those names;
 * - `{ selector: "app=web" }` (or structured) → `selector`.
 *
 * @throws {PluginConfigError} naming what is wrong with `value`; paths are relative to it
 *   (`[1]` for a bad name, `selector.matchExpressions[0].operator` inside a selector).
 */
export function strategyFromShorthand(value: unknown): StrategyReference {
  if (typeof value === "string") {
    if (value === "default" || value === "all") return { type: value, config: {} };
    const lower = value.trim().toLowerCase();
    const hint = lower === "default" || lower === "all" ? `; did you mean "${lower}"?` : "";
    throw new PluginConfigError("", `unknown strategy ${JSON.stringify(value)}${hint}; ${EXPECTED}`);
  }
  if (Array.isArray(value)) return { type: "named", config: { names: readServiceAccountNames(value, "") } };
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    const unknown = keys.find((key) => key !== "selector");
    if (unknown !== undefined) {
      throw new PluginConfigError("", `unknown key ${JSON.stringify(unknown)} in strategy shorthand; ${EXPECTED}`);
    }
    if (keys.length === 0) throw new PluginConfigError("", `empty object; ${EXPECTED}`);
    return { type: "selector", config: validateSelectorStrategyConfig(value) };
  }
  throw new PluginConfigError("", `${EXPECTED}, got ${describeValue(value)}`);
}
