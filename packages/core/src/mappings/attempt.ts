// Turning plugin refusals into ConfigErrors with the path where the user wrote the value.
import { PluginConfigError } from "../plugins/contracts.js";
import { UnknownPluginTypeError } from "../plugins/registry.js";
import { ConfigError, didYouMean, withUnknownKeyHint } from "./errors.js";
import { isPlainObject } from "./shorthand.js";

function join(base: string, rest: string): string {
  if (!rest) return base;
  return rest.startsWith("[") ? `${base}${rest}` : `${base}.${rest}`;
}

/**
 * Runs `run`; a plugin's refusal becomes a ConfigError under `path` (with a "did you mean" hint
 * for an unknown key or type), recorded in `problems`. Undefined when it was refused.
 */
export function attempt<T>(problems: ConfigError[], path: string, run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    if (err instanceof PluginConfigError) {
      const at = join(path, err.path);
      problems.push(new ConfigError(at, withUnknownKeyHint(at, err.problem)));
    } else if (err instanceof UnknownPluginTypeError) {
      problems.push(new ConfigError(path, `${err.message}${didYouMean(err.type, err.known)}`));
    } else if (err instanceof ConfigError) {
      problems.push(...err.problems);
    } else {
      throw err;
    }
    return undefined;
  }
}

/** The one `[type, config]` entry of a map like `{ secret: {...} }`; throws when it has none or several. */
export function singleKey(value: unknown, path: string, what: string): [string, unknown] {
  if (!isPlainObject(value)) throw new ConfigError(path, `expected a map with one ${what} type`);
  const keys = Object.keys(value);
  if (keys.length !== 1) {
    throw new ConfigError(
      path,
      keys.length === 0
        ? `expected one ${what} type, found none`
        : `expected one ${what} type, found ${keys.length}: ${keys.join(", ")}`,
    );
  }
  const key = keys[0] as string;
  return [key, value[key]];
}
