/**
 * The pure part of a saga: the flow step ids of its forward steps and compensations, the delay
 * before a retry, and which compensations run after a failure. No ports, no clock.
 */

/** The flow step id of attempt `attempt` (0-based) of forward step `name`. */
export function forwardStepId(name: string, attempt: number): string {
  return attempt === 0 ? `step:${name}` : `step:${name}@${attempt}`;
}

/** The flow step id of attempt `attempt` of the compensation of step `name`. */
export function compensationStepId(name: string, attempt: number): string {
  return attempt === 0 ? `compensate:${name}` : `compensate:${name}@${attempt}`;
}

/** The id of the durable sleep before attempt `attempt` (≥ 1) of a step or compensation. */
export function backoffStepId(stepId: string): string {
  return `${stepId}:backoff`;
}

/** The id of the last step, which records the outcome (and counts it, once). */
export const OUTCOME_STEP_ID = "saga:outcome";

/**
 * The delay before retry `retry` (0 = first retry): `baseMs × 2^retry`, capped at `maxMs`.
 * Deterministic (no jitter), so a replayed handler plans the same sleep.
 */
export function retryDelayMs(baseMs: number, maxMs: number, retry: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, retry), 40));
}

/**
 * The steps to compensate after a failure, in the order their compensations run: the completed
 * steps, newest first. Steps without a compensation are left out.
 */
export function compensationOrder<
  S extends { readonly name: string; readonly compensate?: unknown },
>(steps: readonly S[], completed: ReadonlySet<string>): S[] {
  return steps
    .filter((step) => completed.has(step.name) && step.compensate !== undefined)
    .reverse();
}

/**
 * The idempotency key of a forward step: the same for every attempt, after a crash and in a
 * rerun, and different for each saga instance and step.
 */
export function idempotencyKey(sagaName: string, sagaId: string, stepName: string): string {
  return `${sagaName}/${sagaId}/${stepName}`;
}
