import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { resolveTimings, shareConnections } from "@imagepullsecret-patcher/core";
import { startController, DEFAULT_SECRET_NAME, type CredentialSource } from "./controller.js";
import { startElectedController, DEFAULT_LEASE_NAME, type LeaderElectionOptions } from "./elected.js";
import { createJsonLogger, type LogLevel } from "./logger.js";
import { PULL_SECRETS_ANNOTATION } from "./annotated-selector.js";

export const USAGE = `usage: example-embedded-controller [--kubeconfig FILE] [--context NAME]
         (--source-secret NAMESPACE/NAME | --source-file PATH)
         [--secret-name NAME] [--annotation KEY] [--service-accounts default|all|a,b] [--log-level debug|info|warn|error]
         [--leader-elect --lease-namespace NAMESPACE [--lease-name NAME] [--identity ID]
          [--lease-duration SECONDS] [--renew-deadline SECONDS] [--retry-period SECONDS]]

Copies a registry credential into every namespace annotated ${PULL_SECRETS_ANNOTATION}: "true"
and adds it to the ServiceAccounts' imagePullSecrets, until SIGINT or SIGTERM.
Without --kubeconfig it uses in-cluster credentials, else KUBECONFIG or ~/.kube/config.
With --leader-elect, replicas sharing the Lease NAMESPACE/NAME (default ${DEFAULT_LEASE_NAME}) elect
one leader, and only the leader runs the engine (defaults: 15 s lease, 10 s renew deadline, 2 s retry).
`;

export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Aborts on SIGINT/SIGTERM in main.ts; tests pass their own. */
  readonly signal: AbortSignal;
  /** Builds the KubeConfig (tests replace it). */
  readonly loadKubeConfig?: ((file: string | undefined, context: string | undefined) => KubeConfig) | undefined;
}

export interface ParsedArgs {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  source: CredentialSource;
  secretName: string;
  annotation: string;
  serviceAccounts: "default" | "all" | string[];
  logLevel: LogLevel;
  /** Set with --leader-elect. */
  leaderElection?: LeaderElectionOptions | undefined;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

export function parseCli(argv: readonly string[]): ParsedArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: "string" },
        context: { type: "string" },
        "source-secret": { type: "string" },
        "source-file": { type: "string" },
        "secret-name": { type: "string", default: DEFAULT_SECRET_NAME },
        annotation: { type: "string", default: PULL_SECRETS_ANNOTATION },
        "service-accounts": { type: "string", default: "default" },
        "log-level": { type: "string", default: "info" },
        "leader-elect": { type: "boolean", default: false },
        "lease-namespace": { type: "string" },
        "lease-name": { type: "string", default: DEFAULT_LEASE_NAME },
        identity: { type: "string" },
        "lease-duration": { type: "string" },
        "renew-deadline": { type: "string" },
        "retry-period": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return "help";
  const secret = values["source-secret"];
  const file = values["source-file"];
  if ((secret === undefined) === (file === undefined))
    throw new UsageError("give exactly one of --source-secret NAMESPACE/NAME or --source-file PATH");
  let source: CredentialSource;
  if (secret !== undefined) {
    const [namespace, name, ...rest] = secret.split("/");
    if (!namespace || !name || rest.length)
      throw new UsageError(`--source-secret must be NAMESPACE/NAME, got "${secret}"`);
    source = { secret: { namespace, name } };
  } else {
    source = { file: { path: file ?? "" } };
  }
  const level = values["log-level"] as LogLevel;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const sa = values["service-accounts"];
  const serviceAccounts =
    sa === "default" || sa === "all"
      ? sa
      : sa
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
  if (Array.isArray(serviceAccounts) && serviceAccounts.length === 0)
    throw new UsageError("--service-accounts needs default, all or a list of names");
  return {
    kubeconfig: values.kubeconfig,
    context: values.context,
    source,
    secretName: values["secret-name"],
    annotation: values.annotation,
    serviceAccounts,
    logLevel: level,
    leaderElection: parseLeaderElection(values),
  };
}

interface ElectionFlags {
  "leader-elect": boolean;
  "lease-namespace"?: string | undefined;
  "lease-name": string;
  identity?: string | undefined;
  "lease-duration"?: string | undefined;
  "renew-deadline"?: string | undefined;
  "retry-period"?: string | undefined;
}

/** Seconds (decimals allowed) as milliseconds. */
function seconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n))
    throw new UsageError(`--${flag} must be a positive number of seconds, got "${value}"`);
  return Math.round(n * 1000);
}

function parseLeaderElection(values: ElectionFlags): LeaderElectionOptions | undefined {
  const namespace = values["lease-namespace"];
  if (!values["leader-elect"]) {
    const stray = (["lease-namespace", "identity", "lease-duration", "renew-deadline", "retry-period"] as const).find(
      (f) => values[f] !== undefined,
    );
    if (stray) throw new UsageError(`--${stray} needs --leader-elect`);
    return undefined;
  }
  if (!namespace)
    throw new UsageError("--leader-elect needs --lease-namespace NAMESPACE (in a Pod: its own namespace)");
  const timings = {
    leaseDurationMs: seconds("lease-duration", values["lease-duration"]),
    renewDeadlineMs: seconds("renew-deadline", values["renew-deadline"]),
    retryPeriodMs: seconds("retry-period", values["retry-period"]),
  };
  try {
    resolveTimings(timings); // the elector's own checks, reported as a usage error
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { namespace, name: values["lease-name"], identity: values.identity, ...timings };
}

function defaultKubeConfig(file: string | undefined, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  // One keep-alive connection pool for every client and watch, instead of a connection per request.
  shareConnections(kc);
  return kc;
}

/** The whole program; resolves with the exit code (0 stopped cleanly, 1 failed, 2 usage). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let args: ParsedArgs | "help";
  try {
    args = parseCli(argv);
  } catch (err) {
    io.stderr.write(`error: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  const logger = createJsonLogger({
    stream: io.stdout,
    level: args.logLevel,
    fields: { app: "example-embedded-controller" },
  });
  try {
    const kubeConfig = (io.loadKubeConfig ?? defaultKubeConfig)(args.kubeconfig, args.context);
    const options = {
      kubeConfig,
      signal: io.signal,
      source: args.source,
      secretName: args.secretName,
      annotation: args.annotation,
      serviceAccounts: args.serviceAccounts,
      logger,
    };
    if (args.leaderElection) await startElectedController({ ...options, leaderElection: args.leaderElection }).done;
    else await (await startController(options)).done;
    return 0;
  } catch (err) {
    logger.error({ error: err instanceof Error ? err.message : String(err) }, "controller failed");
    return 1;
  }
}
