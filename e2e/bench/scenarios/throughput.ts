// Scenario 5: client throughput. For each controller setting: reset to "no copies, no
// references", then a cold start again.
import type { ControllerSettings } from "../patcher.ts";
import { coldStart } from "./cold-start.ts";
import type { BenchEnv } from "./common.ts";
import { resetToCold } from "./population.ts";
import type { ThroughputRun } from "./results.ts";

/** Appends each run to `runs` as it completes, so a failure keeps the runs before it. */
export async function throughput(
  env: BenchEnv,
  settings: readonly ControllerSettings[],
  runs: ThroughputRun[],
): Promise<void> {
  for (const [i, s] of settings.entries()) {
    const reset = await resetToCold(env);
    const r = await coldStart(env, s, `throughput-${i + 1}`);
    runs.push({ ...r, reset });
  }
}
