import type { Duration } from "@troupe/core";
import type { EventData, EventInput, FlowEvent } from "./event.js";
import type { FlowFunction } from "./function.js";

/** Options of `step.waitForEvent`. */
export interface WaitForEventOptions {
  /** The awaited event name. */
  readonly event: string;
  /** How long to wait; then the step returns `null`. */
  readonly timeout: Duration;
  /** Shorthand: match when `event.<match>` equals `async.<match>` (e.g. `"data.orderId"`). */
  readonly match?: string;
  /** CEL condition over `event` (this run's trigger) and `async` (the candidate event). */
  readonly if?: string;
  /**
   * Troupe's extension: more events that also end the wait, each with its own `match` or `if`.
   * The step returns the first event matching any of them (its `name` says which); at most 16.
   */
  readonly anyOf?: readonly {
    readonly event: string;
    readonly match?: string;
    readonly if?: string;
  }[];
}

/** Options of `step.waitForSignal`. */
export interface WaitForSignalOptions {
  /** The signal's name, as `Flows.sendSignal` (or Inngest's `sendSignal`) sends it. */
  readonly signal: string;
  /** How long to wait; then the step returns `null`. */
  readonly timeout: Duration;
  /**
   * When another run already waits for this signal: `"replace"` (default) takes the signal over
   * (the other wait stays pending until its timeout); `"fail"` fails this step with
   * `SignalConflictError`.
   */
  readonly onConflict?: "replace" | "fail";
}

/** What `step.waitForSignal` resolves to when the signal arrives. */
export interface ReceivedSignal<TData = unknown> {
  readonly signal: string;
  readonly data: TData;
}

/** Options of `step.invoke`. */
export interface InvokeOptions<TOutput, TData extends EventData = EventData> {
  /** The function to run (or its id). */
  readonly function: FlowFunction<TOutput, TData> | string;
  /** The child's event data. */
  readonly data?: TData;
  /** How long to wait for the child; then the step fails with `InvokeTimeoutError`. Default 1 year. */
  readonly timeout?: Duration;
  /**
   * Cancelling this run cancels the child (and its children) while this step waits for it.
   * False leaves the child running. Default true.
   */
  readonly cascadeCancel?: boolean;
}

/**
 * The durable step tools handed to a handler. Each step has an id unique within the run (a
 * repeated id gets `:1`, `:2`, … appended in call order). Results are memoized by id: a
 * handler that calls different steps on a replay fails with `FLOWS_NONDETERMINISM`.
 */
export interface StepTools {
  /**
   * Runs `fn` once (retried on error) and memoizes what it returns: JSON plus Date, bigint and
   * bytes; `undefined` becomes `null`. `args` are recorded as the step's input in history.
   */
  run<TResult, TArgs extends unknown[] = []>(
    id: string,
    fn: (...args: TArgs) => TResult | Promise<TResult>,
    ...args: TArgs
  ): Promise<Awaited<TResult>>;
  /** Pauses the run for `duration` without holding a worker. */
  sleep(id: string, duration: Duration): Promise<void>;
  /** Pauses the run until `time` (a Date, ms since the epoch, or an ISO string). */
  sleepUntil(id: string, time: Date | number | string): Promise<void>;
  /**
   * Waits for a matching event and returns it, or `null` after the timeout. Events that arrived
   * shortly before the wait was registered (within the engine's `waitLookbackMs`, and after the
   * run was created) also match.
   */
  waitForEvent(id: string, options: WaitForEventOptions): Promise<FlowEvent | null>;
  /**
   * Waits until `Flows.sendSignal(options.signal, data)` is called and returns `{ signal, data }`,
   * or `null` after the timeout. A signal sent while no run waits is not kept.
   */
  waitForSignal<TData = unknown>(
    id: string,
    options: WaitForSignalOptions,
  ): Promise<ReceivedSignal<TData> | null>;
  /** Runs another function as a child run and returns its output (throws StepError if it failed). */
  invoke<TOutput, TData extends EventData = EventData>(
    id: string,
    options: InvokeOptions<TOutput, TData>,
  ): Promise<Awaited<TOutput>>;
  /** Sends events (once, even when retried) and returns their ids. */
  sendEvent(
    id: string,
    events: EventInput | readonly EventInput[],
  ): Promise<{ readonly ids: string[] }>;
}
