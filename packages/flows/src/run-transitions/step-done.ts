import type { StepRunOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/** `StepRun`: a step's code ran and returned; its result is memoized. */
export function stepDone(
  run: RunRecord,
  op: StepRunOp,
  env: Pick<TransitionEnv, "now">,
): OpOutcome {
  const existing = run.steps[op.id];
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: op.kind ?? "run",
      status: "completed",
      attempts: (existing?.attempts ?? 0) + 1,
      startedAt: op.timing?.startedAt ?? env.now,
      endedAt: op.timing?.endedAt ?? env.now,
      output: op.data === undefined ? null : op.data,
      ...(op.input === undefined ? {} : { input: op.input }),
      ...(existing?.errors ? { errors: existing.errors } : {}),
    },
    true,
  );
  return { run: next, progressed: true, retryScheduled: false, effects: noEffects() };
}
