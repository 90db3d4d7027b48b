import type { KubeConfig } from "@kubernetes/client-node";
import {
  DefaultServiceAccountStrategy,
  AllServiceAccountsStrategy,
  Engine,
  NamedServiceAccountsStrategy,
  fileSourceFactory,
  secretSourceFactory,
  silentLogger,
  type Logger,
  type Mapping,
  type MappingStatus,
  type PatchStrategy,
  type SourceProvider,
} from "@imagepullsecret-patcher/core";
import { AnnotatedNamespaceSelector, PULL_SECRETS_ANNOTATION } from "./annotated-selector.js";

/** Where the credential comes from: a Secret in the cluster, a file, or any SourceProvider you built. */
export type CredentialSource =
  | { readonly secret: { readonly namespace: string; readonly name: string } }
  | { readonly file: { readonly path: string } }
  | { readonly provider: SourceProvider };

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** Aborting it stops the controller; {@link RunningController.done} then resolves. */
  readonly signal: AbortSignal;
  readonly source: CredentialSource;
  /** Name of the copies. Default `example-pull-secret`. */
  readonly secretName?: string | undefined;
  /** Opt-in annotation. Default {@link PULL_SECRETS_ANNOTATION}. */
  readonly annotation?: string | undefined;
  /** Which ServiceAccounts get the reference. Default `default`. */
  readonly serviceAccounts?: "default" | "all" | readonly string[] | undefined;
  /** Default: silent. Pass your own (see createJsonLogger). */
  readonly logger?: Logger | undefined;
  /** Labels this controller's copies, so it never touches another installation's. Default `example-embedded`. */
  readonly instance?: string | undefined;
  /** Full re-check of every namespace from cache; 0 disables. Default 10 min. */
  readonly resyncIntervalMs?: number | undefined;
  /** Write Kubernetes Events on conflicts and failures. Default true. */
  readonly recordEvents?: boolean | undefined;
  /** Asked before every write; false means the write is not sent (HA mode: `() => elector.isLeader`). */
  readonly canWrite?: (() => boolean) | undefined;
}

export interface RunningController {
  readonly engine: Engine;
  readonly mapping: Mapping;
  /** Per-mapping counts: namespaces in scope, in sync, failing… */
  status(): MappingStatus[];
  /** Resolves once the engine has stopped (after the signal aborted); rejects if it failed. */
  readonly done: Promise<void>;
}

export const DEFAULT_SECRET_NAME = "example-pull-secret";
const MAPPING_NAME = "annotated";

function strategyFor(choice: ControllerOptions["serviceAccounts"]): PatchStrategy {
  if (choice === undefined || choice === "default") return new DefaultServiceAccountStrategy();
  if (choice === "all") return new AllServiceAccountsStrategy();
  return new NamedServiceAccountsStrategy({ names: choice });
}

function sourceFor(spec: CredentialSource, kubeConfig: KubeConfig, logger: Logger): SourceProvider {
  if ("provider" in spec) return spec.provider;
  const context = { logger: logger.child({ mapping: MAPPING_NAME }), kubeConfig, mappingName: MAPPING_NAME };
  // The built-in factories validate a config the same way the patcher app does.
  if ("secret" in spec) return secretSourceFactory.create(secretSourceFactory.validate(spec.secret), context);
  return fileSourceFactory.create(fileSourceFactory.validate(spec.file), context);
}

/**
 * Runs the engine inside your program: copies the credential into every namespace annotated
 * `example.com/pull-secrets: "true"` and references it from their ServiceAccounts, until `signal`
 * aborts. Resolves once the caches have synced (or the signal aborted first); the returned `done`
 * settles when the engine has stopped. No globals, no `process.exit`, no signal handlers: the
 * program that embeds it owns the process.
 *
 * ```ts
 * const stop = new AbortController();
 * const controller = await startController({ kubeConfig, signal: stop.signal, source: { secret: { namespace: "kube-system", name: "regcred" } } });
 * // ... later
 * stop.abort();
 * await controller.done;
 * ```
 */
export async function startController(options: ControllerOptions): Promise<RunningController> {
  const logger = options.logger ?? silentLogger;
  const mapping: Mapping = {
    name: MAPPING_NAME,
    secretName: options.secretName ?? DEFAULT_SECRET_NAME,
    source: sourceFor(options.source, options.kubeConfig, logger),
    selector: new AnnotatedNamespaceSelector(options.annotation ?? PULL_SECRETS_ANNOTATION),
    strategy: strategyFor(options.serviceAccounts),
    conflictPolicy: "skip",
  };
  const engine = new Engine({
    kubeConfig: options.kubeConfig,
    mappings: [mapping],
    logger,
    instance: options.instance ?? "example-embedded",
    resyncIntervalMs: options.resyncIntervalMs,
    recordEvents: options.recordEvents,
    canWrite: options.canWrite,
  });
  logger.info(
    { selector: mapping.selector.description, source: mapping.source.description, secretName: mapping.secretName },
    "controller starting",
  );
  const done = engine.run(options.signal).then(() => logger.info({}, "controller stopped"));
  // Either the caches sync (waitForSync also resolves when the signal aborts) or the engine stops first.
  await Promise.race([engine.waitForSync(options.signal), done]);
  if (!options.signal.aborted) logger.info({ status: engine.status() }, "controller synced");
  return { engine, mapping, status: () => engine.status(), done };
}
