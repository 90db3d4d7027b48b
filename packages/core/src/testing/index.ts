// Public API of @imagepullsecret-patcher/core/testing: the plugin contract test kit.
//
// Run it from any plugin's own tests (vitest by default, an optional peer dependency; any runner
// with describe/it through `testApi`):
//
//   import { describeSourceProviderContract } from "@imagepullsecret-patcher/core/testing";
//   describeSourceProviderContract("my source", makeHarness);
//
// Importing this entry never requires vitest: the `*Checks` functions return the checks to run
// in any other way.

export { ContractViolation, deepFreeze } from "./assert.js";
export { resolveTestApi, DEFAULT_CONTRACT_TIMEOUT_MS, type TestApi } from "./runner.js";
export {
  describeSourceProviderContract,
  sourceProviderChecks,
  type ContractCheck,
  type ServeOptions,
  type SourceContractOptions,
  type SourceHarness,
  type SourceHarnessFactory,
} from "./source-contract.js";
export {
  describeTargetSelectorContract,
  describePatchStrategyContract,
  targetSelectorChecks,
  patchStrategyChecks,
  type PatchStrategySubject,
  type PureContractOptions,
  type TargetSelectorSubject,
} from "./pure-contract.js";
export {
  describePluginFactoryContract,
  pluginFactoryChecks,
  type AnyPluginFactory,
  type InvalidConfig,
  type PluginFactorySubject,
} from "./factory-contract.js";
export {
  SAMPLE_REGISTRY,
  SAMPLE_USER,
  sampleDockerConfigJson,
  sampleNamespaces,
  sampleServiceAccounts,
  namespaceView,
  serviceAccountView,
} from "./samples.js";
// Time control for sources built on PollingSource: pass `clock` to the source, move time by hand.
export { ManualClock, flushAsync, type PollingClock, type PollingTimer } from "../sources/polling/clock.js";
