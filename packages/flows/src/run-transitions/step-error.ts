import { backoffDelay } from "../backoff.js";
import type { StepErrorOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { stepAttempt, stepFailed } from "./step-failed.js";
import {
  keepErrors,
  noEffects,
  type OpOutcome,
  type TransitionEnv,
  type TransitionMode,
  withStep,
} from "./transition.js";

/**
 * `StepError`: a step's code threw. While attempts remain it is retried after backoff (or at the
 * error's `retryAt`): found by a discovery, the discovery waits; a planned step waits itself.
 * Out of attempts, it fails like `StepFailed`.
 */
export function stepError(
  run: RunRecord,
  op: StepErrorOp,
  mode: TransitionMode,
  env: TransitionEnv,
): OpOutcome {
  const attempt = stepAttempt(run, op.id, mode);
  if (attempt + 1 >= env.maxAttempts) return stepFailed(run, op, mode, env);
  const at = op.retryAt ?? env.now + backoffDelay(env.backoff, attempt, env.random);
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "run",
      status: mode === "discover" ? "errored" : "planned",
      attempts: attempt + 1,
      at,
      errors: keepErrors(run.steps[op.id], op.error),
      ...(op.timing ? { startedAt: op.timing.startedAt } : {}),
      ...(run.steps[op.id]?.race ? { race: true } : {}),
      ...(run.steps[op.id]?.raceLost ? { raceLost: true } : {}),
    },
    false,
  );
  if (mode === "discover") {
    next.attempt = attempt + 1;
    next.nextAt = at;
  }
  return { run: next, progressed: false, retryScheduled: true, effects: noEffects() };
}
