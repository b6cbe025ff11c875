import { backoffDelay } from "../backoff.js";
import type { SerializedError } from "../errors.js";
import type { RunRecord } from "../run-state.js";
import { finishRun } from "./finish.js";
import {
  draftOf,
  keepErrors,
  noEffects,
  plannedHash,
  type Transition,
  type TransitionEnv,
  type TransitionMode,
} from "./transition.js";

/** The driver's `error` response (the handler threw outside a step, or the call failed). */
export interface FunctionError {
  readonly error: SerializedError;
  readonly retriable: boolean;
  readonly retryAt?: number;
}

/**
 * The handler failed: retried after backoff (the planned step's attempt, or the discovery's)
 * while attempts remain and the error is retriable, otherwise the run fails.
 */
export function functionError(
  run: RunRecord,
  failure: FunctionError,
  mode: TransitionMode,
  env: TransitionEnv,
): Transition {
  const hash = plannedHash(mode);
  const planned = hash === undefined ? undefined : run.steps[hash];
  const attempt = planned ? planned.attempts : run.attempt;
  if (!failure.retriable || attempt + 1 >= env.maxAttempts) {
    const finished = finishRun(run, "failed", { error: failure.error }, env.now);
    return { run: finished.run, effects: { ...noEffects(), ops: finished.ops } };
  }
  const at = failure.retryAt ?? env.now + backoffDelay(env.backoff, attempt, env.random);
  const next = draftOf(run);
  if (planned && hash !== undefined) {
    next.steps[hash] = {
      ...planned,
      attempts: attempt + 1,
      at,
      errors: keepErrors(planned, failure.error),
    };
  } else {
    next.attempt = attempt + 1;
    next.nextAt = at;
    next.error = failure.error;
  }
  return { run: next, effects: noEffects() };
}
