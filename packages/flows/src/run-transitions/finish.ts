import type { StoreOp } from "@troupe/core";
import type { SerializedError } from "../errors.js";
import { type RunRecord, waitKeys } from "../run-state.js";
import { draftOf } from "./transition.js";

/** A run's terminal state, and the ops deleting its cancel rules and open waits. */
export function finishRun(
  run: RunRecord,
  status: "completed" | "failed" | "cancelled",
  result: { readonly output?: unknown; readonly error?: SerializedError },
  now: number,
): { run: RunRecord; ops: StoreOp[] } {
  const next = draftOf(run);
  next.status = status;
  next.endedAt = now;
  if (result.output !== undefined) next.output = result.output;
  if (result.error !== undefined) next.error = result.error;
  delete next.nextAt;
  const ops: StoreOp[] = next.cancelKeys.map((key) => ({ type: "delete", key }));
  for (const step of Object.values(next.steps)) {
    if (step.status !== "waiting") continue;
    for (const key of waitKeys(step)) ops.push({ type: "delete", key });
  }
  return { run: next, ops };
}

/** The handler returned: the run completed with `output`. */
export function completeRun(run: RunRecord, output: unknown, now: number) {
  return finishRun(run, "completed", { output: output ?? null }, now);
}

/** A queued run starts executing: its start time, and its finish deadline if it has one. */
export function startRun(
  run: RunRecord,
  now: number,
  finishTimeoutMs: number | undefined,
): RunRecord {
  if (run.status !== "queued") return run;
  return {
    ...run,
    status: "running",
    startedAt: now,
    ...(finishTimeoutMs === undefined ? {} : { finishBy: now + finishTimeoutMs }),
  };
}
