import { parseArgs } from "node:util";
import { KubeConfig } from "@kubernetes/client-node";
import { startController, DEFAULT_SECRET_NAME, type CredentialSource } from "./controller.js";
import { createJsonLogger, type LogLevel } from "./logger.js";
import { PULL_SECRETS_ANNOTATION } from "./annotated-selector.js";

export const USAGE = `usage: example-embedded-controller [--kubeconfig FILE] [--context NAME]
         (--source-secret NAMESPACE/NAME | --source-file PATH)
         [--secret-name NAME] [--annotation KEY] [--service-accounts default|all|a,b] [--log-level debug|info|warn|error]

Copies a registry credential into every namespace annotated ${PULL_SECRETS_ANNOTATION}: "true"
and adds it to the ServiceAccounts' imagePullSecrets, until SIGINT or SIGTERM.
Without --kubeconfig it uses in-cluster credentials, else KUBECONFIG or ~/.kube/config.
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
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return "help";
  const secret = values["source-secret"];
  const file = values["source-file"];
  if ((secret === undefined) === (file === undefined)) throw new UsageError("give exactly one of --source-secret NAMESPACE/NAME or --source-file PATH");
  let source: CredentialSource;
  if (secret !== undefined) {
    const [namespace, name, ...rest] = secret.split("/");
    if (!namespace || !name || rest.length) throw new UsageError(`--source-secret must be NAMESPACE/NAME, got "${secret}"`);
    source = { secret: { namespace, name } };
  } else {
    source = { file: { path: file ?? "" } };
  }
  const level = values["log-level"] as LogLevel;
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const sa = values["service-accounts"];
  const serviceAccounts = sa === "default" || sa === "all" ? sa : sa.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(serviceAccounts) && serviceAccounts.length === 0) throw new UsageError("--service-accounts needs default, all or a list of names");
  return {
    kubeconfig: values.kubeconfig,
    context: values.context,
    source,
    secretName: values["secret-name"],
    annotation: values.annotation,
    serviceAccounts,
    logLevel: level,
  };
}

function defaultKubeConfig(file: string | undefined, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
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
  const logger = createJsonLogger({ stream: io.stdout, level: args.logLevel, fields: { app: "example-embedded-controller" } });
  try {
    const kubeConfig = (io.loadKubeConfig ?? defaultKubeConfig)(args.kubeconfig, args.context);
    const controller = await startController({
      kubeConfig,
      signal: io.signal,
      source: args.source,
      secretName: args.secretName,
      annotation: args.annotation,
      serviceAccounts: args.serviceAccounts,
      logger,
    });
    await controller.done;
    return 0;
  } catch (err) {
    logger.error({ error: err instanceof Error ? err.message : String(err) }, "controller failed");
    return 1;
  }
}
