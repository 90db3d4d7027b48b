// Draws the scale curve from recorded results: bench-results/scale-curve.svg.
//
//   node e2e/bench/curve.ts [results.json ...]    (default: bench-results/n*.json)
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { renderCurves, type Panel, type Series } from "./curve-svg.ts";
import { DEFAULT_SETTINGS, FAST_SETTINGS, settingsLabel } from "./patcher.ts";
import type { Report } from "./report.ts";
import type { ColdResult } from "./scenarios/results.ts";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const RESULTS = join(REPO, "bench-results");

interface Point {
  n: number;
  run: ColdResult;
  ceiling: number | undefined;
  /** The patcher's Node flags in that run. */
  flags: string;
}

const DEFAULT_LABEL = settingsLabel(DEFAULT_SETTINGS);
const FAST_LABEL = settingsLabel(FAST_SETTINGS);

/** Cold starts at the default and the fast setting, from every report that has them. */
function collect(files: string[]): { defaults: Point[]; fast: Point[] } {
  const defaults: Point[] = [];
  const fast: Point[] = [];
  for (const file of files) {
    const report = JSON.parse(readFileSync(file, "utf8")) as Report;
    const n = report.results.setup?.count;
    if (!n || report.meta.experiment) continue;
    const ceiling = report.results.ceiling?.writesPerSecond;
    const flags = (report.meta.nodeFlags ?? []).join(" ");
    const runs = [report.results.cold, ...(report.results.throughput ?? [])].filter((r) => r !== undefined);
    for (const run of runs) {
      if (run.settings === DEFAULT_LABEL && !defaults.some((p) => p.n === n)) defaults.push({ n, run, ceiling, flags });
      if (run.settings === FAST_LABEL && !fast.some((p) => p.n === n)) fast.push({ n, run, ceiling, flags });
    }
  }
  return { defaults, fast };
}

function series(name: string, color: string, points: Point[], y: (p: Point) => number | undefined): Series {
  const pts: [number, number][] = [];
  for (const p of points) {
    const v = y(p);
    if (v !== undefined) pts.push([p.n, v]);
  }
  return { name, color, points: pts };
}

function panels(defaults: Point[], fast: Point[]): Panel[] {
  const both = (y: (p: Point) => number | undefined): Series[] => [
    series("default", "#1f77b4", defaults, y),
    series("fast", "#d62728", fast, y),
  ];
  const ceiling = { ...series("API server ceiling", "#555", [...defaults, ...fast], (p) => p.ceiling), dashed: true };
  return [
    { title: "Cold start: time to converge", yLabel: "seconds", series: both((p) => p.run.convergedSeconds) },
    {
      title: "Cold start: write throughput",
      yLabel: "writes/s",
      series: [...both((p) => p.run.writesPerSecond), ceiling],
    },
    {
      title: "Peak and steady RSS",
      yLabel: "MB",
      series: [
        ...both((p) => p.run.rss?.peakRssMB).map((s) => ({ ...s, name: `peak, ${s.name}` })),
        { ...series("steady, default", "#2ca02c", defaults, (p) => p.run.rss?.steadyRssMB), dashed: true },
      ],
    },
    { title: "Start to caches synced", yLabel: "seconds", series: both((p) => p.run.timeline.cachesSyncedLog) },
    {
      title: "Requests per namespace (default)",
      yLabel: "requests / N",
      series: ["create", "patch", "list", "watch", "update", "get"].map((verb, i) => ({
        ...series(
          verb,
          ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f"][i] ?? "#000",
          defaults,
          (p) => (p.run.byVerb?.[verb] === undefined ? 0 : Math.round((p.run.byVerb[verb] / p.n) * 1000) / 1000),
        ),
      })),
    },
    {
      title: "Write throughput as a share of the ceiling",
      yLabel: "ratio",
      series: both((p) => p.run.ceilingRatio),
    },
  ];
}

/** The same figures as a Markdown table, for BENCHMARKS.md. */
function markdownTable(defaults: Point[], fast: Point[]): string {
  const rows = [
    ...defaults.map((p) => ({ ...p, setting: "default" })),
    ...fast.map((p) => ({ ...p, setting: "fast" })),
  ].sort((a, b) => a.n - b.n || a.setting.localeCompare(b.setting));
  const verbs = (v: Record<string, number> | undefined): string =>
    Object.entries(v ?? {})
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
  return [
    "| N | setting | converge (s) | writes/s | ceiling (writes/s) | ratio | peak RSS (MB) | steady RSS (MB) | caches synced (s) | requests by verb | node flags |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ...rows.map((p) => {
      const r = p.run;
      const cells = [p.n, p.setting, r.convergedSeconds, r.writesPerSecond, p.ceiling ?? "–", r.ceilingRatio ?? "–"];
      const more = [
        r.rss?.peakRssMB,
        r.rss?.steadyRssMB,
        r.timeline.cachesSyncedLog,
        verbs(r.byVerb),
        `\`${p.flags}\``,
      ];
      return `| ${[...cells, ...more.map((x) => x ?? "–")].join(" | ")} |`;
    }),
    "",
  ].join("\n");
}

const args = process.argv.slice(2).filter((a) => a !== "--");
const files = args.length
  ? args.map((f) => resolve(process.cwd(), f))
  : readdirSync(RESULTS)
      .filter((f) => /^n\d+.*\.json$/.test(f))
      .map((f) => join(RESULTS, f));
const { defaults, fast } = collect(files);
const svg = renderCurves(
  "imagepullsecret-patcher: cost as N grows (shipped bundle, cold start)",
  `default ${DEFAULT_LABEL}; fast ${FAST_LABEL}; from ${files.map((f) => f.replace(`${REPO}/`, "")).join(", ")}`,
  panels(defaults, fast),
  3,
);
writeFileSync(join(RESULTS, "scale-curve.svg"), svg);
process.stdout.write(markdownTable(defaults, fast));
process.stderr.write(`bench-results/scale-curve.svg: ${defaults.length} default and ${fast.length} fast points\n`);
