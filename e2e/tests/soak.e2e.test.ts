// Invariant soak test: two patcher instances ("alpha": two leader-elected replicas; "beta": one
// process) with overlapping mappings and shared copy names, driven by a seeded random sequence of
// operations (namespaces created, deleted and relabelled; ServiceAccounts added and edited by
// hand; copies edited and deleted; sources rotated; configs hot-reloaded; processes SIGKILLed;
// leader failovers). Then a quiet period, and the invariants:
//   1. every soak namespace holds exactly the copies and ServiceAccount entries the final configs
//      and labels demand; an overlapping claim has exactly one owner and a reported conflict;
//   2. nothing the patchers do not own changed;
//   3. no duplicate imagePullSecrets entries;
//   4. no writes to Secrets, ServiceAccounts or Events during 60 s after convergence (audit log);
//   5. the engine's internal maps stay bounded by what is in the cluster.
// SOAK_SEED replays a run's operations; SOAK_SECONDS (default 180) sets how long they run.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { adminKubeConfig, uniqueName } from "../src/support/kube.ts";
import { TEST_PASSWORD_PREFIX, sleep } from "../src/support/fixtures.ts";
import { Random } from "../src/soak/random.ts";
import { OP_WEIGHTS, SOURCES, Scenario, type OpKind } from "../src/soak/scenario.ts";
import { observe, snapshot, diffSnapshots, type Snapshot } from "../src/soak/observe.ts";
import { judge, type Verdict } from "../src/soak/world.ts";
import { auditOffset, countWrites, readAudit, topWrites } from "../src/soak/audit-window.ts";
import { TRACKED_KEYS_METRIC, checkMetrics, judgePlan, planRows } from "../src/soak/checks.ts";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const CONVERGE_MS = 90_000;
const QUIET_MS = 60_000;
const rnd = Random.fromEnv();
const SEED = `seed=${rnd.seed}`;
const REPLAY = `SOAK_SEED=${rnd.seed} SOAK_SECONDS=${SECONDS}`;

const log = (text: string): void =>
  void process.stderr.write(
    `${text
      .split("\n")
      .map((line) => `[soak ${SEED}] ${line}`)
      .join("\n")}\n`,
  );

describe("soak: invariants under random operations", () => {
  const admin = adminKubeConfig();
  const dir = mkdtempSync(join(tmpdir(), "patcher-soak-"));
  mkdirSync(join(dir, "alpha"));
  mkdirSync(join(dir, "beta"));
  const scenario = new Scenario(admin, rnd, uniqueName("soak"), dir);

  afterAll(async () => {
    await scenario.cleanup();
  }, 120_000);

  it(
    // A stable name (reports track tests by name); the seed is in the start line and every assertion.
    "keeps every invariant",
    async () => {
      log(`starting; replay with ${REPLAY}; run ${scenario.run}; ${SECONDS} s of operations`);
      const auditPath = inject("auditLogPath");
      expect
        .soft(
          auditPath,
          `${SEED}: the e2e cluster has no API-server audit log, the write-window invariant cannot be checked`,
        )
        .not.toBe("");
      const verdicts: { at: string; verdict: Verdict }[] = [];
      const judgeNow = async (): Promise<Verdict> =>
        judge(scenario.instances(), await observe(scenario.core, scenario.run, scenario.src, SOURCES), scenario.hand);

      // --- Setup: fixtures the patchers do not own, then the patchers.
      await scenario.setup();
      const before: Snapshot = await snapshot(scenario.core, scenario.foreign);
      await scenario.startPatchers();
      const soakAuditStart = auditOffset(auditPath);
      const soakStartMs = Date.now();
      log(
        `patchers up (${[...scenario.fleet.members.keys()].join(", ")}); ${scenario.foreign.length} foreign objects snapshotted`,
      );

      // --- Operations: every kind once in a seeded order, then weighted random ones.
      const deadline = Date.now() + SECONDS * 1000;
      const firsts = rnd.shuffle(Object.keys(OP_WEIGHTS) as OpKind[]);
      while (Date.now() < deadline) {
        const kind = firsts.shift() ?? rnd.weighted(OP_WEIGHTS);
        await scenario.runOp(kind);
        await sleep(rnd.int(200, 1500));
      }
      const counts: Record<string, number> = {};
      for (const op of scenario.ops) counts[op.kind] = (counts[op.kind] ?? 0) + 1;
      log(`${scenario.ops.length} operations: ${JSON.stringify(counts)}`);
      log(`leader takeovers: ${JSON.stringify(scenario.takeovers)}`);

      // --- Quiet period: all patchers up, wait for convergence (bounded).
      await scenario.restoreFleet();
      const convergeStart = Date.now();
      let verdict = await judgeNow();
      while (verdict.violations.length && Date.now() - convergeStart < CONVERGE_MS) {
        await sleep(2000);
        verdict = await judgeNow();
      }
      const convergedMs = Date.now() - convergeStart;
      verdicts.push({ at: "after the quiet period", verdict });
      log(
        verdict.violations.length
          ? `NOT converged after ${convergedMs} ms: ${verdict.violations.length} violations`
          : `converged in ${convergedMs} ms`,
      );

      // --- 60 s write window, read from the audit log.
      const windowOffset = auditOffset(auditPath);
      const windowStart = Date.now();
      await sleep(QUIET_MS);
      const windowEnd = Date.now();
      await sleep(1500); // the audit backend writes a request's event before answering; margin for clocks
      const windowRequests = readAudit(auditPath, windowOffset, windowStart, windowEnd);
      const users = new Map([...scenario.fleet.members.values()].map((m) => [m.user, m.id]));
      const windowWrites = countWrites(windowRequests);
      const patcherWrites = [...windowWrites.entries()].filter(([u]) => users.has(u));
      const otherWrites = [...windowWrites.entries()].filter(([u]) => !users.has(u));
      const fmt = (entries: typeof patcherWrites): string =>
        entries.map(([u, c]) => `${users.get(u) ?? u}: ${JSON.stringify(c)}`).join("; ") || "none";
      log(`write window ${QUIET_MS / 1000} s: patchers ${fmt(patcherWrites)}; others ${fmt(otherWrites)}`);
      const windowTop = topWrites(windowRequests.filter((r) => users.has(r.user)));
      if (windowTop.length) log(`write window, most frequent patcher writes:\n  ${windowTop.join("\n  ")}`);

      // Writes during the operations and during convergence, per member, for context.
      const soakRequests = readAudit(auditPath, soakAuditStart, soakStartMs, windowStart).filter((r) =>
        users.has(r.user),
      );
      const opsRequests = soakRequests.filter((r) => r.received < convergeStart);
      const convergeRequests = soakRequests.filter((r) => r.received >= convergeStart);
      log(`writes during the operations: ${fmt([...countWrites(opsRequests).entries()])}`);
      log(`writes during convergence (${convergedMs} ms): ${fmt([...countWrites(convergeRequests).entries()])}`);
      const convergeTop = topWrites(convergeRequests);
      if (convergeTop.length) log(`convergence, most frequent patcher writes:\n  ${convergeTop.join("\n  ")}`);

      // --- Final state, plans, metrics, foreign objects.
      const final = await judgeNow();
      verdicts.push({ at: "after the write window", verdict: final });
      const soakNamespaces = new Set(
        (await scenario.core.listNamespace({ labelSelector: `soak=${scenario.run}` })).items.map(
          (n) => n.metadata?.name ?? "",
        ),
      );
      const planProblems: string[] = [];
      for (const [instance, config] of [
        ["alpha", scenario.alphaConfig],
        ["beta", scenario.betaConfig],
      ] as const) {
        const { rows, error } = await planRows(config, inject("kubeconfigPath"));
        if (error) planProblems.push(`plan of ${instance} failed: ${error}`);
        planProblems.push(...judgePlan(instance, rows, soakNamespaces, final.conflicts));
      }
      const clusterNamespaces = (await scenario.core.listNamespace()).items.length;
      const metrics = await checkMetrics(scenario.fleet, scenario.instances(), final.conflicts, clusterNamespaces);
      const after = await snapshot(scenario.core, scenario.foreign);
      const foreignChanges = diffSnapshots(before, after);

      // --- Report.
      log(`final configs:\n  alpha ${JSON.stringify(scenario.alpha)}\n  beta ${JSON.stringify(scenario.beta)}`);
      log(`owners: ${JSON.stringify(Object.fromEntries(final.owners))}`);
      log(
        `expected conflicts: ${final.conflicts.map((c) => `${c.instance}/${c.mapping} in ${c.namespace} (${c.secretName} held by ${c.heldBy})`).join("; ") || "none"}`,
      );
      log(
        `engines: ${metrics.engines.join(", ")}; ${TRACKED_KEYS_METRIC}: ${metrics.trackedKeys.join("; ") || "absent"}`,
      );
      const failing = [
        ...verdicts.flatMap((v) => v.verdict.violations),
        ...planProblems,
        ...foreignChanges,
        ...metrics.conflictCounts,
        ...metrics.trackedKeysOverBound,
      ];
      if (failing.length || patcherWrites.some(([, c]) => c.secrets + c.serviceaccounts + c.events > 0)) {
        log(
          `last operations:\n  ${scenario.ops
            .slice(-40)
            .map((o) => `+${(o.at / 1000).toFixed(1)}s ${o.kind}: ${o.detail}`)
            .join("\n  ")}`,
        );
        for (const m of scenario.fleet.members.values()) {
          const warnings = m.history
            .flatMap((p) => p.logs())
            .filter((l) => l.level === "warn" || l.level === "error" || (typeof l.level === "number" && l.level >= 40));
          log(
            `${m.id}: ${m.starts} start(s), ${warnings.length} warn/error lines; last: ${warnings
              .slice(-5)
              .map((l) => JSON.stringify(l))
              .join("\n    ")}`,
          );
        }
      }

      // --- Invariants. Soft, so one run reports every broken invariant; each names the seed.
      for (const { at, verdict: v } of verdicts) {
        expect
          .soft(
            v.violations,
            `${SEED}: cluster state ${at} differs from what the final configs demand (${v.namespaces} namespaces checked)`,
          )
          .toEqual([]);
      }
      expect
        .soft(
          final.staleRecords,
          `${SEED}: every record in imagepullsecret-patcher.io/added names an instance and mapping that still selects the namespace for that name`,
        )
        .toEqual([]);
      expect
        .soft(
          planProblems,
          `${SEED}: each instance's own plan after convergence: nothing left to do, exactly the expected conflicts reported`,
        )
        .toEqual([]);
      expect
        .soft(
          metrics.conflictCounts,
          `${SEED}: conflicts reported by the running engines (metric imagepullsecret_patcher_namespaces{state="conflicting"})`,
        )
        .toEqual([]);
      expect
        .soft(
          foreignChanges,
          `${SEED}: objects the patchers do not own must not change (data, labels, annotations, resourceVersion)`,
        )
        .toEqual([]);
      const dupes = final.violations.filter((v) => v.startsWith("duplicate imagePullSecrets"));
      expect.soft(dupes, `${SEED}: no duplicate entries in any imagePullSecrets`).toEqual([]);
      for (const [user, c] of patcherWrites) {
        expect
          .soft(
            c.secrets + c.serviceaccounts,
            `${SEED}: ${users.get(user)} wrote Secrets/ServiceAccounts during the ${QUIET_MS / 1000} s after convergence: ${JSON.stringify(c)}; top: ${windowTop.slice(0, 5).join(" | ")}`,
          )
          .toBe(0);
        expect
          .soft(c.events, `${SEED}: ${users.get(user)} wrote Events during the ${QUIET_MS / 1000} s after convergence`)
          .toBe(0);
      }
      expect
        .soft(
          metrics.trackedKeysMissing,
          `${SEED}: metric ${TRACKED_KEYS_METRIC} (gauge by map) is not exported by ${metrics.trackedKeysMissing.join(", ")}; the engine's internal map sizes cannot be checked`,
        )
        .toEqual([]);
      expect
        .soft(metrics.trackedKeysOverBound, `${SEED}: engine maps must be bounded by namespaces × mappings + slack`)
        .toEqual([]);
      expect
        .soft(scenario.fleet.allOutput(), `${SEED}: patcher output must not contain credentials`)
        .not.toContain(TEST_PASSWORD_PREFIX);
    },
    (SECONDS + 420) * 1000,
  );
});
