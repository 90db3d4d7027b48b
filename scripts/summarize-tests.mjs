// Sums the vitest JSON reports of every package into one closing line per kind and a total,
// e.g. "unit: 612 passed, 0 failed". Exits non-zero when a report is missing or has failures.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const reports = {
  unit: ["packages/core/.vitest/report.json", "apps/patcher/.vitest/report.json", "e2e/.vitest/unit.json"],
  e2e: ["e2e/.vitest/e2e.json", "e2e/.vitest/soak.json"],
};
const kinds = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(reports);
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = false;
for (const kind of kinds) {
  let p = 0,
    f = 0,
    s = 0;
  for (const rel of reports[kind] ?? []) {
    const path = join(root, rel);
    if (!existsSync(path)) {
      console.log(`${kind}: no report at ${rel}`);
      missing = true;
      continue;
    }
    const r = JSON.parse(readFileSync(path, "utf8"));
    p += r.numPassedTests;
    f += r.numFailedTests;
    s += r.numPendingTests + (r.numTodoTests ?? 0);
  }
  console.log(`${kind}: ${p} passed, ${f} failed${s ? `, ${s} skipped` : ""}`);
  passed += p;
  failed += f;
  skipped += s;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed > 0 || missing ? 1 : 0;
