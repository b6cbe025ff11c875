import { resolveBackoff } from "../backoff.js";
import { flowKeys } from "../keys.js";
import type { RunRecord, StepRecord } from "../run-state.js";
import type { TransitionEnv } from "./transition.js";

/** Shared by the transition tests: a run and an environment with fixed time, jitter and ids. */

export const NOW = Date.UTC(2026, 0, 1);

/** A running run of function "fn" with `steps` (in that order on the stack when resolved). */
export function aRun(fields: Partial<RunRecord> = {}): RunRecord {
  return {
    id: "run1",
    functionId: "fn",
    status: "running",
    events: [{ id: "ev1", name: "t/go", data: { n: 1 }, ts: NOW - 1000 }],
    createdAt: NOW - 1000,
    startedAt: NOW - 900,
    gen: 1,
    attempt: 0,
    forcePlan: false,
    steps: {},
    stack: [],
    cancelKeys: [],
    ...fields,
  };
}

/** A step record. */
export function aStep(fields: Partial<StepRecord> = {}): StepRecord {
  return { name: "a", op: "run", status: "completed", attempts: 1, output: 1, ...fields };
}

/** A transition environment: no jitter, 3 attempts, ids `id1`, `id2` … */
export function anEnv(fields: Partial<TransitionEnv> = {}): TransitionEnv {
  let counter = 0;
  return {
    now: NOW,
    random: () => 0,
    backoff: resolveBackoff({ baseMs: 1000, maxMs: 60_000, jitter: 0 }),
    newId: () => `id${++counter}`,
    maxAttempts: 3,
    keys: flowKeys("flows/"),
    hasFunction: (functionId) => functionId === "child",
    ...fields,
  };
}

/** A deep copy, to check a transition left its input alone. */
export const snapshot = (run: RunRecord): RunRecord => structuredClone(run);
