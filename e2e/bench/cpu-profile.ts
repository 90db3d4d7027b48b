// Summarises a V8 .cpuprofile (node --cpu-prof): the functions with the most self time, and the
// share of time by package, so a missed target names its bottleneck from a measurement.
//
//   node e2e/bench/cpu-profile.ts FILE.cpuprofile [top=15]
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** "node_modules/.pnpm/undici@8/node_modules/undici/lib/x.js" → "undici"; bundled code has no package path. */
function owner(url: string): string {
  if (!url) return "(native/V8)";
  if (url.startsWith("node:")) return "node core";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(url);
  return m?.[1] ?? url.split("/").slice(-2).join("/");
}

function summarise(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node) return;
    const f = node.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-1)[0] ?? ""}:${f.lineNumber + 1}`;
    selfMs.set(key, (selfMs.get(key) ?? 0) + dt);
    byOwner.set(owner(f.url), (byOwner.get(owner(f.url)) ?? 0) + dt);
    total += dt;
  });
  const rows = (m: Map<string, number>, n: number): string[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `| ${k} | ${Math.round(v)} | ${((v / total) * 100).toFixed(1)} % |`);
  return [
    `profile: ${Math.round((profile.endTime - profile.startTime) / 1000)} ms wall, ${Math.round(total)} ms sampled`,
    "",
    "| function (self time) | ms | share |",
    "|---|---:|---:|",
    ...rows(selfMs, top),
    "",
    "| code | ms | share |",
    "|---|---:|---:|",
    ...rows(byOwner, 10),
    "",
  ].join("\n");
}

const [file, topArg] = process.argv.slice(2).filter((a) => a !== "--");
if (!file) throw new Error("usage: node e2e/bench/cpu-profile.ts FILE.cpuprofile [top]");
process.stdout.write(summarise(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(topArg ?? 15)));
