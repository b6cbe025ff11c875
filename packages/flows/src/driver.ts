import type { SerializedError } from "./errors.js";
import type { FlowEvent } from "./event.js";

/**
 * A memoized step result as handed to a driver: `{ data }` for a step that finished (also the
 * matched event, or null, of a wait; null for a sleep), `{ error }` for a step that failed for good.
 * Mirrors the `steps` map of an Inngest call request.
 */
export type MemoizedStep = { readonly data: unknown } | { readonly error: SerializedError };

/** What the engine asks a driver: run the function from the top with these memoized results. */
export interface DriverRequest {
  /** The function's id. */
  readonly functionId: string;
  /** The run's id. */
  readonly runId: string;
  /** The run's triggering event (the first of `events`). */
  readonly event: FlowEvent;
  /** All triggering events (one, unless batched). */
  readonly events: readonly FlowEvent[];
  /** Memoized results by step hash. */
  readonly steps: Readonly<Record<string, MemoizedStep>>;
  /** Step hashes in the order they completed (Inngest's `ctx.stack.stack`). */
  readonly stack: readonly string[];
  /**
   * "discover": run from the top, report new steps (and run one alone inline, unless
   * `disableImmediateExecution`). Otherwise a step hash: run exactly that planned step.
   */
  readonly stepId: "discover" | string;
  /** The attempt of this request, zero-based (resets after each successful step). */
  readonly attempt: number;
  /** How many attempts a step or the handler gets in total (retries + 1). */
  readonly maxAttempts: number;
  /** True once the run has seen parallel steps: new steps are planned, not run inline. */
  readonly disableImmediateExecution: boolean;
  /**
   * Optional: the `resume` of this driver's previous answer for the run, passed back when the
   * engine asks the very next discovery inline, in the same process, right after committing
   * that answer. A driver may go on from it instead of replaying the handler; it must check
   * that it fits this request (run, stack, attempt, events) and run as usual when it does not.
   */
  readonly resume?: unknown;
}

/** Common fields of every opcode. */
interface OpBase {
  /** The step's hash: sha1 of its user id (with `:n` appended for the n-th repeat). */
  readonly id: string;
  /** The user's step id (Inngest `displayName` / `userland.id`). */
  readonly name: string;
}

/** A step ran and returned `data`. */
export interface StepRunOp extends OpBase {
  readonly op: "StepRun";
  readonly data: unknown;
  /**
   * The step kind, for history: `run`, `sendEvent`, or a request the driver made for the step
   * (`fetch`, `aiInfer`: offloaded `step.fetch` / `step.ai.infer`).
   */
  readonly kind?: "run" | "sendEvent" | "fetch" | "aiInfer";
  /** The arguments the step was called with, for history. */
  readonly input?: readonly unknown[];
  /** When the step's code started and ended (ms since the epoch), for history. */
  readonly timing?: { readonly startedAt: number; readonly endedAt: number };
}

/** A step threw and may be retried (the engine decides, from attempts and `retryAt`). */
export interface StepErrorOp extends OpBase {
  readonly op: "StepError";
  readonly error: SerializedError;
  /** Retry no sooner than this (ms since the epoch), from a RetryAfterError. */
  readonly retryAt?: number;
  readonly timing?: { readonly startedAt: number; readonly endedAt: number };
}

/** A step failed for good (NonRetriableError, or the driver knows attempts are exhausted). */
export interface StepFailedOp extends OpBase {
  readonly op: "StepFailed";
  readonly error: SerializedError;
  readonly timing?: { readonly startedAt: number; readonly endedAt: number };
}

/** A step was found but not run: the engine calls the driver again with `stepId` = its hash. */
export interface StepPlannedOp extends OpBase {
  readonly op: "StepPlanned";
  /**
   * Raced against its siblings (`group.parallel({ mode: "race" })`): the first of the race to
   * finish makes a discovery due at once, and the siblings still planned are dropped.
   */
  readonly race?: boolean;
}

/** Sleep until `until` (ms since the epoch); memoized as `null`. */
export interface SleepOp extends OpBase {
  readonly op: "Sleep";
  readonly until: number;
}

/** Wait for an event; memoized as the event, or `null` after `timeoutMs`. */
export interface WaitForEventOp extends OpBase {
  readonly op: "WaitForEvent";
  /** The awaited event name. */
  readonly event: string;
  /** CEL condition over `event` (the run's trigger) and `async` (the candidate). */
  readonly if?: string;
  /** How long to wait, in ms. */
  readonly timeoutMs: number;
  /**
   * Troupe's extension: more events that also end the wait, each with its own condition. The
   * first event matching any alternative wins; its `name` says which.
   */
  readonly anyOf?: readonly WaitAlternative[];
}

/** One more event a wait takes (see {@link WaitForEventOp.anyOf}). */
export interface WaitAlternative {
  /** The event name. */
  readonly event: string;
  /** CEL condition over `event` (the run's trigger) and `async` (the candidate). */
  readonly if?: string;
}

/**
 * Wait for a signal sent by name (`sendSignal`); memoized as `{ signal, data }`, or `null` after
 * `timeoutMs`. One run waits for a signal at a time: a second waiter replaces the first (which
 * keeps waiting until its timeout) or, with `onConflict: "fail"`, fails its step.
 */
export interface WaitForSignalOp extends OpBase {
  readonly op: "WaitForSignal";
  /** The signal's name. */
  readonly signal: string;
  /** How long to wait, in ms. */
  readonly timeoutMs: number;
  /** What to do when another run waits for the same signal. */
  readonly onConflict: "replace" | "fail";
}

/** Run another function and wait for its result; memoized as `{ data }` or `{ error }`. */
export interface InvokeFunctionOp extends OpBase {
  readonly op: "InvokeFunction";
  /** The invoked function's id. */
  readonly functionId: string;
  /** The child's event `data`. */
  readonly data: unknown;
  /** How long to wait for the child, in ms. */
  readonly timeoutMs: number;
  /** False: cancelling the parent leaves the child running. Default true. */
  readonly cascadeCancel?: boolean;
}

/** One thing a driver reports about a step. Shaped after Inngest's opcodes (research §2.8). */
export type Opcode =
  | StepRunOp
  | StepErrorOp
  | StepFailedOp
  | StepPlannedOp
  | SleepOp
  | WaitForEventOp
  | WaitForSignalOp
  | InvokeFunctionOp;

/** A driver's answer that ends a handler call: it returned or threw. */
export type DriverOutcome = Exclude<DriverResponse, { readonly type: "ops" }>;

/** What a driver answers. */
export type DriverResponse =
  /** The handler returned (Inngest 200 / `RunComplete`). */
  | { readonly type: "complete"; readonly output: unknown }
  /** The handler is blocked on steps (Inngest 206). */
  | {
      readonly type: "ops";
      readonly ops: readonly Opcode[];
      /**
       * Optional: the one step of `ops` ran (`StepRun`) and the handler, given its result, went
       * on and returned (`complete`) or threw (`error`) without reaching another step: what the
       * next discovery would have answered. The engine then commits the step's result and that
       * outcome together; when it cannot (any other outcome of the ops), it ignores this and
       * asks again as usual.
       */
      readonly after?: DriverOutcome;
      /**
       * Optional, in-process only: the handler left waiting at the step(s) it reached after the
       * one that ran, for the engine to pass back as {@link DriverRequest.resume}.
       */
      readonly resume?: unknown;
    }
  /**
   * The handler threw outside any step (Inngest 500/400). `retriable: false` fails the run at
   * once; `retryAt` asks for a later retry.
   */
  | {
      readonly type: "error";
      readonly error: SerializedError;
      readonly retriable: boolean;
      readonly retryAt?: number;
    };

/**
 * The seam between the engine and function code. The in-process driver runs TypeScript
 * handlers; an HTTP driver (next issue) calls Inngest SDK apps and maps their 206 opcodes one to
 * one onto {@link Opcode}. A driver must be stateless between calls: everything it needs is in
 * the request (an in-process driver's `resume` handle travels through the engine, and is only
 * a shortcut: the request alone must do).
 */
export interface FlowDriver {
  /** Runs the function as asked. Throwing counts as a retriable handler error. */
  execute(request: DriverRequest): Promise<DriverResponse>;
}
