// The benchmark's command line.
import { join, resolve } from "node:path";
import { DEFAULT_SETTINGS, FAST_SETTINGS, parseSettings, settingsLabel, type ControllerSettings } from "./patcher.ts";

export const ALL_SCENARIOS = ["ceiling", "cold", "idle", "latency", "rotation", "throughput", "sources"] as const;
export type Scenario = (typeof ALL_SCENARIOS)[number];

export interface Args {
  n: number;
  idleMinutes: number;
  latencyCount: number;
  latencyRate: number;
  scenarios: Set<Scenario>;
  out: string;
  check: boolean;
  throughput: ControllerSettings[];
  /** The first cold start's controller settings (default: the patcher's defaults). */
  settings: ControllerSettings;
  concurrency: number;
  leaderElection: boolean;
  waitQuiet: boolean;
  workDir: string;
  keepCluster: boolean;
  patcherNodeArgs: string[];
}

// The cold start already runs the defaults; the throughput scenario adds the fast setting.
const DEFAULT_THROUGHPUT = settingsLabel(FAST_SETTINGS);

export const HELP = `usage: pnpm bench -- [options]
  --n N                  namespaces created before the cold start (default 1000)
  --idle-minutes D       idle scenario length (default 5)
  --latency-count M      namespaces created one at a time for the latency scenario (default 200)
  --latency-rate R       namespaces per second in the latency scenario (default 5)
  --scenarios LIST       comma-separated: ${ALL_SCENARIOS.join(",")} (default: all; cold always runs,
                         the others start from its converged state; ceiling runs before it;
                         sources runs last: a patcher per source kind, secret, ecr, gcp and acr against
                         local stand-ins, for the RSS with and without a cloud source)
  --throughput S[;S...]  controller settings compared in the throughput scenario, each a cold start
                         after a reset (default "${DEFAULT_THROUGHPUT}")
  --settings S           controller settings of the first cold start (default "${settingsLabel(DEFAULT_SETTINGS)}";
                         "fast" is "${settingsLabel(FAST_SETTINGS)}")
  --concurrency C        namespace creations in flight (default 20)
  --no-leader-election   run the patcher without leader election (default: on, as the Helm chart)
  --wait-quiet           wait until no "go build" runs on the machine before starting
  --work-dir DIR         control-plane state, audit log, patcher logs (default .e2e/bench/<name>)
  --keep-cluster         leave the control plane running at the end
  --patcher-node-args A  extra node arguments for the patcher (experiments, e.g. "--import FILE");
                         results of such runs are not the patcher as shipped
  --out FILE             JSON results (default bench-results/<name>.json); a .md summary goes next to it
  --check                CI mode: N=100, idle 0.5 min, latency 20, no throughput; exits 1 unless the
                         write counts are exact (cold 2 per namespace, idle 0, latency 2 per namespace,
                         rotation 1 Secret update per copy and 0 ServiceAccount writes), the patcher's
                         connections stay within workers + watches + slack and its peak RSS under
                         the ceiling in checks.ts
The patcher runs as shipped: apps/patcher/dist/bundle/main.mjs (bundled when missing or stale) with
the Node flags of apps/patcher/node-flags.json.`;

const BOOLEANS = new Set(["check", "no-leader-election", "wait-quiet", "keep-cluster"]);
const KNOWN = new Set([
  ...BOOLEANS,
  "n",
  "idle-minutes",
  "latency-count",
  "latency-rate",
  "scenarios",
  "out",
  "throughput",
  "settings",
  "concurrency",
  "work-dir",
  "patcher-node-args",
]);

type Flags = Map<string, string | true>;

/** `--key value`, `--key=value` and boolean `--key`; `--help` prints the usage and exits. */
function readFlags(argv: string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") continue;
    if (a === "-h" || a === "--help") {
      process.stdout.write(`${HELP}\n`);
      process.exit(0);
    }
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}\n${HELP}`);
    const [key, inline] = a.slice(2).split("=", 2) as [string, string | undefined];
    if (!KNOWN.has(key)) throw new Error(`unknown option --${key}\n${HELP}`);
    if (BOOLEANS.has(key)) flags.set(key, true);
    else if (inline !== undefined) flags.set(key, inline);
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      flags.set(key, v);
    }
  }
  return flags;
}

function text(flags: Flags, key: string, fallback: string): string {
  const v = flags.get(key);
  return typeof v === "string" ? v : fallback;
}

function num(flags: Flags, key: string, fallback: number): number {
  const v = flags.get(key);
  if (typeof v !== "string") return fallback;
  const n = Number(v);
  if (!(n >= 0)) throw new Error(`--${key} must be a number`);
  return n;
}

/** The scenarios named; cold always runs (the others start from its converged state). */
function scenarioList(value: string): Set<Scenario> {
  const scenarios = new Set<Scenario>();
  for (const s of value.split(",").map((x) => x.trim())) {
    if (!s) continue;
    if (!(ALL_SCENARIOS as readonly string[]).includes(s))
      throw new Error(`unknown scenario ${s} (${ALL_SCENARIOS.join(", ")})`);
    scenarios.add(s as Scenario);
  }
  return scenarios.add("cold");
}

function coldSettings(value: string): ControllerSettings {
  if (value === "fast") return FAST_SETTINGS;
  return value ? parseSettings(value) : DEFAULT_SETTINGS;
}

/** `--check` changes the defaults: a small run whose counts CI can assert. */
export function parseArgs(argv: string[], repo: string): Args {
  const flags = readFlags(argv);
  const check = flags.get("check") === true;
  const n = num(flags, "n", check ? 100 : 1000);
  const name = check ? "check" : `n${n}`;
  return {
    n,
    idleMinutes: num(flags, "idle-minutes", check ? 0.5 : 5),
    latencyCount: num(flags, "latency-count", check ? 20 : 200),
    latencyRate: num(flags, "latency-rate", 5),
    scenarios: scenarioList(
      text(flags, "scenarios", check ? "ceiling,cold,idle,latency,rotation" : ALL_SCENARIOS.join(",")),
    ),
    out: resolve(process.cwd(), text(flags, "out", `bench-results/${name}.json`)),
    check,
    throughput: text(flags, "throughput", DEFAULT_THROUGHPUT)
      .split(";")
      .filter((s) => s.trim())
      .map(parseSettings),
    settings: coldSettings(text(flags, "settings", "")),
    concurrency: num(flags, "concurrency", 20),
    leaderElection: flags.get("no-leader-election") !== true,
    waitQuiet: flags.get("wait-quiet") === true,
    workDir: resolve(text(flags, "work-dir", join(repo, ".e2e", "bench", `${name}-${process.pid}`))),
    keepCluster: flags.get("keep-cluster") === true,
    patcherNodeArgs: text(flags, "patcher-node-args", "")
      .split(" ")
      .filter(Boolean)
      .map((a) => (a.startsWith("./") ? resolve(process.cwd(), a) : a)),
  };
}
