// Public API of @imagepullsecret-patcher/core. Anything not exported here is internal.

// Credentials
export {
  parseDockerConfigJson,
  InvalidCredentialError,
  MAX_SECRET_BYTES,
  sha256,
  type DockerConfigJson,
} from "./credentials/docker-config.js";
export {
  probeRegistryLogin,
  registryApiHost,
  DEFAULT_PROBE_TIMEOUT_MS,
  type ProbeResult,
  type RegistryProbeEntry,
  type RegistryProbeOptions,
} from "./probe/registry-probe.js";

// Plugin contracts and registries
export {
  PluginConfigError,
  type NamespaceView,
  type ServiceAccountView,
  type SourceValue,
  type SourceState,
  type SourceStatus,
  type SourceProvider,
  type TargetSelector,
  type PatchStrategy,
  type PluginContext,
  type PluginFactory,
  type SourceFactory,
  type SelectorFactory,
  type StrategyFactory,
  type PluginPackage,
} from "./plugins/contracts.js";
export { PluginRegistry, UnknownPluginTypeError } from "./plugins/registry.js";
export { silentLogger, type Logger } from "./logging/logger.js";

// Built-in sources
export { SecretSource, secretSourceFactory, type SecretSourceConfig } from "./sources/secret/secret-source.js";
export { FileSource, fileSourceFactory, type FileSourceConfig } from "./sources/file/file-source.js";
export { VaultSource, vaultSourceFactory, type VaultSourceConfig } from "./sources/vault/index.js";
export {
  MergedSource,
  mergeAuths,
  registryHost,
  type MergedSourceOptions,
  type HostConflict,
  type MergePart,
  type MergedAuths,
} from "./sources/merged/index.js";
export {
  PollingSource,
  createPollingSource,
  SourceStateMachine,
  SourceFetchError,
  describeSourceError,
  type SourceTransition,
  type PolledValue,
  type PollFetch,
  type PollingSourceOptions,
} from "./sources/polling/index.js";

// Built-in selectors and strategies
export {
  AllNamespacesSelector,
  AnnotationNamespaceSelector,
  LabelNamespaceSelector,
  NamespaceListSelector,
  allSelectorFactory,
  annotationSelectorFactory,
  labelSelectorFactory,
  listSelectorFactory,
  builtinSelectorFactories,
  MAPPING_ANNOTATION,
  OPT_OUT_ANNOTATION,
  hasOptOutAnnotation,
  mappingNamesIn,
  selects,
  type AnnotationSelectorConfig,
  compileLabelSelector,
  LabelSelectorError,
  type CompiledLabelSelector,
  type StructuredSelector,
} from "./selectors/index.js";
export {
  DefaultServiceAccountStrategy,
  AllServiceAccountsStrategy,
  NamedServiceAccountsStrategy,
  LabelSelectorStrategy,
  defaultStrategyFactory,
  allStrategyFactory,
  namedStrategyFactory,
  selectorStrategyFactory,
  builtinStrategyFactories,
  strategyFromShorthand,
} from "./strategies/index.js";

// Mappings
export {
  buildMappings,
  builtinRegistries,
  ConfigError,
  type BuildOptions,
  type MappingConfig,
  type Registries,
} from "./mappings/build.js";
export { didYouMean } from "./mappings/errors.js";

// Engine
export {
  Engine,
  type Mapping,
  type EngineOptions,
  type EngineObserver,
  type KeyStatus,
  type MappingStatus,
  type TrackedCounts,
} from "./engine/engine.js";
export { coreV1Writer, WriteRefusedError, type ClusterWriter } from "./engine/apply.js";
export {
  planKey,
  type Plan,
  type Action,
  type Outcome,
  type ConflictPolicy,
  type KeyState,
  type MappingPolicy,
} from "./engine/plan.js";
export {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  MAPPING_LABEL,
  INSTANCE_LABEL,
  SOURCE_HASH_ANNOTATION,
  ADDED_ANNOTATION,
  ADOPT_ANNOTATION,
  EXCLUDE_ANNOTATION,
  addedRecords,
  formatRecords,
  type AddedRecord,
} from "./engine/ownership.js";
export { WorkQueue, type HandlerResult, type QueueObserver, type WorkQueueOptions } from "./queue/work-queue.js";
export { classifyApiError, type ApiErrorKind, type ClassifiedError } from "./kube/errors.js";
export { shareConnections, type SharedConnections, type ShareConnectionsOptions } from "./kube/connections.js";

// Utilities
export { parseGoDuration, GO_DURATION_PATTERN } from "./util/duration.js";
export { sleep } from "./util/sleep.js";

// Leader election
export {
  LeaderElector,
  LeaseLock,
  InMemoryLock,
  LeadershipEnded,
  LeaderElectionError,
  MicroTime,
  formatMicroTime,
  parseMicroTime,
  defaultIdentity,
  resolveTimings,
  DEFAULT_ELECTION_TIMINGS,
  type LeaderElectorOptions,
  type LeaderCallbacks,
  type LeaderObserver,
  type LeaderElectionRecord,
  type ResourceLock,
  type VersionedRecord,
  type LeaseLockOptions,
  type ElectionTimings,
  type ElectorState,
} from "./leader/index.js";

// Pod admission webhook (pure parts)
export { type LabelSelector, type LabelSelectorRequirement } from "./plugins/contracts.js";
export { NAMESPACE_NAME_LABEL } from "./selectors/namespace-selector.js";
export {
  imagePullSecretsPatch,
  missingPullSecrets,
  type ImagePullSecretRef,
  type JsonPatchOperation,
} from "./admission/pod-patch.js";
export {
  ADMISSION_REVIEW_API_VERSION,
  parseAdmissionReview,
  admissionResponse,
  reviewPod,
  isReviewError,
  type AdmissionOperation,
  type AdmissionReviewResponse,
  type GroupVersionKind,
  type ParsedReview,
  type PodReviewResult,
  type ReviewError,
} from "./admission/review.js";
export { ReviewFieldError } from "./admission/review-fields.js";
export {
  WEBHOOK_NAME_SUFFIX,
  WEBHOOK_PATH_PREFIX,
  WebhookConfigurationError,
  webhookLabelOf,
  webhookNameOf,
  webhookPathOf,
  webhookLabelInPath,
} from "./admission/webhook-names.js";
export {
  buildMutatingWebhookConfiguration,
  webhookTimeoutSeconds,
  SKIP_LABEL,
  SYSTEM_NAMESPACES,
  DEFAULT_WEBHOOK_TIMEOUT_SECONDS,
  type WebhookClientConfigOption,
  type WebhookMapping,
  type WebhookConfigurationOptions,
  type WebhookClientConfig,
  type MutatingWebhook,
  type MutatingWebhookConfiguration,
} from "./admission/webhook-configuration.js";

// Image-pull diagnostics: Pods whose pull failed for lack of a mapping's copy
export {
  classifyPullFailure,
  PULL_FAILURE_FIELD_SELECTOR,
  PULL_FAILED_REASON,
  PULL_BACKOFF_REASON,
  PULL_WAITING_REASONS,
  type EventFields,
  type PullFailure,
} from "./diagnostics/pull-failure.js";
export {
  diagnosePod,
  podFacts,
  controllerOf,
  RECREATING_CONTROLLERS,
  type Diagnosis,
  type OwnerRef,
  type PodFacts,
  type SelectingMapping,
} from "./diagnostics/diagnosis.js";
export { RecentPods } from "./diagnostics/recent-pods.js";
export { deletionBudget } from "./diagnostics/deletion-budget.js";
export { streamObjects, type ObjectStreamOptions } from "./diagnostics/event-stream.js";
export { TokenBucket } from "./kube/token-bucket.js";
export { EventRecorder, type EventSink, type EventTarget } from "./kube/events.js";
