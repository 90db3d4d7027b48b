import { PluginConfigError } from "../plugins/contracts.js";
import { type CompiledLabelSelector, LabelSelectorError, compileLabelSelector } from "./label-selector.js";
import { describeValue, isPlainObject, joinPath, refuseUnknownKeys } from "./validation.js";

// How plugin configs embed a label selector. Shared by the `label` namespace selector and the
// `selector` ServiceAccount strategy so both accept the same spellings and report the same paths.

const STRUCTURED_KEYS = ["matchLabels", "matchExpressions"] as const;

/**
 * Compiles a selector found at `path` in plugin config: a string (`"env=prod"`) or a structured
 * object. {@link LabelSelectorError}s become {@link PluginConfigError}s with the path re-based.
 */
export function readLabelSelector(value: unknown, path: string): CompiledLabelSelector {
  if (typeof value !== "string" && !isPlainObject(value)) {
    throw new PluginConfigError(
      path,
      `expected a label selector string (e.g. "env=prod") or an object with matchLabels/matchExpressions, got ${describeValue(value)}`,
    );
  }
  try {
    return compileLabelSelector(value);
  } catch (error) {
    if (error instanceof LabelSelectorError) throw new PluginConfigError(joinPath(path, error.path), error.problem);
    throw error;
  }
}

/**
 * Reads a selector from a config object that holds either `selector` (string or structured form) or
 * the structured fields `matchLabels`/`matchExpressions` inline, next to `extraKeys` the caller
 * handles itself. Having neither means the empty selector, which matches everything.
 */
export function readSelectorFromConfigObject(
  config: Record<string, unknown>,
  extraKeys: readonly string[],
): CompiledLabelSelector {
  refuseUnknownKeys(config, ["selector", ...STRUCTURED_KEYS, ...extraKeys], "");
  const structured: Record<string, unknown> = {};
  for (const key of STRUCTURED_KEYS) if (Object.hasOwn(config, key)) structured[key] = config[key];

  if (Object.hasOwn(config, "selector")) {
    const inline = Object.keys(structured);
    if (inline.length > 0) {
      throw new PluginConfigError("selector", `use either selector or ${inline.join("/")}, not both`);
    }
    return readLabelSelector(config["selector"], "selector");
  }
  return readLabelSelector(structured, "");
}
