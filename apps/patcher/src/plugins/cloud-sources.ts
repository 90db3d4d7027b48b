import type { Registries } from "@imagepullsecret-patcher/core";
import { CLOUD_SOURCE_PACKAGES } from "./bundled.js";
import { registerPluginPackage } from "./load.js";

export { CLOUD_SOURCE_PACKAGES } from "./bundled.js";

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Source types named in mappings (`source:` and each entry of `sources:`), as written. */
export function sourceTypesIn(mappings: readonly unknown[]): Set<string> {
  const types = new Set<string>();
  for (const mapping of mappings) {
    if (!isMap(mapping)) continue;
    const listed: unknown[] = Array.isArray(mapping.sources) ? mapping.sources : [];
    const written = [mapping.source, ...listed];
    for (const source of written) if (isMap(source)) for (const key of Object.keys(source)) types.add(key);
  }
  return types;
}

/** Imports and registers the cloud source packages the mappings use and the registries lack; returns their names. */
export async function loadCloudSources(mappings: readonly unknown[], registries: Registries): Promise<string[]> {
  const loaded: string[] = [];
  for (const type of sourceTypesIn(mappings)) {
    const entry = CLOUD_SOURCE_PACKAGES[type];
    if (!entry || registries.sources.has(type)) continue;
    await registerPluginPackage(entry.name, () => entry.load(), registries);
    loaded.push(entry.name);
  }
  return loaded;
}
