import { TroupeError } from "@troupe/core";
import type { EventData, FlowFunction, Flows, RunView, SerializedError } from "@troupe/flows";
import { SAGA_COMPENSATION_FAILED, type SagaResult } from "./define-saga.js";

/** Where a saga stands, read from its flow run (see {@link sagaOutcome}). */
export type SagaOutcome =
  | { readonly status: "running"; readonly runId: string }
  | (SagaResult & { readonly runId: string })
  | {
      /** A compensation failed for good: a human must fix the cause and retry it. */
      readonly status: "compensation_failed";
      readonly runId: string;
      /** The message names the failed step, the compensation that failed, and what is left. */
      readonly error: SerializedError;
      /** The first compensation step that failed (what `retrySagaCompensation` reruns from). */
      readonly compensationStep?: string;
    }
  | {
      /** The run failed outside the steps (bad input, cancelled, a broken definition). */
      readonly status: "failed" | "cancelled";
      readonly runId: string;
      readonly error?: SerializedError;
    };

/**
 * Starts a saga with `input` and returns its run id and saga id (the id of the starting event,
 * which is also the first part of every step's idempotency key).
 */
export async function startSaga<Input extends EventData>(
  flows: Flows,
  saga: FlowFunction<SagaResult, Input>,
  input: Input,
): Promise<{ readonly runId: string; readonly sagaId: string }> {
  const { eventId } = await flows.invoke(saga.id, { data: input });
  const { runs } = await flows.getEventRuns(eventId);
  const runId = runs[0]?.id;
  if (runId === undefined)
    throw new TroupeError("INTERNAL", `saga ${saga.id}: event ${eventId} started no run`);
  return { runId, sagaId: eventId };
}

/** The first compensation step (attempt 0) among a run's failed steps, by its flow step id. */
function failedCompensation(run: RunView): string | undefined {
  const failed = run.steps.find(
    (step) => step.id.startsWith("compensate:") && step.status === "failed",
  );
  return failed?.id.replace(/@\d+$/, "");
}

/** Reads a saga's state from its run: running, completed, compensated or compensation_failed. */
export function sagaOutcome(run: RunView): SagaOutcome {
  if (run.status === "completed") return { ...(run.output as SagaResult), runId: run.id };
  if (run.status === "failed" && run.error?.name === SAGA_COMPENSATION_FAILED) {
    const compensationStep = failedCompensation(run);
    return {
      status: "compensation_failed",
      runId: run.id,
      error: run.error,
      ...(compensationStep === undefined ? {} : { compensationStep }),
    };
  }
  if (run.status === "failed" || run.status === "cancelled")
    return run.error === undefined
      ? { status: run.status, runId: run.id }
      : { status: run.status, runId: run.id, error: run.error };
  return { status: "running", runId: run.id };
}

/** Waits for the saga's run to finish and returns its outcome. */
export async function waitForSaga(
  flows: Flows,
  runId: string,
  options: { readonly timeoutMs?: number } = {},
): Promise<SagaOutcome> {
  return sagaOutcome(await flows.waitForRun(runId, options));
}

/**
 * Retries a saga stopped by a failed compensation (after a human fixed the cause): a new run of
 * the same saga (same saga id, so the same idempotency keys) that keeps the forward steps and
 * the compensations that succeeded, and runs the failed compensation again, with its retries,
 * then the rest. Returns the new run's id. `INVALID_ARGUMENT` when the run is not in that state.
 */
export async function retrySagaCompensation(flows: Flows, runId: string): Promise<string> {
  const run = await flows.getRun(runId);
  if (run === undefined)
    throw new TroupeError("NOT_FOUND", `run ${runId} does not exist`, { details: { runId } });
  const outcome = sagaOutcome(run);
  if (outcome.status !== "compensation_failed" || outcome.compensationStep === undefined)
    throw new TroupeError(
      "INVALID_ARGUMENT",
      `runId: run ${runId} is ${outcome.status}, not stopped by a failed compensation`,
      { details: { field: "runId", status: outcome.status } },
    );
  return flows.rerun(runId, { fromStep: outcome.compensationStep });
}
