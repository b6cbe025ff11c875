import { isPending, isTerminal, type RunRecord } from "../run-state.js";
import { resolveStep, type StepOutcome } from "./resolve-step.js";
import type { Transition } from "./transition.js";

/**
 * A step's timer item came due: a sleep wakes (`null`), a wait times out (`null`), an invocation
 * times out — unless its child finished meanwhile and the notice was lost, then the child's
 * result counts. Undefined when there is nothing to do (not pending, planned, or not due yet).
 */
export function timerFired(
  run: RunRecord,
  hash: string,
  child: RunRecord | undefined,
  now: number,
): Transition | undefined {
  const step = run.steps[hash];
  if (!step || !isPending(step) || step.status === "planned") return undefined;
  if ((step.at ?? 0) > now) return undefined;
  return resolveStep(run, hash, timerOutcome(step.status, child), now);
}

function timerOutcome(status: string, child: RunRecord | undefined): StepOutcome {
  if (status !== "invoking") return { data: null };
  if (child?.status === "completed") return { data: child.output ?? null };
  if (child && isTerminal(child.status))
    return { error: child.error ?? { name: "Error", message: `invoked run ${child.status}` } };
  return {
    error: {
      name: "InvokeTimeoutError",
      message: "timed out waiting for the invoked function to finish",
    },
  };
}
