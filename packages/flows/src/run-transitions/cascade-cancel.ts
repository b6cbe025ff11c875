import type { RunRecord } from "../run-state.js";

/**
 * The child runs a cancelled run cancels in turn: those its `step.invoke` calls were still
 * waiting for, except the ones invoked with `cascadeCancel: false`. Each child's own end cancels
 * its children, so the cancel reaches the whole tree. Nothing for a run not cancelled.
 */
export function invokedRunsToCancel(run: RunRecord): string[] {
  if (run.status !== "cancelled") return [];
  return Object.values(run.steps).flatMap((step) =>
    step.op === "invoke" &&
    step.status === "invoking" &&
    step.child !== undefined &&
    step.child.cascadeCancel !== false
      ? [step.child.runId]
      : [],
  );
}
