import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseYaml } from "./yaml.ts";

/**
 * The subset of kustomize that deploy/kustomize uses: a kustomization.yaml with only `resources`,
 * each a file or a directory holding another such kustomization. There is no kustomize binary on
 * the test machines, so this renders the base, and anything outside the subset is an error rather
 * than silently ignored. Output: the resource files' text in order, separated by `---`.
 */
export function renderKustomization(dir: string): string {
  return collect(dir, new Set()).join("---\n");
}

const ALLOWED = new Set(["apiVersion", "kind", "resources"]);

function collect(dir: string, seen: Set<string>): string[] {
  if (seen.has(dir)) throw new Error(`kustomization cycle at ${dir}`);
  seen.add(dir);
  const file = ["kustomization.yaml", "kustomization.yml", "Kustomization"].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`no kustomization.yaml in ${dir}`);
  const k = parseYaml(readFileSync(file, "utf8")) as Record<string, unknown>;
  for (const key of Object.keys(k)) {
    if (!ALLOWED.has(key)) throw new Error(`${file}: field "${key}" is outside the kustomize subset e2e/src/deploy/kustomize.ts renders`);
  }
  if (k.kind !== "Kustomization") throw new Error(`${file}: kind must be Kustomization`);
  const resources = k.resources;
  if (!Array.isArray(resources) || !resources.every((r): r is string => typeof r === "string")) {
    throw new Error(`${file}: resources must be a list of paths`);
  }
  const out: string[] = [];
  for (const r of resources) {
    const path = join(dir, r);
    if (!existsSync(path)) throw new Error(`${file}: resource ${r} does not exist`);
    if (statSync(path).isDirectory()) out.push(...collect(path, seen));
    else {
      const text = readFileSync(path, "utf8").replace(/^---\n/, "");
      out.push(text.endsWith("\n") ? text : `${text}\n`);
    }
  }
  return out;
}
