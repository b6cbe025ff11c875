import type { WaitForSignalOp } from "../driver.js";
import type { RunRecord } from "../run-state.js";
import { encodeSignalEntry } from "../signal-entry.js";
import { noEffects, type OpOutcome, type TransitionEnv, withStep } from "./transition.js";

/**
 * `WaitForSignal`: the run takes the signal's registration, guarded by the version read just
 * before (`env.signalHolders`), so two runs taking it at once cannot both win. When another
 * run's wait is live: `replace` takes the signal anyway (that wait stays pending until its
 * timeout); `fail` fails this step with `SignalConflictError` instead.
 */
export function waitForSignal(
  run: RunRecord,
  op: WaitForSignalOp,
  env: Pick<TransitionEnv, "now" | "keys" | "signalHolders">,
): OpOutcome {
  const key = env.keys.signal(op.signal);
  const holder = env.signalHolders?.get(op.signal);
  const own = holder?.entry?.runId === run.id && holder.entry.hash === op.id;
  if (holder?.live && !own && op.onConflict === "fail") {
    const failed = withStep(
      run,
      op.id,
      {
        name: op.name,
        op: "waitForSignal",
        status: "failed",
        attempts: 1,
        startedAt: env.now,
        endedAt: env.now,
        error: {
          name: "SignalConflictError",
          message: `another run is already waiting for signal ${JSON.stringify(op.signal)} (onConflict: "fail")`,
        },
      },
      true,
    );
    return { run: failed, progressed: true, retryScheduled: false, effects: noEffects() };
  }
  const expiresAt = env.now + op.timeoutMs;
  const next = withStep(
    run,
    op.id,
    {
      name: op.name,
      op: "waitForSignal",
      status: "waiting",
      attempts: 0,
      startedAt: env.now,
      at: expiresAt,
      signal: { name: op.signal, key },
    },
    false,
  );
  const effects = noEffects();
  effects.ops.push({
    type: "set",
    key,
    value: encodeSignalEntry({ runId: run.id, hash: op.id, expiresAt }),
    ...(holder ? { expect: holder.expect } : {}),
  });
  return { run: next, progressed: true, retryScheduled: false, effects };
}
