import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isMap, isSeq, type Node } from "yaml";
import type { ZodError } from "zod";
import {
  ConfigError,
  buildMappings,
  didYouMean,
  builtinRegistries,
  type Logger,
  type Mapping,
  type Registries,
} from "@imagepullsecret-patcher/core";
import type { KubeConfig } from "@kubernetes/client-node";
import { configSchema, knownKeys, type PatcherConfig } from "./schema.js";
import { envSourceFactory } from "../plugins/env-source.js";
import { CLOUD_SOURCE_PACKAGES } from "../plugins/cloud-sources.js";

/**
 * A config problem: where (file, path, line) and what. Never includes secret values.
 *
 * Every problem of a config is reported at once: `problems` lists them (a single problem is its
 * own list) and the message has one line per problem. `path`, `problem` and `line` are the first
 * problem's.
 */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
  /** Every problem found, by line; `[this]` for a single problem. */
  readonly problems: readonly ConfigFileError[];
  constructor(
    readonly origin: string,
    readonly path: string,
    readonly problem: string,
    readonly line?: number | undefined,
    problems?: readonly ConfigFileError[],
  ) {
    const several = problems && problems.length > 1 ? problems : undefined;
    super(
      several
        ? `${origin}: ${several.length} problems:\n${several.map((p) => `  ${p.where()}`).join("\n")}`
        : `${origin}: ${where(path, problem, line)}`,
    );
    this.problems = several ?? [this];
  }

  /** One error for several problems, by line, duplicates dropped; a lone problem is returned as it is. */
  static of(origin: string, problems: readonly ConfigFileError[]): ConfigFileError {
    const seen = new Set<string>();
    const unique = problems
      .flatMap((p) => p.problems)
      .filter((p) => !seen.has(`${p.path}\n${p.problem}`) && seen.add(`${p.path}\n${p.problem}`));
    // Stable: problems without a line keep their order, after those with one.
    const sorted = unique
      .map((p, i) => ({ p, i }))
      .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i)
      .map(({ p }) => p);
    const [first] = sorted;
    if (!first) throw new Error("ConfigFileError.of needs at least one problem");
    return sorted.length === 1 ? first : new ConfigFileError(origin, first.path, first.problem, first.line, sorted);
  }

  /** `path: problem (line N)`, without the origin. */
  where(): string {
    return where(this.path, this.problem, this.line);
  }
}

function where(path: string, problem: string, line: number | undefined): string {
  return `${path ? `${path}: ` : ""}${problem}${line ? ` (line ${line})` : ""}`;
}

/** A parsed, schema-checked config and the way back from a path to its line. */
export interface LoadedConfig {
  readonly config: PatcherConfig;
  /** Mappings in the full form, the seed form already expanded. */
  readonly mappings: unknown[];
  /** `config.yaml` path, or `environment` for titansoft's CONFIG_* variables. */
  readonly origin: string;
  lineOf(path: string): number | undefined;
}

/** `mappings[1].targets.selector` → ["mappings", 1, "targets", "selector"]. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g))
    out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

function joinPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>(
    (acc, s) => (typeof s === "number" ? `${acc}[${s}]` : acc ? `${acc}.${String(s)}` : String(s)),
    "",
  );
}

/** Expands the seed form into one mapping, and fills mapping defaults from the top level. */
export function expandMappings(config: PatcherConfig): unknown[] {
  const defaults = (m: Record<string, unknown>): Record<string, unknown> => ({
    ...m,
    serviceAccounts: m.serviceAccounts ?? config.serviceAccounts,
    conflictPolicy: m.conflictPolicy ?? config.conflictPolicy,
  });
  if (config.source) {
    return [defaults({ name: "default", source: config.source, targets: config.targets ?? { all: {} } })];
  }
  return (config.mappings ?? []).map((m) =>
    typeof m === "object" && m !== null && !Array.isArray(m) ? defaults(m as Record<string, unknown>) : m,
  );
}

/** Every schema issue as a problem; an unknown key is named itself, so the line is the one to fix. */
function zodProblems(error: ZodError): { path: string; message: string }[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      const valid = knownKeys(issue.path);
      return issue.keys.map((key) => {
        // A close match says it all; otherwise list what is valid here.
        const hint = didYouMean(key, valid) || (valid.length ? ` (valid: ${valid.join(", ")})` : "");
        return { path: joinPath([...issue.path, key]), message: `unknown field "${key}"${hint}` };
      });
    }
    return [{ path: joinPath(issue.path), message: issue.message }];
  });
}

/** Top-level fields the mappings are built from: a schema problem in one of them skips the mapping check. */
const MAPPING_FIELDS = new Set([
  "source",
  "targets",
  "mappings",
  "serviceAccounts",
  "conflictPolicy",
  "secretName",
  "plugins",
]);

/**
 * Parses YAML text and checks the top-level schema. When the schema refuses something, the
 * mappings are checked too (with the built-in plugins), so that one run reports every problem.
 */
export function parseConfigText(text: string, origin: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    const problems = doc.errors.map(
      (e) =>
        new ConfigFileError(
          origin,
          "",
          `not valid YAML: ${e.message.split("\n")[0] ?? "parse error"}`,
          lineAt(e.pos[0]),
        ),
    );
    throw ConfigFileError.of(origin, problems);
  }
  const lineOf = (path: string): number | undefined => {
    // The deepest node that exists on the path: a missing field points at its parent.
    const segments = splitPath(path);
    for (let n = segments.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true)) as Node | null | undefined;
      if (node && (node as { range?: [number, number, number] }).range)
        return lineAt((node as { range: [number, number, number] }).range[0]);
    }
    return undefined;
  };
  const raw: unknown = doc.toJS() ?? {};
  if (
    typeof raw !== "object" ||
    raw === null ||
    Array.isArray(raw) ||
    !(isMap(doc.contents) || doc.contents === null)
  ) {
    throw new ConfigFileError(
      origin,
      "",
      `expected a map at the top level, found ${isSeq(doc.contents) ? "a list" : typeof raw}`,
      1,
    );
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error).map(
      ({ path, message }) => new ConfigFileError(origin, path, message, lineOf(path)),
    );
    const mappingsUntouched = parsed.error.issues.every(
      (issue) =>
        issue.code === "unrecognized_keys" || (issue.path.length > 0 && !MAPPING_FIELDS.has(String(issue.path[0]))),
    );
    if (mappingsUntouched) problems.push(...mappingProblems(raw as PatcherConfig, origin, lineOf));
    throw ConfigFileError.of(origin, problems);
  }
  return { config: parsed.data, mappings: expandMappings(parsed.data), origin, lineOf };
}

/**
 * The mappings' problems in a config the schema refused for other reasons, found with the
 * built-in plugins. Unknown plugin types are left out when `plugins:` names packages: those may
 * provide them.
 */
function mappingProblems(
  config: PatcherConfig,
  origin: string,
  lineOf: (path: string) => number | undefined,
): ConfigFileError[] {
  if (!config.source === !config.mappings) return [];
  const registries = builtinRegistries();
  registries.sources.register(envSourceFactory);
  try {
    buildMappings(expandMappings(config), {
      registries,
      defaultSecretName: config.secretName,
      path: config.source ? "" : "mappings",
    });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) return [];
    const pluginsMayKnow = Array.isArray(config.plugins) && config.plugins.length > 0;
    // Cloud sources are packages of their own, loaded only when used; this check does not load them.
    const cloudType = (problem: string): boolean =>
      Object.hasOwn(CLOUD_SOURCE_PACKAGES, /^unknown source type "([^"]+)"/.exec(problem)?.[1] ?? "");
    return fileProblems(err, { config, origin, lineOf }).filter(
      (p) => !(pluginsMayKnow && /^unknown \w+ type "/.test(p.problem)) && !cloudType(p.problem),
    );
  }
}

/**
 * Core lists the source types registered, which lacks the cloud sources no mapping uses yet: name them too, so a
 * typo such as `ecrr` gets its hint.
 */
function withCloudSourceTypes(problem: string): string {
  const match = /^unknown source type "([^"]+)"; valid types: ([^;]*)/.exec(problem);
  if (!match?.[1] || !match[2]) return problem;
  const registered = match[2].split(", ");
  const cloud = Object.keys(CLOUD_SOURCE_PACKAGES).filter((type) => !registered.includes(type));
  if (cloud.length === 0) return problem;
  return `${match[0]}, and the cloud sources ${cloud.join(", ")}${didYouMean(match[1], [...registered, ...cloud])}`;
}

/** buildMappings' problems at the paths (and lines) where the user wrote them. */
function fileProblems(err: ConfigError, loaded: Pick<LoadedConfig, "config" | "origin" | "lineOf">): ConfigFileError[] {
  return err.problems.map((p) => {
    // The seed form's one mapping is reported at the top level, where the user wrote it.
    const path = loaded.config.source ? p.path.replace(/^\[0\]\.?/, "") : p.path;
    return new ConfigFileError(loaded.origin, path, withCloudSourceTypes(p.problem), loaded.lineOf(path));
  });
}

export function loadConfigFile(path: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(path, "", code === "ENOENT" ? "file not found" : `cannot read: ${code ?? "error"}`);
  }
  return parseConfigText(text, path);
}

/** Creates the mappings' plugins; their refusals become one ConfigFileError listing every problem with its line. */
export function buildConfiguredMappings(
  loaded: LoadedConfig,
  options: { registries: Registries; kubeConfig?: KubeConfig | undefined; logger?: Logger | undefined },
): Mapping[] {
  try {
    return buildMappings(loaded.mappings, {
      ...options,
      defaultSecretName: loaded.config.secretName,
      path: loaded.config.source ? "" : "mappings",
    });
  } catch (err) {
    if (err instanceof ConfigError) throw ConfigFileError.of(loaded.origin, fileProblems(err, loaded));
    throw err;
  }
}
