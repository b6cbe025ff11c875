import type { DriverResponse, Opcode } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { completeRun } from "./finish.js";
import { functionError } from "./function-error.js";
import { invokeFunction } from "./invoke.js";
import { settleRace } from "./race.js";
import { sleep } from "./sleep.js";
import { stepDone } from "./step-done.js";
import { stepError } from "./step-error.js";
import { stepFailed } from "./step-failed.js";
import { stepPlanned } from "./step-planned.js";
import {
  draftOf,
  type Effects,
  noEffects,
  type OpOutcome,
  progress,
  type Transition,
  type TransitionEnv,
  type TransitionMode,
} from "./transition.js";
import { waitForEvent } from "./wait-for-event.js";
import { waitForSignal } from "./wait-for-signal.js";

/** One opcode's transition. */
export function applyOpcode(
  run: RunRecord,
  op: Opcode,
  mode: TransitionMode,
  env: TransitionEnv,
): OpOutcome {
  switch (op.op) {
    case "StepRun":
      return stepDone(run, op, env);
    case "StepError":
      return stepError(run, op, mode, env);
    case "StepFailed":
      return stepFailed(run, op, mode, env);
    case "StepPlanned":
      return stepPlanned(run, op);
    case "Sleep":
      return sleep(run, op, env);
    case "WaitForEvent":
      return waitForEvent(run, op, env);
    case "WaitForSignal":
      return waitForSignal(run, op, env);
    case "InvokeFunction":
      return invokeFunction(run, op, env);
  }
}

const merge = (into: Effects, from: Effects) => {
  into.ops.push(...from.ops);
  into.lookbacks.push(...from.lookbacks);
  into.children.push(...from.children);
};

/**
 * The run after the driver answered for `mode`: the handler completed, failed, or reported
 * opcodes — each applied in order (a step already finished is left as it is). Then a discovery
 * is due when something progressed and nothing is pending, unless a retry's time holds it back.
 */
export function applyDriverResponse(
  run: RunRecord,
  response: DriverResponse,
  mode: TransitionMode,
  env: TransitionEnv,
): Transition {
  if (response.type === "complete") {
    const finished = completeRun(run, response.output, env.now);
    return { run: finished.run, effects: { ...noEffects(), ops: finished.ops } };
  }
  if (response.type === "error") return functionError(run, response, mode, env);

  let current = run;
  const effects = noEffects();
  let progressed = false;
  let retryScheduled = false;
  for (const op of response.ops) {
    const existing = current.steps[op.id];
    if (existing && (existing.status === "completed" || existing.status === "failed")) continue;
    const outcome = applyOpcode(current, op, mode, env);
    current = outcome.run;
    progressed ||= outcome.progressed;
    retryScheduled ||= outcome.retryScheduled;
    merge(effects, outcome.effects);
  }
  // A raced step that settled decides its race: the siblings still planned are dropped.
  if (mode !== "discover") current = settleRace(run, current, mode.step);
  const draft = draftOf(current);
  if (mode === "discover") draft.forcePlan = response.ops.length > 1;
  let next = progressed ? progress(draft) : undefined;
  if (progressed && retryScheduled && current.nextAt !== undefined) {
    // A retry is scheduled next to other progress: the discovery keeps the retry's time.
    draft.nextAt = current.nextAt;
    next = undefined;
  }
  if (draft.nextAt !== undefined && draft.nextAt > env.now) next = undefined;
  const [only] = response.ops;
  if (
    response.after &&
    next?.kind === "discover" &&
    response.ops.length === 1 &&
    only?.op === "StepRun" &&
    draft.steps[only.id]?.status === "completed" &&
    effects.children.length === 0 &&
    effects.lookbacks.length === 0
  ) {
    // The handler returned or threw right after the step: what the next discovery would do, in
    // the same commit as the step's result.
    const after = applyDriverResponse(draft, response.after, "discover", env);
    const merged = {
      ops: [...effects.ops, ...after.effects.ops],
      children: [...effects.children, ...after.effects.children],
      lookbacks: [...effects.lookbacks, ...after.effects.lookbacks],
    };
    return after.next
      ? { run: after.run, next: after.next, effects: { ...after.effects, ...merged } }
      : { run: after.run, effects: { ...after.effects, ...merged } };
  }
  return next ? { run: draft, next, effects } : { run: draft, effects };
}
