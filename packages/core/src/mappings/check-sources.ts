// Checks a mapping's `source:` or `sources:` (merged); nothing is created here (see build.ts).
import type { SourceFactory } from "../plugins/contracts.js";
import type { Registries } from "./build.js";
import { attempt, singleKey } from "./attempt.js";
import { ConfigError } from "./errors.js";
import { isSecretShorthand } from "./shorthand.js";

/** One checked source entry: its type and validated config. */
export interface CheckedSource {
  readonly type: string;
  readonly factory: SourceFactory;
  readonly config: unknown;
}

/** The sources of a mapping: one from `source:`, or those of `sources:` to merge. */
export interface CheckedSources {
  readonly entries: readonly CheckedSource[];
  /** Written as `sources:`: the entries are merged into one credential, even a list of one. */
  readonly merged: boolean;
}

/** One source map, at `at` (`mappings[0].source`, `mappings[0].sources[1]`). */
function checkSource(
  raw: unknown,
  at: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedSource | undefined {
  if (isSecretShorthand(raw, (type) => registries.sources.has(type))) {
    const factory = attempt(problems, at, () => registries.sources.get("secret"));
    const config = factory && attempt(problems, at, () => factory.validate(raw));
    return factory && config !== undefined ? { type: "secret", factory, config } : undefined;
  }
  const entry = attempt(problems, at, () => singleKey(raw, at, "source"));
  if (!entry) return undefined;
  const [type, value] = entry;
  const factory = attempt(problems, at, () => registries.sources.get(type));
  const config = factory && attempt(problems, `${at}.${type}`, () => factory.validate(value));
  return factory && config !== undefined ? { type, factory, config } : undefined;
}

/** `sources: [...]`: every entry checked like `source:`; undefined when any is refused. */
function checkSourceList(
  raw: unknown,
  at: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedSources | undefined {
  if (!Array.isArray(raw)) {
    problems.push(new ConfigError(at, "expected a list of sources, like [{ secret: {...} }, { vault: {...} }]"));
    return undefined;
  }
  if (raw.length === 0) {
    problems.push(new ConfigError(at, "must list at least one source"));
    return undefined;
  }
  const entries = raw.map((entry, i) => checkSource(entry, `${at}[${i}]`, registries, problems));
  const checked = entries.filter((e): e is CheckedSource => e !== undefined);
  return checked.length === entries.length ? { entries: checked, merged: true } : undefined;
}

/** A mapping's sources: exactly one of `source:` and `sources:` is written. */
export function checkSources(
  mapping: Record<string, unknown>,
  path: string,
  registries: Registries,
  problems: ConfigError[],
): CheckedSources | undefined {
  const hasSource = mapping.source !== undefined;
  const hasSources = mapping.sources !== undefined;
  if (hasSource && hasSources) {
    problems.push(new ConfigError(`${path}.sources`, "use either source (one) or sources (a list to merge), not both"));
    return undefined;
  }
  if (hasSources) return checkSourceList(mapping.sources, `${path}.sources`, registries, problems);
  if (!hasSource) {
    problems.push(new ConfigError(`${path}.source`, "required: a source, or sources with a list of sources to merge"));
    return undefined;
  }
  const single = checkSource(mapping.source, `${path}.source`, registries, problems);
  return single ? { entries: [single], merged: false } : undefined;
}

/** The copy's name when none is written: the Secret's name of a lone `secret` source, else `undefined`. */
export function sourceSecretName(sources: CheckedSources | undefined): string | undefined {
  const only = sources?.entries[0];
  if (!only || sources.merged || only.type !== "secret") return undefined;
  return (only.config as { name: string }).name;
}

/** What a derived mapping name starts from: the first source's Secret name, else its type. */
export function nameBaseOf(sources: CheckedSources | undefined): string | undefined {
  const first = sources?.entries[0];
  if (!first) return undefined;
  return first.type === "secret" ? (first.config as { name: string }).name : first.type;
}
