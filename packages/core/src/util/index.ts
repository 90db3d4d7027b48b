export { type Clock, type Timer, MAX_TIMER_MS, clampTimerMs, systemClock, ManualClock, flushAsync } from "./clock.js";
export { sleep, sleepOn } from "./sleep.js";
export { type BackoffPolicy, backoffDelay } from "./backoff.js";
export { GO_DURATION_PATTERN, parseGoDuration } from "./duration.js";
export { describeError, errorCode, redactSecrets, clip, statusBody, httpStatus } from "./errors.js";
