import type { StepErrorOp, StepFailedOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import {
  keepErrors,
  noEffects,
  type OpOutcome,
  type TransitionEnv,
  type TransitionMode,
  withStep,
} from "./transition.js";

/** The attempt a step error counts against: the discovery's, or the planned step's own. */
export function stepAttempt(run: RunRecord, hash: string, mode: TransitionMode): number {
  return mode === "discover" ? run.attempt : (run.steps[hash]?.attempts ?? 0);
}

/**
 * `StepFailed` (and a `StepError` out of attempts): the step failed for good; the handler gets
 * a `StepError` for it on the next discovery.
 */
export function stepFailed(
  run: RunRecord,
  op: StepFailedOp | StepErrorOp,
  mode: TransitionMode,
  env: Pick<TransitionEnv, "now">,
): OpOutcome {
  const existing = run.steps[op.id];
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "run",
      status: "failed",
      attempts: stepAttempt(run, op.id, mode) + 1,
      error: op.error,
      errors: keepErrors(existing, op.error),
      startedAt: op.timing?.startedAt ?? env.now,
      endedAt: op.timing?.endedAt ?? env.now,
    },
    true,
  );
  return { run: next, progressed: true, retryScheduled: false, effects: noEffects() };
}
