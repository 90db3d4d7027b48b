// The clock sources schedule with is the shared one in util; these names stay for plugin authors
// who import them from here (and for `@imagepullsecret-patcher/core/testing`).
export {
  type Clock as PollingClock,
  type Timer as PollingTimer,
  MAX_TIMER_MS,
  systemClock,
  ManualClock,
  flushAsync,
} from "../../util/clock.js";
