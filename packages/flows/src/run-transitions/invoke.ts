import type { InvokeFunctionOp } from "../driver.js";
import type { FlowEvent } from "../event.js";
import { INTERNAL_EVENTS } from "../function.js";
import type { RunRecord } from "../run-state.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/**
 * `InvokeFunction`: a child run of the target function is created in the same commit, triggered
 * by an `inngest/function.invoked` event with the payload; the step waits for it (or its timeout).
 * An unknown target fails the step at once.
 */
export function invokeFunction(
  run: RunRecord,
  op: InvokeFunctionOp,
  env: Pick<TransitionEnv, "now" | "newId" | "hasFunction">,
): OpOutcome {
  const { now } = env;
  if (!env.hasFunction(op.functionId)) {
    const next = withStep(
      run,
      op.id,
      {
        name: op.name,
        op: "invoke",
        status: "failed",
        attempts: 1,
        startedAt: now,
        endedAt: now,
        error: {
          name: "FLOWS_FUNCTION_NOT_FOUND",
          message: `step.invoke: no function ${JSON.stringify(op.functionId)} is registered`,
        },
      },
      true,
    );
    return { run: next, progressed: true, retryScheduled: false, effects: noEffects() };
  }
  const event: FlowEvent = {
    id: env.newId(),
    name: INTERNAL_EVENTS.invoked,
    data: {
      ...(typeof op.data === "object" && op.data !== null
        ? (op.data as Record<string, unknown>)
        : {}),
    },
    ts: now,
  };
  const childId = env.newId();
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "invoke",
      status: "invoking",
      attempts: 0,
      startedAt: now,
      at: now + op.timeoutMs,
      input: [op.data],
      child: {
        runId: childId,
        functionId: op.functionId,
        data: op.data,
        ...(op.cascadeCancel === false ? { cascadeCancel: false as const } : {}),
      },
    },
    false,
  );
  const effects = noEffects();
  effects.children.push({
    runId: childId,
    functionId: op.functionId,
    event,
    parentHash: op.id,
  });
  return { run: next, progressed: true, retryScheduled: false, effects };
}
