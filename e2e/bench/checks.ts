// The checks a run is judged by. Gating ones are --check's exit status (exact write counts);
// the others are targets, reported only.
import type {
  ColdResult,
  IdleResult,
  LatencyResult,
  Results,
  RotationResult,
  ThroughputRun,
} from "./scenarios/results.ts";

export interface Check {
  name: string;
  /** Part of --check's exit status (the exact write counts); the others are targets, reported only. */
  gating: boolean;
  pass: boolean;
  detail: string;
}

function coldChecks(cold: ColdResult): Check[] {
  const s = cold.summary;
  return [
    {
      name: "cold start: exactly 1 Secret create + 1 ServiceAccount patch per namespace (2N writes)",
      gating: true,
      pass: s.writes === cold.expectedWrites && s.deviationCount === 0,
      detail: `${s.writes} writes for ${cold.targets} namespaces (expected ${cold.expectedWrites}); ${s.deviationCount} namespaces deviate`,
    },
    {
      name: "cold start: no per-namespace reads",
      gating: false,
      pass: s.perNamespaceReads === 0,
      detail: `${s.perNamespaceReads} per-namespace reads`,
    },
    {
      name: "cold start: every copy carries the source's bytes",
      gating: true,
      pass: cold.contentVerified,
      detail: String(cold.contentVerified),
    },
  ];
}

function idleChecks(idle: IdleResult): Check[] {
  return [
    {
      name: "idle: no writes besides the Lease",
      gating: true,
      pass: idle.nonLeaseWrites === 0,
      detail: `${idle.nonLeaseWrites} writes`,
    },
    {
      name: "idle: only Lease renewals and watch re-establishment",
      gating: false,
      pass: idle.unexpectedRequests === 0,
      detail: `${idle.unexpectedRequests} other requests; ${idle.requestsPerMinute} requests/min in all`,
    },
  ];
}

function latencyChecks(lat: LatencyResult): Check[] {
  const s = lat.summary;
  return [
    {
      name: "new namespaces: exactly 1 Secret create + 1 ServiceAccount patch each",
      gating: true,
      pass: lat.notConverged === 0 && s.writes === 2 * lat.count && s.deviationCount === 0,
      detail: `${s.writes} writes for ${lat.count} namespaces; ${s.deviationCount} deviate; ${lat.notConverged} not converged`,
    },
    {
      name: "new namespaces: p99 ≤ 1 s from the default ServiceAccount's creation to its patch",
      gating: false,
      pass: lat.watch.fromServiceAccountMs.p99 <= 1000,
      detail: `p99 ${lat.watch.fromServiceAccountMs.p99} ms (watch), ${lat.audit.fromServiceAccountMs.p99} ms (audit)`,
    },
  ];
}

function rotationCheck(rot: RotationResult): Check {
  return {
    name: "rotation: 1 Secret update per copy, 0 ServiceAccount writes",
    gating: true,
    pass:
      rot.secretUpdates === rot.copies &&
      rot.serviceAccountWrites === 0 &&
      rot.summary.writes === rot.copies &&
      rot.summary.deviationCount === 0,
    detail: `${rot.secretUpdates} Secret updates for ${rot.copies} copies, ${rot.serviceAccountWrites} ServiceAccount writes, ${rot.summary.writes} writes in all`,
  };
}

function throughputCheck(t: ThroughputRun): Check {
  return {
    name: `throughput [${t.settings}]: 2N writes`,
    gating: false,
    pass: t.summary.writes === t.expectedWrites && t.summary.deviationCount === 0,
    detail: `${t.summary.writes} writes (expected ${t.expectedWrites}) in ${t.convergedSeconds} s`,
  };
}

export function gatingChecks(results: Results): Check[] {
  return [
    ...(results.cold ? coldChecks(results.cold) : []),
    ...(results.idle ? idleChecks(results.idle) : []),
    ...(results.latency ? latencyChecks(results.latency) : []),
    ...(results.rotation ? [rotationCheck(results.rotation)] : []),
    ...(results.throughput ?? []).map(throughputCheck),
  ];
}
