import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type { PluginPackage, Registries } from "@imagepullsecret-patcher/core";
import { bundledPackage } from "./bundled.js";

/** A plugin package that could not be loaded or does not look like one; names the package. */
export class PluginLoadError extends Error {
  override readonly name = "PluginLoadError";
  constructor(
    readonly packageName: string,
    problem: string,
  ) {
    super(`plugin package "${packageName}": ${problem}`);
  }
}

function isFactory(value: unknown): value is { type: string; validate: unknown; create: unknown } {
  const f = value as { type?: unknown; validate?: unknown; create?: unknown } | null;
  return !!f && typeof f.type === "string" && typeof f.validate === "function" && typeof f.create === "function";
}

/** The URL of package `name`, resolved from each of `resolveFrom` in turn, then from the app. */
function resolvePackage(name: string, resolveFrom: readonly string[]): string {
  for (const base of resolveFrom) {
    try {
      return pathToFileURL(createRequire(base).resolve(name)).href;
    } catch {
      // try the next base
    }
  }
  try {
    return import.meta.resolve(name);
  } catch {
    throw new PluginLoadError(
      name,
      "not installed (cannot be resolved); install it next to the patcher or into its image",
    );
  }
}

/** How to import package `name`: the app's own copy of a cloud source package, else the package resolved by name. */
function loaderOf(name: string, resolveFrom: readonly string[]): () => Promise<unknown> {
  const bundled = bundledPackage(name);
  if (bundled) return () => bundled.load();
  const url = resolvePackage(name, resolveFrom);
  return () => import(url);
}

/**
 * Imports each package named in `plugins:` and registers its factories. Packages resolve from
 * `resolveFrom` (the config file's directory, then the app), so a plugin installed next to the
 * app or in the image's node_modules is found. A cloud source package the app ships is loaded from
 * the app's own copy: the image has no node_modules to resolve it from, and a copy installed beside
 * the config would bring a second core, whose config errors the app would not recognise.
 */
export async function loadPluginPackages(
  names: readonly string[],
  registries: Registries,
  resolveFrom: readonly string[],
): Promise<string[]> {
  const loaded: string[] = [];
  for (const name of names) {
    await registerPluginPackage(name, loaderOf(name, resolveFrom), registries);
    loaded.push(name);
  }
  return loaded;
}

/** Imports one plugin package with `load` and registers its factories; every problem names the package. */
export async function registerPluginPackage(
  name: string,
  load: () => Promise<unknown>,
  registries: Registries,
): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await load()) as Record<string, unknown>;
  } catch (err) {
    throw new PluginLoadError(
      name,
      `failed to load: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`,
    );
  }
  const pkg = (mod.default ?? mod.plugin) as PluginPackage | undefined;
  if (!pkg || typeof pkg !== "object") {
    throw new PluginLoadError(
      name,
      "exports no plugin: expected a default export (or `plugin`) with sources, selectors or strategies",
    );
  }
  const lists: [string, readonly unknown[] | undefined, (f: never) => void][] = [
    ["sources", pkg.sources, (f) => registries.sources.register(f)],
    ["selectors", pkg.selectors, (f) => registries.selectors.register(f)],
    ["strategies", pkg.strategies, (f) => registries.strategies.register(f)],
  ];
  let count = 0;
  for (const [kind, list, register] of lists) {
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new PluginLoadError(name, `${kind} must be a list of factories`);
    list.forEach((factory: unknown, i: number) => {
      if (!isFactory(factory))
        throw new PluginLoadError(name, `${kind}[${i}] is not a plugin factory (needs type, validate and create)`);
      try {
        register(factory as never);
      } catch (err) {
        throw new PluginLoadError(name, err instanceof Error ? err.message : String(err));
      }
      count++;
    });
  }
  if (count === 0) throw new PluginLoadError(name, "provides no sources, selectors or strategies");
}
