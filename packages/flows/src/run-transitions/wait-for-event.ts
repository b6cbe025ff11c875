import type { WaitForEventOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { encodeWaitEntry } from "../wait-entry.js";
import { waitIndexKeys, waitKeyFor } from "../wait-index.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/**
 * `WaitForEvent`: the wait is registered under the event's name in the same commit as the run,
 * then the engine looks back over recent events (an event that arrived just before still counts).
 */
export function waitForEvent(
  run: RunRecord,
  op: WaitForEventOp,
  env: Pick<TransitionEnv, "now" | "keys">,
): OpOutcome {
  // Filed by match key when the condition compares a field with the trigger's (wait-index.ts).
  const key = waitKeyFor(
    waitIndexKeys(env.keys.prefix),
    { eventName: op.event, runId: run.id, slot: op.id, condition: op.if, trigger: run.events[0] },
    env.keys.wait(op.event, run.id, op.id),
  );
  const expiresAt = env.now + op.timeoutMs;
  const entry = encodeWaitEntry({
    kind: "wait",
    runId: run.id,
    hash: op.id,
    expiresAt,
    ...(op.if === undefined ? {} : { condition: op.if, triggerEvent: run.events[0] }),
  });
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "waitForEvent",
      status: "waiting",
      attempts: 0,
      startedAt: env.now,
      at: expiresAt,
      wait: op.if === undefined ? { event: op.event, key } : { event: op.event, if: op.if, key },
    },
    false,
  );
  const effects = noEffects();
  effects.ops.push({ type: "set", key, value: entry });
  effects.lookbacks.push(
    op.if === undefined
      ? { hash: op.id, event: op.event }
      : { hash: op.id, event: op.event, condition: op.if },
  );
  return { run: next, progressed: true, retryScheduled: false, effects };
}
