import type {
  Clock,
  Counter,
  EnqueueItem,
  Histogram,
  Logger,
  PubSub,
  Queue,
  Store,
} from "@troupe/core";
import type { Backoff } from "./backoff.js";
import type { CommitBatcher } from "./commit-batcher.js";
import type { CronSchedule } from "./cron.js";
import type { FlowControlHost } from "./flow-control/admission.js";
import type { ExecutionControl } from "./flow-control/execution.js";
import type { Admission } from "./flows-api.js";
import type { FunctionPauses } from "./function-pause.js";
import type { FunctionRegistry } from "./function-registry.js";
import type { Ingest } from "./ingest.js";
import type { FlowKeys } from "./keys.js";
import type { LifecycleEvents } from "./lifecycle-events.js";
import type { ReadBatcher } from "./read-batcher.js";
import type { RunActions } from "./run-actions.js";
import type { RunStore } from "./run-store.js";
import type { WaitMatching } from "./wait-matching.js";
import type { WakeUps } from "./wake-ups.js";
import type { WorkerLoop } from "./worker-loop.js";

/** The engine's tuning, resolved from `FlowsOptions` with their defaults. */
export interface EngineSettings {
  readonly workerConcurrency: number;
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly waitLookbackMs: number;
  readonly maxInlineSteps: number;
  readonly sweepGraceMs: number;
  readonly sweepIntervalMs: number;
}

/** The counters and histogram the engine reports (see `FlowsOptions.metrics`). */
export interface EngineMetrics {
  readonly eventsTotal: Counter;
  readonly runsCreated: Counter;
  readonly runsFinished: Counter;
  readonly stepsTotal: Counter;
  readonly stepDuration: Histogram;
}

/**
 * What the parts of one engine share: its ports, settings and the other parts. `createFlows`
 * builds it once; each part reads the others from it when called, never at construction, so
 * the parts may call each other in any order (an event cancels a run, whose end sends an event).
 */
export interface FlowsContext {
  readonly store: Store;
  readonly queue: Queue;
  readonly pubsub?: PubSub;
  readonly clock: Clock;
  readonly prefix: string;
  readonly keys: FlowKeys;
  readonly logger: Logger;
  readonly random: () => number;
  readonly backoff: Backoff;
  readonly newId: () => string;
  readonly settings: EngineSettings;
  readonly admission?: Admission;
  readonly batcher: CommitBatcher;
  /** Hot-path reads (`get`, `list`), merged across the runs in flight. */
  readonly reads: ReadBatcher;
  readonly metrics: EngineMetrics;
  readonly registry: FunctionRegistry;
  readonly wakeUps: WakeUps;
  /** Concurrency, throttle and priority: gates before a step runs. */
  readonly execution: ExecutionControl;
  /** Debounce, batching, rate limit, idempotency and singleton at run creation. */
  readonly flowControl: FlowControlHost;
  readonly runs: RunStore;
  readonly actions: RunActions;
  readonly lifecycle: LifecycleEvents;
  readonly waits: WaitMatching;
  readonly ingest: Ingest;
  readonly cron: CronSchedule;
  /** This process's worker: takes items leased to it in the commit that created them. */
  readonly worker: Pick<WorkerLoop, "reserve" | "unreserve" | "adopt">;
  /** Paused functions (their events are stored and skipped). */
  readonly pauses: FunctionPauses;
  /** Enqueues items and wakes idle workers. */
  enqueue(items: readonly EnqueueItem[]): Promise<void>;
}
