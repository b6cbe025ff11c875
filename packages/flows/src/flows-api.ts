import type { Clock, Logger, Metrics, PubSub, Queue, Store } from "@troupe/core";
import type { BackoffOptions } from "./backoff.js";
import type {
  BulkCancelOptions,
  BulkCancelResult,
  BulkReplayOptions,
  BulkReplayResult,
} from "./bulk-runs.js";
import type { FlowDriver } from "./driver.js";
import type { SerializedError } from "./errors.js";
import type { EventData, EventInput, FlowEvent } from "./event.js";
import type { SkipRecord } from "./flow-control/admission.js";
import type { FlowControlState } from "./flow-control/state.js";
import type { FlowFunction, FunctionDefinition } from "./function.js";
import type { PausedFunction } from "./function-pause.js";
import type { RetentionOptions } from "./retention/retention-options.js";
import type { RunStatus, StepRecord } from "./run-state.js";

/** What the admission seam decides for a run about to be created. */
export type AdmissionDecision =
  | { readonly action: "start" }
  | { readonly action: "skip"; readonly reason: string };

/**
 * A custom admission rule, called for every run an event would create, before the built-in flow
 * control of the function (idempotency, rate limit, batching, debounce, singleton). A skip is
 * recorded with its reason and shown by `getEventRuns`. It may keep its own state in the Store
 * under `keyPrefix` (`<prefix>fc/`; use a kind letter the engine does not use, such as `x/`).
 */
export type Admission = (request: {
  readonly functionId: string;
  readonly event: FlowEvent;
  readonly store: Store;
  readonly keyPrefix: string;
}) => AdmissionDecision | Promise<AdmissionDecision>;

/** Options of {@link createFlows}. */
export interface FlowsOptions {
  /** Where runs, events and waits live. */
  readonly store: Store;
  /** Where work items live (one per due step, timer or cron tick). */
  readonly queue: Queue;
  /** Optional: wakes idle workers in other processes when work is enqueued. */
  readonly pubsub?: PubSub;
  /** Where time comes from (a ManualClock in tests). Default: the system clock. */
  readonly clock?: Clock;
  /** The functions this engine runs (TypeScript, through the in-process driver). */
  readonly functions?: readonly FlowFunction<unknown, EventData>[];
  /** Key prefix in the Store and PubSub channel stem. Default `"flows/"`. */
  readonly prefix?: string;
  /** Items a worker processes at once. Default 16. */
  readonly workerConcurrency?: number;
  /** Queue lease length in ms; leases are extended while a step runs. Default 30 000. */
  readonly leaseMs?: number;
  /** Longest idle wait between queue polls in ms (PubSub wakes sooner). Default 1000. */
  readonly pollIntervalMs?: number;
  /** Retry spacing. */
  readonly backoff?: BackoffOptions;
  /** Random source in [0, 1) for jitter (tests pin it). Default Math.random. */
  readonly random?: () => number;
  /** How far back `waitForEvent` looks for events that arrived just before it. Default 60 000 ms. */
  readonly waitLookbackMs?: number;
  /** Steps a worker runs back to back for one run before requeueing it. Default 64. */
  readonly maxInlineSteps?: number;
  /** Recovery: markers older than this are re-processed by `sweep`. Default 10 000 ms. */
  readonly sweepGraceMs?: number;
  /** How often a started worker sweeps. Default 30 000 ms. */
  readonly sweepIntervalMs?: number;
  /**
   * How long finished runs and events are kept (default 7 days each; dedupe ids, rate-limit,
   * idempotency and throttle keys go when their own window ends). A sweeper deletes what expired
   * in bounded batches with every worker sweep and `sweep()`. `false` keeps everything.
   */
  readonly retention?: RetentionOptions | false;
  /** The run admission seam (flow control). Default: admit every run. */
  readonly admission?: Admission;
  /** Where failures of the engine itself are reported. */
  readonly logger?: Logger;
  /**
   * Where the engine reports: `flows_events_total`, `flows_runs_created_total{function}`,
   * `flows_runs_finished_total{function,status}`, `flows_steps_total{function,outcome}`
   * (completed, failed, retried) and `flows_step_duration_ms{function}`. Default: discarded.
   */
  readonly metrics?: Metrics;
  /**
   * While started, hold the Node process open like a server does (the Clock's timers do not).
   * Default true.
   */
  readonly keepProcessAlive?: boolean;
}

/** A step in a run's history. */
export interface StepView {
  /** The step's hash (the memo key). */
  readonly hash: string;
  /** The user's step id. */
  readonly id: string;
  /** The kind of step. */
  readonly op: StepRecord["op"];
  /** Where the step stands. */
  readonly status: StepRecord["status"];
  /** Attempts made, failed ones included. */
  readonly attempts: number;
  /** When the step (its last attempt, a sleep or a wait) started, ms since the epoch. */
  readonly startedAt?: number;
  /** When it finished. */
  readonly endedAt?: number;
  /** The arguments of `step.run(id, fn, ...args)`, or an invocation's data. */
  readonly input?: readonly unknown[];
  /** The memoized result. */
  readonly output?: unknown;
  /** The final error of a failed step. */
  readonly error?: SerializedError;
  /** Errors of earlier failed attempts. */
  readonly errors?: readonly SerializedError[];
  /** Sleep wake time, wait/invoke timeout, or next retry. */
  readonly at?: number;
}

/** A run as returned by queries. */
export interface RunView {
  /** The run's id (a ULID). */
  readonly id: string;
  /** The function it runs. */
  readonly functionId: string;
  /** Where the run stands. */
  readonly status: RunStatus;
  /** When it was triggered, ms since the epoch. */
  readonly createdAt: number;
  /** When its first step started. */
  readonly startedAt?: number;
  /** When it finished. */
  readonly endedAt?: number;
  /** What the handler returned. */
  readonly output?: unknown;
  /** Why it failed or was cancelled (for a running run: the last handler error, if retrying). */
  readonly error?: SerializedError;
  /** The triggering events. */
  readonly events: readonly FlowEvent[];
  /** Finished steps in completion order, then pending ones. */
  readonly steps: readonly StepView[];
  /** The run this one reruns. */
  readonly rerunOf?: string;
  /** The run that invoked this one with `step.invoke`. */
  readonly parentRunId?: string;
}

/** A run in a listing. */
export interface RunSummary {
  /** The run's id. */
  readonly id: string;
  /** The function it runs. */
  readonly functionId: string;
  /** Where the run stands. */
  readonly status: RunStatus;
  /** When it was triggered, ms since the epoch. */
  readonly createdAt: number;
  /** When it finished. */
  readonly endedAt?: number;
}

/** Filters of {@link Flows.listRuns}. */
export interface ListRunsOptions {
  /** Only runs of this function. */
  readonly functionId?: string;
  /** Only runs in this status (or these). */
  readonly status?: RunStatus | readonly RunStatus[];
  /** Runs created at or after this time (ms). */
  readonly from?: number;
  /** Runs created before this time (ms). */
  readonly to?: number;
  /** Default 100. */
  readonly limit?: number;
  /** Newest first. Default false. */
  readonly newestFirst?: boolean;
}

/** What {@link Flows.getEventRuns} returns. */
export interface EventRuns {
  /** The runs the event started or is part of. */
  readonly runs: readonly RunSummary[];
  /** The functions it started no run of, and why. */
  readonly skipped: readonly SkipRecord[];
}

/** Filters of {@link Flows.listEvents}. */
export interface ListEventsOptions {
  /** Only events with this name. */
  readonly name?: string;
  /** Events received at or after this time (ms). */
  readonly from?: number;
  /** Events received before this time (ms). */
  readonly to?: number;
  /** Default 100. */
  readonly limit?: number;
  /** Newest first. Default false. */
  readonly newestFirst?: boolean;
}

/** Options of {@link Flows.waitForRun}. */
export interface WaitForRunOptions {
  /**
   * Give up after this many ms (on the engine's Clock): the promise rejects with `TIMEOUT`.
   * Default: wait as long as it takes.
   */
  readonly timeoutMs?: number;
}

/** What {@link Flows.start} takes. */
export interface FlowsStartOptions {
  /**
   * The worker's stable identity (letters, digits, `.`, `_`, `:`, `-`; at most 128): the Queue
   * leases it claims are tagged with it, and `start` first releases every lease still held under
   * it (`Queue.releaseOwner`). The caller guarantees that no other live worker uses the same
   * identity, or that worker's items in hand would be processed twice. Default: none (leases
   * of a crashed worker are claimable again only once they lapse).
   */
  readonly workerId?: string;
}

/** The durable functions engine. */
export interface Flows {
  /** Validates, stores and routes events; resolves to their ids (ULIDs) in order. */
  send(events: EventInput | readonly EventInput[]): Promise<{ ids: string[] }>;
  /**
   * Starts function `functionId` with `data`, as the dashboard's "Invoke" does: an
   * `inngest/function.invoked` event routed to that function only (flow control applies).
   * Resolves to the event's id (`getEventRuns` lists the run). Throws `NOT_FOUND` for an unknown
   * function and `INVALID_ARGUMENT` naming `invoke.data` for bad data.
   */
  invoke(functionId: string, input?: { readonly data?: EventData }): Promise<{ eventId: string }>;
  /**
   * Starts the background worker (polls the Queue, woken through PubSub). With `workerId`, see
   * {@link FlowsStartOptions}: leases a crashed earlier worker of that identity held are taken
   * back at once, so its runs in flight resume now rather than when their leases lapse.
   */
  start(options?: FlowsStartOptions): Promise<void>;
  /** Stops the worker after the items in hand are finished. */
  stop(): Promise<void>;
  /**
   * Processes every item due now, until none is left (items that become due later, such as
   * retries and sleeps, stay). For tests with a ManualClock and for embedding without a worker.
   * Resolves to the number of items processed.
   */
  runDue(): Promise<number>;
  /** A run with its step history, or undefined. */
  getRun(runId: string): Promise<RunView | undefined>;
  /**
   * Resolves to the run (as `getRun` shows it) once it has finished — completed, failed or
   * cancelled — without polling: a run finished by this engine wakes its waiters at once, one
   * finished by another process through the PubSub (without one, the run is re-read every
   * `pollIntervalMs`). Rejects with `NOT_FOUND` for an unknown run and `TIMEOUT` after
   * `timeoutMs`. A run that already finished resolves at once.
   */
  waitForRun(runId: string, options?: WaitForRunOptions): Promise<RunView>;
  /** Runs by function, status and creation time. */
  listRuns(options?: ListRunsOptions): Promise<RunSummary[]>;
  /** An event by id. */
  getEvent(eventId: string): Promise<FlowEvent | undefined>;
  /** Events by name and time. */
  listEvents(options?: ListEventsOptions): Promise<FlowEvent[]>;
  /**
   * What an event did: the runs it started (a batch run is listed under each of its events) and
   * the functions it triggered but started no run of, with the reason (`"rateLimit"`,
   * `"idempotency"`, `"singleton"`, `"debounce"`, or an admission seam's reason). An event held
   * in a pending debounce or batch appears in neither yet (see `getFlowControlState`).
   */
  getEventRuns(eventId: string): Promise<EventRuns>;
  /**
   * Resumes the run waiting for `signal` (`step.waitForSignal`): its step returns
   * `{ signal, data }`. Resolves to `{ runId }` of that run, or `{}` when no run was waiting (the
   * signal is not kept). Throws `INVALID_ARGUMENT` naming `sendSignal.signal` for a bad name.
   */
  sendSignal(signal: string, data?: unknown): Promise<{ readonly runId?: string }>;
  /** Cancels an unfinished run; resolves to false when it had already finished. */
  cancel(runId: string, reason?: string): Promise<boolean>;
  /**
   * Starts a new run of the same function with the same events. With `fromStep` (a step id or
   * hash), the steps completed before it keep their results and execution resumes there.
   */
  rerun(runId: string, options?: { readonly fromStep?: string }): Promise<string>;
  /**
   * Registers a function served by another driver (e.g. the Inngest HTTP driver). An id that is
   * already registered is replaced: its definition, driver, triggers and flow-control config
   * change together for events that arrive from now on. Runs already in flight keep going and
   * use the new definition and driver from their next step. Registered after `start()` (or a
   * `runDue`), its cron ticks are scheduled at once; ticks left from a replaced schedule are
   * no-ops.
   */
  registerFunction(definition: FunctionDefinition, driver: FlowDriver): void;
  /**
   * Removes a function: its triggers and cron ticks stop starting runs. Runs in flight fail at
   * their next step with `FLOWS_FUNCTION_NOT_FOUND` (not retried). Returns false when the id
   * was not registered.
   */
  unregisterFunction(functionId: string): boolean;
  /**
   * Re-drives work whose follow-up may have been lost in a crash, then deletes what retention
   * says has expired (a started worker does both every `sweepIntervalMs`); resolves to markers
   * handled.
   */
  sweep(): Promise<number>;
  /**
   * A function's flow-control state: concurrency per key (executing steps, limit, queued), the
   * throttled queue, pending debounces and batches.
   */
  getFlowControlState(functionId: string): Promise<FlowControlState>;
  /**
   * Pauses a function: events that trigger it (and its cron ticks) are stored but start no run;
   * `getEventRuns` lists them as skipped with reason `"paused"`. Runs in flight keep going.
   * Resolves to false when it was already paused. Throws `NOT_FOUND` for an unknown function.
   */
  pauseFunction(functionId: string, options?: { readonly reason?: string }): Promise<boolean>;
  /**
   * Resumes a paused function: events from now on start runs; those received while it was
   * paused do not (replay them). Resolves to false when it was not paused.
   */
  resumeFunction(functionId: string): Promise<boolean>;
  /** The paused functions. */
  listPausedFunctions(): Promise<PausedFunction[]>;
  /**
   * Cancels a function's unfinished runs created in `[from, to)` (and matching `if`, a CEL
   * condition over the triggering `event`), a page of 100 at a time. Bad options throw
   * `INVALID_ARGUMENT` naming the field before any run is touched.
   */
  cancelRuns(options: BulkCancelOptions): Promise<BulkCancelResult>;
  /**
   * Replays a function's failed or cancelled runs created in `[from, to)`: each gets a new run
   * with the same events (`rerunOf` names the original), oldest first, a page of 100 at a time.
   */
  replayRuns(options: BulkReplayOptions): Promise<BulkReplayResult>;
  /** Stops the worker and releases nothing else: the ports belong to the caller. */
  close(): Promise<void>;
}
