// @imagepullsecret-patcher/example-embedded-controller: the engine inside your own program.
export {
  startController,
  DEFAULT_SECRET_NAME,
  type ControllerOptions,
  type CredentialSource,
  type RunningController,
} from "./controller.js";
export {
  startElectedController,
  DEFAULT_LEASE_NAME,
  type ElectedController,
  type ElectedControllerOptions,
  type LeaderElectionOptions,
} from "./elected.js";
export { AnnotatedNamespaceSelector, PULL_SECRETS_ANNOTATION } from "./annotated-selector.js";
export { createJsonLogger, type JsonLoggerOptions, type LogLevel } from "./logger.js";
export { runCli, parseCli, UsageError, USAGE, type CliIo, type ParsedArgs } from "./cli.js";
