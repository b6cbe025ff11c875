import type { MemoizedStep } from "./driver.js";
import type { SerializedError } from "./errors.js";
import type { FlowEvent } from "./event.js";
import type { RunSlot } from "./flow-control/concurrency.js";

/** A run's lifecycle state. */
export type RunStatus = "queued" | "running" | "completed" | "failed" | "cancelled";

/** A step's state within a run. */
export type StepStatus =
  | "completed"
  | "failed"
  | "errored"
  | "planned"
  | "sleeping"
  | "waiting"
  | "invoking";

/** A step as stored in the run record (and shown in history). */
export interface StepRecord {
  /** The user's step id. */
  readonly name: string;
  /** What kind of step. */
  readonly op:
    | "run"
    | "sendEvent"
    | "fetch"
    | "aiInfer"
    | "sleep"
    | "waitForEvent"
    | "waitForSignal"
    | "invoke";
  status: StepStatus;
  /** Attempts made so far (failed ones included). */
  attempts: number;
  startedAt?: number;
  endedAt?: number;
  output?: unknown;
  error?: SerializedError;
  /** Errors of failed attempts, oldest first (at most the last 5). */
  errors?: SerializedError[];
  input?: readonly unknown[];
  /** Sleeping: wake time. Waiting / invoking: timeout. Planned retry: next attempt. */
  at?: number;
  /**
   * Waiting: the event name and condition, and the wait key; `also` holds the further events a
   * wait for any of several takes, each with its own key.
   */
  wait?: {
    readonly event: string;
    readonly if?: string;
    readonly key: string;
    readonly also?: readonly {
      readonly event: string;
      readonly if?: string;
      readonly key: string;
    }[];
  };
  /** Waiting for a signal: its name and the key of the registration. */
  signal?: { readonly name: string; readonly key: string };
  /** Planned as part of a race (`group.parallel({ mode: "race" })`). */
  race?: boolean;
  /**
   * The step's race was decided by a sibling: it still runs (the SDK memoizes every step it
   * found) but no longer holds the run's next discovery back.
   */
  raceLost?: boolean;
  /**
   * Invoking: the child run and function; `cascadeCancel: false` when cancelling this run must
   * leave the child running.
   */
  child?: {
    readonly runId: string;
    readonly functionId: string;
    readonly data: unknown;
    readonly cascadeCancel?: false;
  };
}

/** The whole durable state of one run: one Store key, guarded by version on every change. */
export interface RunRecord {
  readonly id: string;
  readonly functionId: string;
  status: RunStatus;
  readonly events: readonly FlowEvent[];
  readonly createdAt: number;
  startedAt?: number;
  endedAt?: number;
  output?: unknown;
  error?: SerializedError;
  /** Bumped whenever the run needs a fresh discovery; names the discovery queue item. */
  gen: number;
  /** Attempt of the next discovery (per step; resets on progress). */
  attempt: number;
  /** The next discovery is not due before this time (a retry's backoff). */
  nextAt?: number;
  /** Parallel steps were seen: new steps are planned rather than run inline. */
  forcePlan: boolean;
  steps: Record<string, StepRecord>;
  /** Hashes of memoized steps in completion order. */
  stack: string[];
  /** Keys of the run's cancelOn registrations. */
  cancelKeys: string[];
  /** When the run is cancelled unless started / finished. */
  startBy?: number;
  finishBy?: number;
  /** Set on a child run of `step.invoke`. */
  readonly parent?: { readonly runId: string; readonly hash: string };
  /** Set on a rerun. */
  readonly rerunOf?: string;
  /** Concurrency keys, evaluated once at creation (flow control, see flow-control/concurrency.ts). */
  readonly slots?: readonly RunSlot[];
  /** When throttling let the run start (set once, when the worker first claimed it). */
  throttledStart?: number;
  /** The priority factor in seconds, evaluated at creation (shifts the start item). */
  readonly priority?: number;
}

/** The memoized results a driver gets. */
export function memoOf(run: RunRecord): Record<string, MemoizedStep> {
  const memo: Record<string, MemoizedStep> = {};
  for (const hash of run.stack) {
    const step = run.steps[hash];
    if (!step) continue;
    memo[hash] =
      step.status === "failed"
        ? { error: step.error ?? { name: "Error", message: "step failed" } }
        : { data: step.output ?? null };
  }
  return memo;
}

/** True for finished runs. */
export function isTerminal(status: RunStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** True for pending steps a discovery waits for (a race's losers do not hold it back). */
export function blocksDiscovery(step: StepRecord): boolean {
  return isPending(step) && step.raceLost !== true;
}

/** True for steps that wait on something other than a discovery. */
export function isPending(step: StepRecord): boolean {
  return (
    step.status === "planned" ||
    step.status === "sleeping" ||
    step.status === "waiting" ||
    step.status === "invoking"
  );
}

/** The Store keys of a waiting step's registrations (one per event it waits for). */
export function waitKeys(step: StepRecord): string[] {
  if (!step.wait) return [];
  return [step.wait.key, ...(step.wait.also ?? []).map((alternative) => alternative.key)];
}
