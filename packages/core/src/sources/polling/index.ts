export {
  PollingSource,
  createPollingSource,
  refreshDelay,
  backoffDelay,
  EXPIRY_REFRESH_FRACTION,
  EXPIRY_JITTER_FRACTION,
  EXPIRY_SAFETY_MARGIN_MS,
  DEFAULT_INITIAL_BACKOFF_MS,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_MIN_DELAY_MS,
  type PolledValue,
  type PollFetch,
  type PollingSourceOptions,
} from "./polling-source.js";
export { SourceStateMachine, type SourceTransition } from "./source-state.js";
export { SourceFetchError, describeSourceError } from "./errors.js";
export { redactSecrets } from "../../util/errors.js";
export { systemClock, ManualClock, flushAsync, MAX_TIMER_MS, type PollingClock, type PollingTimer } from "./clock.js";
