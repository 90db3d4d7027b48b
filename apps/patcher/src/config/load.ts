import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isMap, isSeq, type Node } from "yaml";
import type { ZodError } from "zod";
import { ConfigError, buildMappings, type Logger, type Mapping, type Registries } from "@imagepullsecret-patcher/core";
import type { KubeConfig } from "@kubernetes/client-node";
import { configSchema, type PatcherConfig } from "./schema.js";

/** A config problem: where (file, path, line) and what. Never includes secret values. */
export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
  constructor(
    readonly origin: string,
    readonly path: string,
    readonly problem: string,
    readonly line?: number | undefined,
  ) {
    super(`${origin}: ${path ? `${path}: ` : ""}${problem}${line ? ` (line ${line})` : ""}`);
  }
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
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : (m[1] as string));
  return out;
}

function joinPath(segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((acc, s) => (typeof s === "number" ? `${acc}[${s}]` : acc ? `${acc}.${String(s)}` : String(s)), "");
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
  return (config.mappings ?? []).map((m) => (typeof m === "object" && m !== null && !Array.isArray(m) ? defaults(m as Record<string, unknown>) : m));
}

function firstZodIssue(error: ZodError): { path: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { path: "", message: "invalid config" };
  if (issue.code === "unrecognized_keys") {
    // Point at the first unknown key itself, so the line is the one to fix.
    return { path: joinPath([...issue.path, issue.keys[0] ?? ""]), message: `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}` };
  }
  return { path: joinPath(issue.path), message: issue.message };
}

/** Parses YAML text and checks the top-level schema. */
export function parseConfigText(text: string, origin: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigFileError(origin, "", `not valid YAML: ${e?.message.split("\n")[0] ?? "parse error"}`, e ? lineAt(e.pos[0]) : undefined);
  }
  const lineOf = (path: string): number | undefined => {
    // The deepest node that exists on the path: a missing field points at its parent.
    const segments = splitPath(path);
    for (let n = segments.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true)) as Node | null | undefined;
      if (node && (node as { range?: [number, number, number] }).range) return lineAt((node as { range: [number, number, number] }).range[0]);
    }
    return undefined;
  };
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !(isMap(doc.contents) || doc.contents === null)) {
    throw new ConfigFileError(origin, "", `expected a map at the top level, found ${isSeq(doc.contents) ? "a list" : typeof raw}`, 1);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const { path, message } = firstZodIssue(parsed.error);
    throw new ConfigFileError(origin, path, message, lineOf(path));
  }
  return { config: parsed.data, mappings: expandMappings(parsed.data), origin, lineOf };
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

/** Creates the mappings' plugins; a plugin's refusal becomes a ConfigFileError with its line. */
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
    if (err instanceof ConfigError) {
      // The seed form's one mapping is reported at the top level, where the user wrote it.
      const path = loaded.config.source ? err.path.replace(/^\[0\]\.?/, "") : err.path;
      throw new ConfigFileError(loaded.origin, path, err.problem, loaded.lineOf(path));
    }
    throw err;
  }
}
