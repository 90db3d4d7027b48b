import type { Registries } from "@imagepullsecret-patcher/core";
import { registerPluginPackage } from "./load.js";

/**
 * Source types shipped as packages of their own, imported only when a mapping uses one, so that their SDKs
 * cost no memory otherwise. The imports are literal so that the image's bundle splits each into a chunk
 * loaded on demand; unbundled, Node resolves them by package name.
 */
export const CLOUD_SOURCE_PACKAGES: Readonly<Record<string, { name: string; load: () => Promise<unknown> }>> = {
  ecr: { name: "@imagepullsecret-patcher/source-ecr", load: () => import("@imagepullsecret-patcher/source-ecr") },
  gcp: { name: "@imagepullsecret-patcher/source-gcp", load: () => import("@imagepullsecret-patcher/source-gcp") },
  acr: { name: "@imagepullsecret-patcher/source-acr", load: () => import("@imagepullsecret-patcher/source-acr") },
};

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
