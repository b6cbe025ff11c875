import type { WaitForEventOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { encodeWaitEntry } from "../wait-entry.js";
import { waitIndexKeys, waitKeyFor } from "../wait-index.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/**
 * `WaitForEvent`: the wait is registered under the event's name in the same commit as the run,
 * then the engine looks back over recent events (an event that arrived just before still counts).
 * A wait for any of several events (`anyOf`) registers once per alternative, each under its own
 * key; the first match resolves the step and removes them all.
 */
export function waitForEvent(
  run: RunRecord,
  op: WaitForEventOp,
  env: Pick<TransitionEnv, "now" | "keys">,
): OpOutcome {
  const index = waitIndexKeys(env.keys.prefix);
  const expiresAt = env.now + op.timeoutMs;
  const alternatives = [
    op.if === undefined ? { event: op.event } : { event: op.event, if: op.if },
    ...(op.anyOf ?? []),
  ].map((alternative, position) => {
    // The first keeps the plain slot (the step hash), so a single wait is stored as before.
    const slot = position === 0 ? op.id : `${op.id}.${position}`;
    return {
      ...alternative,
      // Filed by match key when the condition compares a field with the trigger's (wait-index.ts).
      key: waitKeyFor(
        index,
        {
          eventName: alternative.event,
          runId: run.id,
          slot,
          condition: alternative.if,
          trigger: run.events[0],
        },
        env.keys.wait(alternative.event, run.id, slot),
      ),
    };
  });
  const effects = noEffects();
  for (const alternative of alternatives) {
    effects.ops.push({
      type: "set",
      key: alternative.key,
      value: encodeWaitEntry({
        kind: "wait",
        runId: run.id,
        hash: op.id,
        expiresAt,
        ...(alternative.if === undefined
          ? {}
          : { condition: alternative.if, triggerEvent: run.events[0] }),
      }),
    });
    effects.lookbacks.push(
      alternative.if === undefined
        ? { hash: op.id, event: alternative.event }
        : { hash: op.id, event: alternative.event, condition: alternative.if },
    );
  }
  const [first, ...also] = alternatives;
  const key = first?.key ?? env.keys.wait(op.event, run.id, op.id);
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
      wait: {
        event: op.event,
        ...(op.if === undefined ? {} : { if: op.if }),
        key,
        ...(also.length === 0 ? {} : { also }),
      },
    },
    false,
  );
  return { run: next, progressed: true, retryScheduled: false, effects };
}
