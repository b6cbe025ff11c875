import type { SerializedError } from "../errors.js";
import { isPending, type RunRecord, type StepRecord, waitKeys } from "../run-state.js";
import { draftOf, noEffects, progress, type Transition } from "./transition.js";

/** How a pending step ended: with data (an event, a child's output, a wake-up) or an error. */
export type StepOutcome = { readonly data: unknown } | { readonly error: SerializedError };

/**
 * A pending step (a wait, a sleep, an invocation) resolved: memoized, its wait registration
 * removed, and a discovery due once nothing else is pending. Undefined when the step is not
 * pending any more (resolved twice: the second does nothing).
 */
export function resolveStep(
  run: RunRecord,
  hash: string,
  outcome: StepOutcome,
  now: number,
): Transition | undefined {
  const step = run.steps[hash];
  if (!step || !isPending(step)) return undefined;
  const effects = noEffects();
  for (const key of waitKeys(step)) effects.ops.push({ type: "delete", key });
  const { at: _at, ...rest } = step;
  const resolved: StepRecord =
    "error" in outcome
      ? { ...rest, status: "failed", error: outcome.error }
      : { ...rest, status: "completed", output: outcome.data };
  resolved.endedAt = now;
  resolved.attempts = Math.max(1, step.attempts);
  const draft = draftOf(run);
  draft.steps[hash] = resolved;
  draft.stack.push(hash);
  const next = progress(draft);
  return next ? { run: draft, next, effects } : { run: draft, effects };
}
