import { StoreConflictError, TroupeError } from "@troupe/core";
import type { DriverResponse } from "./driver.js";
import type { FlowsContext } from "./engine-context.js";
import { isTerminal, type RunRecord } from "./run-state.js";
import { decodeSignalEntry, type SignalHolder } from "./signal-entry.js";

/**
 * Signals: `step.waitForSignal` registers one run step under the signal's name; `sendSignal`
 * resolves that step with `{ signal, data }` and removes the registration. A wait that timed out,
 * whose run finished, or whose step was resolved otherwise no longer holds its signal.
 */

/** What sending a signal did: the run it resumed, or none when no run was waiting. */
export interface SendSignalResult {
  /** The resumed run; undefined when no run waited for the signal. */
  readonly runId?: string;
}

/** Whether the wait an entry names is still pending. */
async function isLive(
  ctx: FlowsContext,
  runId: string,
  hash: string,
  expiresAt: number,
  known?: RunRecord,
): Promise<boolean> {
  if (expiresAt <= ctx.clock.now()) return false;
  const run = known?.id === runId ? known : (await ctx.runs.load(runId))?.run;
  if (!run || isTerminal(run.status)) return false;
  const step = run.steps[hash];
  return step?.status === "waiting" && step.signal !== undefined;
}

/**
 * The holders of the signals `response` waits for, read before the transition applies it (see
 * run-transitions/wait-for-signal.ts). Undefined when it waits for none.
 */
export async function readSignalHolders(
  ctx: FlowsContext,
  run: RunRecord,
  response: DriverResponse,
): Promise<ReadonlyMap<string, SignalHolder> | undefined> {
  if (response.type !== "ops") return undefined;
  const names = new Set<string>();
  for (const op of response.ops) if (op.op === "WaitForSignal") names.add(op.signal);
  if (names.size === 0) return undefined;
  const holders = new Map<string, SignalHolder>();
  for (const name of names) {
    const stored = await ctx.store.get(ctx.keys.signal(name));
    if (!stored) {
      holders.set(name, { live: false, expect: "absent" });
      continue;
    }
    const entry = decodeSignalEntry(stored.value);
    const live = await isLive(ctx, entry.runId, entry.hash, entry.expiresAt, run);
    holders.set(name, { entry, live, expect: stored.version });
  }
  return holders;
}

/** Checks a signal name from a caller: a non-empty string. */
export function checkSignalName(signal: unknown, field: string): string {
  if (typeof signal !== "string" || signal.trim() === "") {
    throw new TroupeError("INVALID_ARGUMENT", `${field}: expected a non-empty signal name`, {
      details: { field },
    });
  }
  return signal;
}

/**
 * Sends `data` to the run waiting for `signal`: its step resolves with `{ signal, data }`.
 * Resolves to `{}` when no run is waiting (nothing is kept for a later waiter).
 */
export async function sendSignal(
  ctx: FlowsContext,
  signal: string,
  data: unknown,
): Promise<SendSignalResult> {
  const key = ctx.keys.signal(signal);
  const stored = await ctx.store.get(key);
  if (!stored) return {};
  const entry = decodeSignalEntry(stored.value);
  const resolved =
    entry.expiresAt > ctx.clock.now()
      ? await ctx.actions.resolvePending(entry.runId, entry.hash, (step) =>
          step.status === "waiting" && step.signal?.name === signal
            ? { data: { signal, data: data ?? null } }
            : undefined,
        )
      : undefined;
  try {
    // Guarded: a run that took the signal meanwhile keeps its registration.
    await ctx.store.commit([{ type: "delete", key, expect: stored.version }]);
  } catch (error) {
    if (!StoreConflictError.isInstance(error)) throw error;
  }
  return resolved ? { runId: entry.runId } : {};
}
