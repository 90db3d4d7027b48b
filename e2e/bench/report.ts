// Renders a benchmark result as Markdown (printed, and written next to the JSON).
import type { Args, Scenario } from "./args.ts";
import type { Check } from "./checks.ts";
import type { LoadInfo, MachineInfo } from "./proc.ts";
import type {
  ColdResult,
  IdleResult,
  LatencyResult,
  LatencyStats,
  Results,
  RotationResult,
  Segment,
  ThroughputRun,
  SourceMemoryResult,
  WindowFacts,
} from "./scenarios/results.ts";

/** The run's arguments as recorded: paths relative to the checkout, settings as labels. */
export type RecordedArgs = Omit<Args, "out" | "workDir" | "scenarios" | "throughput" | "settings"> & {
  settings: string;
  out: string;
  workDir: string;
  scenarios: Scenario[];
  throughput: string[];
};

/** How, where and on what the run ran; filled in as the run goes. */
export interface Meta {
  command: string;
  args: RecordedArgs;
  patcher: string;
  /** The Node flags the patcher ran with (the image's, from apps/patcher/node-flags.json). */
  nodeFlags: string[];
  nodeFlagsWhy: string | undefined;
  /** Environment the image sets (glibc malloc tunables). */
  nodeEnv?: Record<string, string>;
  bundledNow: boolean;
  bundleBytes: number;
  loadAtStart: LoadInfo;
  startedAt: string;
  machine?: MachineInfo;
  identity?: string;
  experiment?: string;
  leaderElection?: { namespace: string; name: string } | false;
  auditLog?: string;
  patcherPeakRssMB?: number | undefined;
  runtimeSeconds?: number;
  auditLinesRead?: number | undefined;
  adminRequests?: number;
  loadAtEnd?: LoadInfo;
}

export interface Report {
  meta: Meta;
  results: Results;
  checks: Check[];
}

function table(rows: Record<string, number>): string {
  const entries = Object.entries(rows).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return "_none_\n";
  return ["| request | count |", "|---|---:|", ...entries.map(([k, v]) => `| \`${k}\` | ${v} |`)].join("\n") + "\n";
}

function rssLine(r: WindowFacts): string {
  if (!r.rss) return "";
  return `RSS: peak ${r.rss.peakRssMB} MB (VmHWM ${r.rss.hwmMB} MB; anonymous at most ${r.rss.peakAnonMB ?? "?"} MB, the rest file-backed code), steady ${r.rss.steadyRssMB} MB; sockets: ${r.rss.socketsOpened} opened, at most ${r.rss.peakOpenSockets} open`;
}

function cpuLine(r: WindowFacts): string {
  const c = r.cpuCores;
  const parts = ["patcher", "kube-apiserver", "etcd", "kube-controller-manager", "bench", "machineBusyCores"]
    .filter((k) => c[k] !== undefined)
    .map((k) => `${k} ${c[k]}`);
  return `CPU (cores, average): ${parts.join(", ")}`;
}

function loadLine(r: WindowFacts): string {
  const a = r.loadBefore;
  const b = r.loadAfter;
  return `load average ${a.loadavg.join("/")} → ${b.loadavg.join("/")}; go builds running: ${a.goBuilds} → ${b.goBuilds}`;
}

/** Facts every scenario window has, as list items. */
function factLines(r: WindowFacts): string[] {
  return [`- ${rssLine(r)}`, `- ${cpuLine(r)}`, `- ${loadLine(r)}`];
}

function segmentRow(g: Segment): string {
  const cells = [
    `${g.fromSeconds}–${g.toSeconds}`,
    g.namespacesPerSecond,
    g.writesPerSecond,
    g.patcherCores,
    g.apiserverCores,
    g.etcdCores,
    g.benchCores,
    g.machineBusyCores,
    g.goBuilds ? "yes" : "no",
    g.patcherRssMB,
  ];
  return `| ${cells.join(" | ")} |`;
}

function segmentTable(segments: Segment[]): string[] {
  if (!segments.length) return [];
  return [
    "Progress in 10 equal stretches of the run (CPU in cores, averaged over 2-s samples):",
    "",
    "| s | namespaces/s | writes/s | patcher | kube-apiserver | etcd | bench | machine busy | go build | patcher RSS (MB) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...segments.map(segmentRow),
    "",
  ];
}

function cold(title: string, r: ColdResult | ThroughputRun): string {
  const s = r.summary;
  const timeline = Object.entries(r.timeline)
    .map(([k, v]) => `${k} ${v ?? "–"}`)
    .join(", ");
  const out = [
    `### ${title}`,
    "",
    `- settings: \`${r.settings}\`; namespaces: ${r.targets}; expected writes: ${r.expectedWrites}`,
    `- converged (poll): **${r.convergedSeconds} s**; timeline (s from spawn): ${timeline}`,
    `- RSS (MB) when modules were loaded / caches synced / converged: ${r.rssAtMB.modulesLoaded} / ${r.rssAtMB.cachesSynced} / ${r.rssAtMB.converged}`,
    `- throughput: **${r.writesPerSecond} writes/s**, ${r.ceilingRatio ?? "–"} of the ceiling; connections opened (patcher's counter): ${r.connectionsOpened ?? "not served"}; requests by verb: ${JSON.stringify(r.byVerb)}`,
    `- writes (audit, Secrets and ServiceAccounts): **${s.writes}** (${s.failedWrites} failed); Lease requests ${s.leaseRequests}; Events written ${s.eventWrites}; patcher's own counter: ${JSON.stringify(r.patcherReportedWrites)}; ${r.writesPerSecond} writes/s; write request latency p50 ${r.writeLatencyMs.p50} ms, p99 ${r.writeLatencyMs.p99} ms`,
    `- per-namespace reads: **${s.perNamespaceReads}**; per-namespace write shapes: ${JSON.stringify(s.writeShapes)}`,
    `- responses: ${JSON.stringify(s.byCode)}; copies carry the source bytes: ${r.contentVerified}`,
    ...factLines(r),
    `- admin polls: ${r.polls.count} (mean ${r.polls.meanMs} ms, max ${r.polls.maxMs} ms); other clients' requests in the window: ${JSON.stringify(r.otherClients)}`,
    ...("reset" in r ? [`- reset before this run: ${JSON.stringify(r.reset)}`] : []),
    "",
    table(s.byKind),
    ...segmentTable(r.segments),
  ];
  if (s.deviations.length) {
    out.push(
      "Namespaces whose writes differ from the expected shape:",
      "",
      "```",
      ...s.deviations.flatMap((d) => [d.namespace, ...d.requests.map((q) => `  ${q}`)]),
      "```",
      "",
    );
  }
  if (s.perNamespaceReadExamples.length)
    out.push("Per-namespace reads (examples):", "", "```", ...s.perNamespaceReadExamples, "```", "");
  return out.join("\n") + "\n\n";
}

function header(meta: Meta): string[] {
  const m = meta.machine;
  return [
    `## Benchmark: \`${meta.command}\``,
    "",
    `- machine: ${m?.nproc} cores (${m?.cpuModel}), ${m?.memTotalGiB} GiB; kernel ${m?.kernel}; Node ${m?.node}`,
    `- control plane: ${m?.kubeApiserver} (kube-apiserver), ${m?.kubeControllerManager} (kube-controller-manager), ${m?.etcd}`,
    `- patcher: \`${meta.patcher}\` (${meta.bundleBytes} bytes with its chunks${meta.bundledNow ? ", bundled by this run" : ""}) with ${envWords(meta.nodeEnv)}node ${meta.nodeFlags.join(" ") || "(no flags)"}${meta.nodeFlagsWhy ? ` — ${meta.nodeFlagsWhy}` : ""}`,
    ...(meta.experiment ? [`- **experiment, not the patcher as shipped:** ${meta.experiment}`] : []),
    `- patcher identity: \`${meta.identity}\`; leader election: ${JSON.stringify(meta.leaderElection)}`,
    `- load at start: ${meta.loadAtStart.uptime}; go builds: ${meta.loadAtStart.goBuilds}`,
    `- load at end: ${meta.loadAtEnd?.uptime}; go builds: ${meta.loadAtEnd?.goBuilds}`,
    `- runtime: ${meta.runtimeSeconds} s; audit lines read: ${meta.auditLinesRead}; patcher peak RSS over the run: ${meta.patcherPeakRssMB} MB`,
    "",
  ];
}

function checkTable(checks: Check[]): string[] {
  const verdict = (c: Check): string => (c.pass ? "PASS" : c.gating ? "**FAIL**" : "MISS");
  return [
    "### Checks",
    "",
    "| | check | detail |",
    "|---|---|---|",
    ...checks.map((c) => `| ${verdict(c)} | ${c.name}${c.gating ? "" : " (target)"} | ${c.detail} |`),
    "",
  ];
}

function idleSection(r: IdleResult): string[] {
  const minutes = r.perMinute.map((b, i) => {
    const kinds = Object.entries(b)
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ");
    return `| ${i + 1} | ${kinds || "none"} |`;
  });
  return [
    `### 2. Idle (${r.minutes} min)`,
    "",
    `- requests: **${r.requests}** (${r.requestsPerMinute}/min); by verb: ${JSON.stringify(r.byVerb)}; outside leases and watches: **${r.unexpectedRequests}**; writes besides the Lease: ${r.nonLeaseWrites}`,
    ...factLines(r),
    `- patcher metrics delta: ${JSON.stringify(r.patcherMetricsDelta)}`,
    "",
    "| minute | requests |",
    "|---:|---|",
    ...minutes,
    "",
    ...(r.unexpectedExamples.length
      ? ["Requests outside leases and watches:", "", "```", ...r.unexpectedExamples, "```", ""]
      : []),
  ];
}

function latencySection(r: LatencyResult): string[] {
  const row = (label: string, s: LatencyStats): string =>
    `| ${label} | ${s.count} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.max} | ${s.mean} |`;
  return [
    `### 3. New-namespace latency (${r.count} namespaces at ${r.ratePerSecond}/s)`,
    "",
    "| interval (ms) | n | p50 | p95 | p99 | max | mean |",
    "|---|---:|---:|---:|---:|---:|---:|",
    row("default SA created → copy exists and SA references it (watch)", r.watch.fromServiceAccountMs),
    row("default SA created → copy + SA patch completed (audit)", r.audit.fromServiceAccountMs),
    row("default SA created → patcher's SA patch received (audit)", r.audit.patcherReactionMs),
    row("namespace created → done (watch)", r.watch.fromNamespaceMs),
    row("namespace created → done (audit)", r.audit.fromNamespaceMs),
    row("namespace created → default SA created (kube-controller-manager, audit)", r.audit.namespaceToServiceAccountMs),
    "",
    `- writes: ${r.summary.writes} (expected ${2 * r.count}); shapes ${JSON.stringify(r.summary.writeShapes)}; not converged: ${r.notConverged}`,
    ...factLines(r),
    "",
    "Slowest namespaces (times from the default SA's creation):",
    "",
    "```",
    ...r.slowest.flatMap((s) => [`${s.namespace}: ${s.ms} ms`, ...s.requests.map((q) => `  ${q}`)]),
    "```",
    "",
    table(r.summary.byKind),
  ];
}

function rotationSection(r: RotationResult): string[] {
  return [
    `### 4. Source rotation (${r.copies} copies)`,
    "",
    `- converged (poll): **${r.convergedSeconds} s**; first write ${r.firstWriteSeconds} s, last write ${r.lastWriteSeconds} s after the source update; ${r.writesPerSecond} writes/s`,
    `- Secret updates: **${r.secretUpdates}**; ServiceAccount writes: **${r.serviceAccountWrites}**; all writes ${r.summary.writes}; shapes ${JSON.stringify(r.summary.writeShapes)}`,
    `- patcher's own counter: ${JSON.stringify(r.patcherReportedWrites)}; per-namespace reads ${r.summary.perNamespaceReads}`,
    ...factLines(r),
    "",
    table(r.summary.byKind),
  ];
}

function throughputSection(runs: ThroughputRun[]): string[] {
  const row = (r: ThroughputRun): string => {
    const c = r.cpuCores;
    const cells = [
      `\`${r.settings}\``,
      r.targets,
      r.convergedSeconds,
      r.summary.writes,
      r.writesPerSecond,
      r.ceilingRatio ?? "–",
      r.writeLatencyMs.p99,
    ];
    const more = [c.patcher, c["kube-apiserver"], c.etcd, c.machineBusyCores, r.rss?.peakRssMB, r.rss?.socketsOpened];
    return `| ${[...cells, ...more.map(String)].join(" | ")} |`;
  };
  return [
    "### 5. Cold-start throughput by controller settings",
    "",
    "| settings | namespaces | converged (s) | writes | writes/s | of ceiling | write p99 (ms) | patcher CPU | apiserver CPU | etcd CPU | machine busy | peak RSS (MB) | sockets opened |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...runs.map(row),
    "",
    ...runs.map((r, i) => cold(`5.${i + 1} ${r.settings}`, r)),
  ];
}

function sourcesSection(runs: SourceMemoryResult[]): string[] {
  const cell = (v: number | undefined): string => (v === undefined ? "–" : String(v));
  return [
    "### 6. Memory by source kind (the image's bundle and flags)",
    "",
    "| source | copies | converged (s) | peak RSS (MB) | peak anon (MB) | idle RSS (MB) | peak over secret (MB) | idle over secret (MB) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...runs.map(
      (r) =>
        `| \`${r.kind}\` | ${r.copies} | ${r.convergedSeconds} | ${cell(r.peakRssMB)} | ${cell(r.peakAnonMB)} | ${cell(r.idleRssMB)} | ${cell(r.peakOverSecretMB)} | ${cell(r.idleOverSecretMB)} |`,
    ),
    "",
  ];
}

export function renderMarkdown(report: Report): string {
  const { meta, results, checks } = report;
  const out = header(meta);
  if (results.setup) out.push(`Setup: ${JSON.stringify(results.setup)}`, "");
  if (results.ceiling) out.push(`API server ceiling (tight keep-alive client): ${JSON.stringify(results.ceiling)}`, "");
  if (results.atEnd) out.push(`Last patcher at the end of the run: ${JSON.stringify(results.atEnd)}`, "");
  if (results.error) out.push("**Run failed:**", "", "```", results.error, "```", "");
  out.push(...checkTable(checks));
  if (results.cold) out.push(cold("1. Cold start", results.cold));
  if (results.idle) out.push(...idleSection(results.idle));
  if (results.latency) out.push(...latencySection(results.latency));
  if (results.rotation) out.push(...rotationSection(results.rotation));
  if (results.throughput) out.push(...throughputSection(results.throughput));
  if (results.sources) out.push(...sourcesSection(results.sources));
  return out.join("\n") + "\n";
}

/** `NAME=value ` for each variable the image sets, as a shell would prefix them. */
export function envWords(env: Record<string, string> | undefined): string {
  return Object.entries(env ?? {})
    .map(([k, v]) => `${k}=${v} `)
    .join("");
}
