import { describe, expect, it, vi } from "vitest";
import { PluginConfigError, builtinRegistries } from "@imagepullsecret-patcher/core";
import { CLOUD_SOURCE_PACKAGES, loadCloudSources, sourceTypesIn } from "./cloud-sources.js";
import { PluginLoadError, loadPluginPackages, registerPluginPackage } from "./load.js";

describe("sourceTypesIn", () => {
  it("names the types of `source:` and of every `sources:` entry, skipping what is not a map", () => {
    const mappings = [
      { source: { secret: { name: "a", namespace: "b" } } },
      { sources: [{ ecr: {} }, { name: "hub", namespace: "creds" }, "junk", null] },
      { sources: "not a list", source: { gcp: {} } },
      null,
      [],
    ];
    expect([...sourceTypesIn(mappings)].sort()).toEqual(["ecr", "gcp", "name", "namespace", "secret"]);
  });
});

describe("loadCloudSources", () => {
  it("loads nothing for mappings that use no cloud source", async () => {
    const registries = builtinRegistries();
    const loaded = await loadCloudSources([{ source: { secret: { name: "a", namespace: "b" } } }], registries);
    expect(loaded).toEqual([]);
    for (const type of Object.keys(CLOUD_SOURCE_PACKAGES)) expect(registries.sources.has(type)).toBe(false);
  });

  it("registers each used cloud source from its package, once", async () => {
    const registries = builtinRegistries();
    const mappings = [{ source: { ecr: {} } }, { sources: [{ gcp: {} }, { ecr: {} }] }, { source: { acr: {} } }];
    const loaded = await loadCloudSources(mappings, registries);
    expect(loaded.sort()).toEqual([
      "@imagepullsecret-patcher/source-acr",
      "@imagepullsecret-patcher/source-ecr",
      "@imagepullsecret-patcher/source-gcp",
    ]);
    for (const type of ["ecr", "gcp", "acr"]) expect(registries.sources.has(type)).toBe(true);
    // A reload builds new registries; within one, a second call finds them registered and loads nothing.
    expect(await loadCloudSources(mappings, registries)).toEqual([]);
  });
});

describe("loadPluginPackages", () => {
  it("loads a cloud source package named in plugins: from the app's own copy, never by resolving its name", async () => {
    const ecr = CLOUD_SOURCE_PACKAGES.ecr as { load: () => Promise<unknown> };
    const load = vi.spyOn(ecr, "load");
    try {
      const registries = builtinRegistries();
      // Nothing resolves from here, as in the image, which has no node_modules.
      const loaded = await loadPluginPackages(["@imagepullsecret-patcher/source-ecr"], registries, [
        "/nowhere/config.yaml",
      ]);
      expect(loaded).toEqual(["@imagepullsecret-patcher/source-ecr"]);
      expect(load).toHaveBeenCalledTimes(1);
      // The app's core: a config error is one it recognises, so it keeps its path.
      expect(() => registries.sources.get("ecr").validate({ registries: [{ region: 12 }] })).toThrow(PluginConfigError);
      expect(await loadCloudSources([{ source: { ecr: {} } }], registries)).toEqual([]);
    } finally {
      load.mockRestore();
    }
  });

  it("names a package that cannot be resolved", async () => {
    await expect(
      loadPluginPackages(["@acme/not-there"], builtinRegistries(), ["/nowhere/config.yaml"]),
    ).rejects.toThrow('plugin package "@acme/not-there": not installed');
  });
});

describe("registerPluginPackage", () => {
  const factory = { type: "x", summary: "x", validate: (c: unknown) => c, create: () => ({}) };

  it("names the package when it fails to load, with the first line of the error only", async () => {
    const failing = registerPluginPackage(
      "@acme/broken",
      () => Promise.reject(new Error("Cannot find module 'x'\n    at stack")),
      builtinRegistries(),
    );
    await expect(failing).rejects.toThrow(PluginLoadError);
    await expect(failing).rejects.toThrow(`plugin package "@acme/broken": failed to load: Cannot find module 'x'`);
  });

  it("refuses a package without factories, a non-factory and a type already registered", async () => {
    const registries = builtinRegistries();
    await expect(
      registerPluginPackage("@acme/empty", () => Promise.resolve({ default: {} }), registries),
    ).rejects.toThrow("provides no sources, selectors or strategies");
    await expect(
      registerPluginPackage("@acme/bad", () => Promise.resolve({ default: { sources: [{ type: "y" }] } }), registries),
    ).rejects.toThrow("sources[0] is not a plugin factory");
    const secretAgain = { ...factory, type: "secret" };
    await expect(
      registerPluginPackage("@acme/dup", () => Promise.resolve({ plugin: { sources: [secretAgain] } }), registries),
    ).rejects.toThrow(/plugin package "@acme\/dup": .*secret/);
    await registerPluginPackage("@acme/ok", () => Promise.resolve({ default: { sources: [factory] } }), registries);
    expect(registries.sources.has("x")).toBe(true);
  });
});
