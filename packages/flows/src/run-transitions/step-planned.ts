import type { StepPlannedOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { noEffects, type OpOutcome, withStep } from "./transition.js";

/** `StepPlanned`: a step found next to others; it runs as its own queue item. */
export function stepPlanned(run: RunRecord, op: StepPlannedOp): OpOutcome {
  const existing = run.steps[op.id];
  if (existing?.status === "planned")
    return { run, progressed: false, retryScheduled: false, effects: noEffects() };
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "run",
      status: "planned",
      attempts: existing?.attempts ?? 0,
      ...(op.race ? { race: true } : {}),
    },
    false,
  );
  return { run: next, progressed: true, retryScheduled: false, effects: noEffects() };
}
