/** Moved to `@troupe/core`; re-exported here for code that imported it from flows. */
export type { StorePairedQueue } from "@troupe/core";
export { type Backoff, type BackoffOptions, backoffDelay, resolveBackoff } from "./backoff.js";
export type {
  BulkCancelOptions,
  BulkCancelResult,
  BulkReplayOptions,
  BulkReplayResult,
  BulkRunSelection,
} from "./bulk-runs.js";
export type {
  DriverOutcome,
  DriverRequest,
  DriverResponse,
  FlowDriver,
  InvokeFunctionOp,
  MemoizedStep,
  Opcode,
  SleepOp,
  StepErrorOp,
  StepFailedOp,
  StepPlannedOp,
  StepRunOp,
  WaitAlternative,
  WaitForEventOp,
  WaitForSignalOp,
} from "./driver.js";
export { createFlows } from "./engine.js";
export {
  NonRetriableError,
  RetryAfterError,
  type SerializedError,
  StepError,
  serializeError,
} from "./errors.js";
export type { EventData, EventInput, FlowEvent } from "./event.js";
export type { SkipRecord } from "./flow-control/admission.js";
export type {
  BatchEventsDefinition,
  BatchEventsOption,
  PendingBatch,
} from "./flow-control/batch.js";
export type {
  ConcurrencyDefinition,
  ConcurrencyOption,
} from "./flow-control/concurrency.js";
export type {
  DebounceDefinition,
  DebounceOption,
  PendingDebounce,
} from "./flow-control/debounce.js";
export type { PriorityDefinition, PriorityOption } from "./flow-control/priority.js";
export type { RateLimitDefinition, RateLimitOption } from "./flow-control/rate-limit.js";
export type { SingletonDefinition, SingletonOption } from "./flow-control/singleton.js";
export type {
  ConcurrencyKeyState,
  FlowControlState,
  ThrottleKeyState,
} from "./flow-control/state.js";
export type { ThrottleDefinition, ThrottleOption } from "./flow-control/throttle.js";
export type {
  Admission,
  AdmissionDecision,
  EventRuns,
  Flows,
  FlowsOptions,
  FlowsStartOptions,
  ListEventsOptions,
  ListRunsOptions,
  RunSummary,
  RunView,
  StepView,
  WaitForRunOptions,
} from "./flows-api.js";
export {
  type CancelOn,
  type CronTrigger,
  createFunction,
  type EventTrigger,
  type FailureContext,
  type FlowContext,
  type FlowFunction,
  type FlowHandler,
  type FunctionConfig,
  type FunctionDefinition,
  INTERNAL_EVENTS,
  type Trigger,
} from "./function.js";
export type { PausedFunction } from "./function-pause.js";
export { createInProcessDriver, type InProcessDriverDeps } from "./in-process-driver.js";
export type { RemovedKind } from "./retention/expiry-plan.js";
export {
  DEFAULT_RETENTION,
  type RetentionOptions,
  type RetentionSettings,
  resolveRetention,
  retentionSchema,
} from "./retention/retention-options.js";
export type { RunStatus, StepStatus } from "./run-state.js";
export type { SendSignalResult } from "./signals.js";
export type {
  InvokeOptions,
  ReceivedSignal,
  StepTools,
  WaitForEventOptions,
  WaitForSignalOptions,
} from "./step-tools.js";
