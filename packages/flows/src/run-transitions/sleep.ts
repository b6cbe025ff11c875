import type { SleepOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/** `Sleep`: the run sleeps until `op.until`; a timer item wakes it. */
export function sleep(run: RunRecord, op: SleepOp, env: Pick<TransitionEnv, "now">): OpOutcome {
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "sleep",
      status: "sleeping",
      attempts: 0,
      startedAt: env.now,
      at: op.until,
    },
    false,
  );
  return { run: next, progressed: true, retryScheduled: false, effects: noEffects() };
}
