// Guards the import floors of core: a module may import from its own floor or lower ones, never
// from a higher one. Keeping the arrows pointing down is what lets each floor be read, tested and
// reused without the ones above it.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = dirname(fileURLToPath(import.meta.url));

/** Lowest first. Folders on one line share a floor and may import each other. */
const FLOORS: readonly (readonly string[])[] = [
  ["util"],
  ["logging"],
  ["credentials"],
  ["plugins"],
  ["kube", "queue"],
  ["selectors"],
  ["strategies"],
  ["sources/polling"],
  ["sources/file", "sources/secret", "sources/vault", "sources/merged"],
  ["probe"],
  ["engine"],
  ["leader"],
  ["mappings"],
  ["admission"],
  ["diagnostics"],
  ["testing"],
  ["."],
];

function floorOf(file: string): { floor: number; folder: string } {
  const folder = relative(SRC, dirname(file)) || ".";
  const floor = FLOORS.findIndex((names) => names.some((name) => folder === name || folder.startsWith(`${name}/`)));
  return { floor, folder };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1] as string);
  return specifiers.map((specifier) => resolve(dirname(file), specifier));
}

describe("core's import floors", () => {
  const files = sourceFiles(SRC);

  it("place every folder of src on a floor", () => {
    const unplaced = files.filter((file) => floorOf(file).floor < 0).map((file) => relative(SRC, file));
    expect(unplaced).toEqual([]);
  });

  it("never import from a higher floor", () => {
    const upward: string[] = [];
    for (const file of files) {
      const from = floorOf(file);
      for (const target of relativeImports(file)) {
        const to = floorOf(target);
        if (to.floor > from.floor) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
