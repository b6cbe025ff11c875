import type { StoreOp } from "@troupe/core";
import type { Backoff } from "../backoff.js";
import type { SerializedError } from "../errors.js";
import type { FlowEvent } from "../event.js";
import type { FlowKeys } from "../keys.js";
import { blockingSteps, type Item } from "../queue-items.js";
import type { RunRecord, StepRecord } from "../run-state.js";
import type { SignalHolder } from "../signal-entry.js";

/**
 * Run transitions: pure functions from a run and what happened to the next run and the effects
 * the engine must carry out. They never touch a port and never change the run they are given;
 * the worker commits the result with the run's version guard.
 */

/** What a transition may use besides the run: time, randomness, ids, the retry policy. */
export interface TransitionEnv {
  /** The time of the transition, ms. */
  readonly now: number;
  /** Jitter source in [0, 1). */
  readonly random: () => number;
  /** Retry spacing. */
  readonly backoff: Backoff;
  /** A fresh ULID (ids of child runs and their events). */
  readonly newId: () => string;
  /** Attempts a step (and the handler) may make: the function's retries + 1. */
  readonly maxAttempts: number;
  /** The Store key layout (wait registrations). */
  readonly keys: FlowKeys;
  /** True when a function of this id is registered (targets of `step.invoke`). */
  readonly hasFunction: (functionId: string) => boolean;
  /** Holders of the signals the driver's answer waits for, read just before (see wait-for-signal.ts). */
  readonly signalHolders?: ReadonlyMap<string, SignalHolder>;
}

/** What the driver was asked to run: a discovery, or one planned step (by hash). */
export type TransitionMode = "discover" | { readonly step: string };

/** A child run `step.invoke` starts, created in the same commit as its parent's change. */
export interface ChildRun {
  readonly runId: string;
  readonly functionId: string;
  /** Its triggering `inngest/function.invoked` event. */
  readonly event: FlowEvent;
  /** The parent's step waiting for it. */
  readonly parentHash: string;
}

/** A wait just registered: the engine looks back for events that arrived shortly before. */
export interface Lookback {
  readonly hash: string;
  readonly event: string;
  readonly condition?: string;
}

/** Work a transition leaves for the engine. */
export interface Effects {
  /** Store ops committed with the run (wait registrations and their removal). */
  readonly ops: StoreOp[];
  /** Waits to look back for once committed. */
  readonly lookbacks: Lookback[];
  /** Child runs to create in the same commit. */
  readonly children: ChildRun[];
}

/** The outcome of a transition. */
export interface Transition {
  /** The run's next state (a new object; the input is untouched). */
  readonly run: RunRecord;
  /** A discovery due now, which the worker may run inline. */
  readonly next?: Item;
  readonly effects: Effects;
}

/** The outcome of applying one opcode to a run. */
export interface OpOutcome {
  readonly run: RunRecord;
  /** A step resolved or was registered: a new discovery is due once nothing is pending. */
  readonly progressed: boolean;
  /** A step's retry was scheduled (the discovery waits for its time). */
  readonly retryScheduled: boolean;
  readonly effects: Effects;
}

/** How many attempt errors a step keeps. */
export const MAX_KEPT_ERRORS = 5;

/** Effects with nothing in them. */
export const noEffects = (): Effects => ({ ops: [], lookbacks: [], children: [] });

/** A step's earlier errors with `error` added (the last {@link MAX_KEPT_ERRORS}). */
export function keepErrors(step: StepRecord | undefined, error: SerializedError) {
  return [...(step?.errors ?? []), error].slice(-MAX_KEPT_ERRORS);
}

/** A copy of `run` that a transition may change (steps and stack are copied, steps are replaced). */
export function draftOf(run: RunRecord): RunRecord {
  return {
    ...run,
    steps: { ...run.steps },
    stack: [...run.stack],
    cancelKeys: [...run.cancelKeys],
  };
}

/** `run` with step `hash` set to `step`, pushed on the stack when it resolved. */
export function withStep(
  run: RunRecord,
  hash: string,
  step: StepRecord,
  resolved: boolean,
): RunRecord {
  return {
    ...run,
    steps: { ...run.steps, [hash]: step },
    stack: resolved ? [...run.stack, hash] : run.stack,
  };
}

/**
 * After a step resolved (on a draft): the discovery attempt resets, and a new discovery is due —
 * the returned item — once nothing else is pending.
 */
export function progress(draft: RunRecord): Item | undefined {
  draft.attempt = 0;
  delete draft.nextAt;
  if (blockingSteps(draft).length > 0) return undefined;
  draft.gen++;
  return { kind: "discover", runId: draft.id, gen: draft.gen };
}

/** The hash of the planned step `mode` names, or undefined for a discovery. */
export const plannedHash = (mode: TransitionMode): string | undefined =>
  mode === "discover" ? undefined : mode.step;
