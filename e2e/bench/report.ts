// Renders a benchmark result as Markdown (printed, and written next to the JSON).

export interface Check {
  name: string;
  /** Part of --check's exit status (the exact write counts); the others are targets, reported only. */
  gating: boolean;
  pass: boolean;
  detail: string;
}

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/restrict-template-expressions, @typescript-eslint/no-base-to-string --
   Renders the JSON report run.ts just wrote; its shape is the scenarios' return values. */
type Any = any;

function table(rows: Record<string, unknown>): string {
  const entries = Object.entries(rows).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return "_none_\n";
  return ["| request | count |", "|---|---:|", ...entries.map(([k, v]) => `| \`${k}\` | ${String(v)} |`)].join("\n") + "\n";
}

function rssLine(r: Any): string {
  if (!r?.rss) return "";
  return `RSS: peak ${r.rss.peakRssMB} MB (VmHWM ${r.rss.hwmMB} MB), steady ${r.rss.steadyRssMB} MB; sockets: ${r.rss.socketsOpened} opened, at most ${r.rss.peakOpenSockets} open`;
}

function cpuLine(r: Any): string {
  const c = r?.cpuCores;
  if (!c) return "";
  const parts = ["patcher", "kube-apiserver", "etcd", "kube-controller-manager", "bench", "machineBusyCores"]
    .filter((k) => c[k] !== undefined)
    .map((k) => `${k} ${c[k]}`);
  return `CPU (cores, average): ${parts.join(", ")}`;
}

function loadLine(r: Any): string {
  const a = r?.loadBefore;
  const b = r?.loadAfter;
  if (!a || !b) return "";
  return `load average ${a.loadavg.join("/")} → ${b.loadavg.join("/")}; go builds running: ${a.goBuilds} → ${b.goBuilds}`;
}

function cold(title: string, r: Any): string {
  const s = r.summary;
  const out = [
    `### ${title}`,
    "",
    `- settings: \`${r.settings}\`; namespaces: ${r.targets}; expected writes: ${r.expectedWrites}`,
    `- converged (poll): **${r.convergedSeconds} s**; timeline (s from spawn): ${Object.entries(r.timeline)
      .map(([k, v]) => `${k} ${v ?? "–"}`)
      .join(", ")}`,
    `- RSS (MB) when modules were loaded / caches synced / converged: ${r.rssAtMB?.modulesLoaded} / ${r.rssAtMB?.cachesSynced} / ${r.rssAtMB?.converged}`,
    `- writes (audit, Secrets and ServiceAccounts): **${s.writes}** (${s.failedWrites} failed); Lease requests ${s.leaseRequests}; Events written ${s.eventWrites}; patcher's own counter: ${JSON.stringify(r.patcherReportedWrites)}; ${r.writesPerSecond} writes/s; write request latency p50 ${r.writeLatencyMs.p50} ms, p99 ${r.writeLatencyMs.p99} ms`,
    `- per-namespace reads: **${s.perNamespaceReads}**; per-namespace write shapes: ${JSON.stringify(s.writeShapes)}`,
    `- responses: ${JSON.stringify(s.byCode)}; copies carry the source bytes: ${r.contentVerified}`,
    `- ${rssLine(r)}`,
    `- ${cpuLine(r)}`,
    `- ${loadLine(r)}`,
    `- admin polls: ${r.polls.count} (mean ${r.polls.meanMs} ms, max ${r.polls.maxMs} ms); other clients' requests in the window: ${JSON.stringify(r.otherClients)}`,
    ...(r.reset ? [`- reset before this run: ${JSON.stringify(r.reset)}`] : []),
    "",
    table(s.byKind),
  ];
  if (r.segments?.length) {
    out.push(
      "Progress in 10 equal stretches of the run (CPU in cores, averaged over 2-s samples):",
      "",
      "| s | namespaces/s | writes/s | patcher | kube-apiserver | etcd | bench | machine busy | go build | patcher RSS (MB) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...r.segments.map(
        (g: Any) =>
          `| ${g.fromSeconds}–${g.toSeconds} | ${g.namespacesPerSecond} | ${g.writesPerSecond} | ${g.patcherCores} | ${g.apiserverCores} | ${g.etcdCores} | ${g.benchCores} | ${g.machineBusyCores} | ${g.goBuilds ? "yes" : "no"} | ${g.patcherRssMB} |`,
      ),
      "",
    );
  }
  if (s.deviations.length) out.push("Namespaces whose writes differ from the expected shape:", "", "```", ...s.deviations.flatMap((d: Any) => [d.namespace, ...d.requests.map((q: string) => `  ${q}`)]), "```", "");
  if (s.perNamespaceReadExamples.length) out.push("Per-namespace reads (examples):", "", "```", ...s.perNamespaceReadExamples, "```", "");
  return out.join("\n") + "\n\n";
}

export function renderMarkdown(report: { meta: Any; results: Any; checks: Check[] }): string {
  const { meta, results, checks } = report;
  const m = meta.machine ?? {};
  const out: string[] = [];
  out.push(`## Benchmark: \`${meta.command}\``, "");
  out.push(`- machine: ${m.nproc} cores (${m.cpuModel}), ${m.memTotalGiB} GiB; kernel ${m.kernel}; Node ${m.node}`);
  out.push(`- control plane: ${m.kubeApiserver} (kube-apiserver), ${m.kubeControllerManager} (kube-controller-manager), ${m.etcd}`);
  if (meta.experiment) out.push(`- **experiment, not the patcher as shipped:** ${meta.experiment}`);
  out.push(`- patcher identity: \`${meta.identity}\`; leader election: ${JSON.stringify(meta.leaderElection)}`);
  out.push(`- load at start: ${meta.loadAtStart?.uptime}; go builds: ${meta.loadAtStart?.goBuilds}`);
  out.push(`- load at end: ${meta.loadAtEnd?.uptime}; go builds: ${meta.loadAtEnd?.goBuilds}`);
  out.push(`- runtime: ${meta.runtimeSeconds} s; audit lines read: ${meta.auditLinesRead}; patcher peak RSS over the run: ${meta.patcherPeakRssMB} MB`, "");
  if (results.setup) out.push(`Setup: ${JSON.stringify(results.setup)}`, "");
  if (results.error) out.push("**Run failed:**", "", "```", String(results.error), "```", "");
  out.push("### Checks", "", "| | check | detail |", "|---|---|---|");
  for (const c of checks) out.push(`| ${c.pass ? "PASS" : c.gating ? "**FAIL**" : "MISS"} | ${c.name}${c.gating ? "" : " (target)"} | ${c.detail} |`);
  out.push("");
  if (results.cold) out.push(cold("1. Cold start", results.cold));
  if (results.idle) {
    const r = results.idle;
    out.push(`### 2. Idle (${r.minutes} min)`, "");
    out.push(`- requests: **${r.requests}** (${r.requestsPerMinute}/min); by verb: ${JSON.stringify(r.byVerb)}; outside leases and watches: **${r.unexpectedRequests}**; writes besides the Lease: ${r.nonLeaseWrites}`);
    out.push(`- ${rssLine(r)}`, `- ${cpuLine(r)}`, `- ${loadLine(r)}`, `- patcher metrics delta: ${JSON.stringify(r.patcherMetricsDelta)}`, "");
    out.push("| minute | requests |", "|---:|---|");
    r.perMinute.forEach((b: Record<string, number>, i: number) => out.push(`| ${i + 1} | ${Object.entries(b).map(([k, v]) => `${k}: ${v}`).join("; ") || "none"} |`));
    out.push("");
    if (r.unexpectedExamples.length) out.push("Requests outside leases and watches:", "", "```", ...r.unexpectedExamples, "```", "");
  }
  if (results.latency) {
    const r = results.latency;
    const row = (label: string, s: Any): string => `| ${label} | ${s.count} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.max} | ${s.mean} |`;
    out.push(`### 3. New-namespace latency (${r.count} namespaces at ${r.ratePerSecond}/s)`, "");
    out.push("| interval (ms) | n | p50 | p95 | p99 | max | mean |", "|---|---:|---:|---:|---:|---:|---:|");
    out.push(row("default SA created → copy exists and SA references it (watch)", r.watch.fromServiceAccountMs));
    out.push(row("default SA created → copy + SA patch completed (audit)", r.audit.fromServiceAccountMs));
    out.push(row("default SA created → patcher's SA patch received (audit)", r.audit.patcherReactionMs));
    out.push(row("namespace created → done (watch)", r.watch.fromNamespaceMs));
    out.push(row("namespace created → done (audit)", r.audit.fromNamespaceMs));
    out.push(row("namespace created → default SA created (kube-controller-manager, audit)", r.audit.namespaceToServiceAccountMs));
    out.push("");
    out.push(`- writes: ${r.summary.writes} (expected ${2 * r.count}); shapes ${JSON.stringify(r.summary.writeShapes)}; not converged: ${r.notConverged}`);
    out.push(`- ${rssLine(r)}`, `- ${cpuLine(r)}`, `- ${loadLine(r)}`, "");
    out.push("Slowest namespaces (times from the default SA's creation):", "", "```");
    for (const s of r.slowest) out.push(`${s.namespace}: ${s.ms} ms`, ...s.requests.map((q: string) => `  ${q}`));
    out.push("```", "", table(r.summary.byKind));
  }
  if (results.rotation) {
    const r = results.rotation;
    out.push(`### 4. Source rotation (${r.copies} copies)`, "");
    out.push(`- converged (poll): **${r.convergedSeconds} s**; first write ${r.firstWriteSeconds} s, last write ${r.lastWriteSeconds} s after the source update; ${r.writesPerSecond} writes/s`);
    out.push(`- Secret updates: **${r.secretUpdates}**; ServiceAccount writes: **${r.serviceAccountWrites}**; all writes ${r.summary.writes}; shapes ${JSON.stringify(r.summary.writeShapes)}`);
    out.push(`- patcher's own counter: ${JSON.stringify(r.patcherReportedWrites)}; per-namespace reads ${r.summary.perNamespaceReads}`);
    out.push(`- ${rssLine(r)}`, `- ${cpuLine(r)}`, `- ${loadLine(r)}`, "", table(r.summary.byKind));
  }
  if (results.throughput) {
    out.push("### 5. Cold-start throughput by controller settings", "");
    out.push("| settings | namespaces | converged (s) | writes | writes/s | write p99 (ms) | patcher CPU | apiserver CPU | etcd CPU | machine busy | peak RSS (MB) | sockets opened |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const r of results.throughput) {
      const c = r.cpuCores ?? {};
      out.push(`| \`${r.settings}\` | ${r.targets} | ${r.convergedSeconds} | ${r.summary.writes} | ${r.writesPerSecond} | ${r.writeLatencyMs.p99} | ${c.patcher} | ${c["kube-apiserver"]} | ${c.etcd} | ${c.machineBusyCores} | ${r.rss?.peakRssMB} | ${r.rss?.socketsOpened} |`);
    }
    out.push("");
    for (const [i, r] of results.throughput.entries()) out.push(cold(`5.${i + 1} ${r.settings}`, r));
  }
  return out.join("\n") + "\n";
}
