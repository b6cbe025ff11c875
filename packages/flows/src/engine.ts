import {
  createIdGenerator,
  createJsonCodec,
  type EnqueueItem,
  fromUtf8,
  invalidArgument,
  type Lease,
  noopLogger,
  noopMetrics,
  type Queue,
  type Store,
  StoreConflictError,
  type StoreOp,
  systemClock,
  TroupeError,
  type Unsubscribe,
  utf8,
} from "@troupe/core";
import { z } from "zod";
import { backoffDelay, resolveBackoff } from "./backoff.js";
import { createCommitBatcher } from "./commit-batcher.js";
import type { DriverRequest, DriverResponse, FlowDriver } from "./driver.js";
import { type SerializedError, serializeError } from "./errors.js";
import { type EventData, type EventInput, type FlowEvent, validateEventInput } from "./event.js";
import { matches } from "./expression.js";
import {
  createAdmissionControl,
  type FlowControlHost,
  type FollowUps,
  fireFlowControlItem,
  releaseSingleton,
  SINGLETON_CANCELLED,
  type SkipRecord,
} from "./flow-control/admission.js";
import { createStateCleaner } from "./flow-control/cleanup.js";
import { createExecutionControl, type LeaseGate } from "./flow-control/execution.js";
import { readFlowControlState } from "./flow-control/state.js";
import type { Flows, FlowsOptions, ListEventsOptions, ListRunsOptions } from "./flows-api.js";
import {
  type FlowFunction,
  type FunctionDefinition,
  INTERNAL_EVENTS,
  nextCronTick,
} from "./function.js";
import { createInProcessDriver } from "./in-process-driver.js";
import { flowKeys, ulidFloor } from "./keys.js";
import {
  deriveItems,
  type FlowControlItem,
  type Item,
  itemId,
  pendingSteps,
} from "./queue-items.js";
import {
  indexEntryOf,
  listEventEntries,
  listRunIndex,
  runSummaries,
  viewRun,
} from "./run-queries.js";
import {
  isPending,
  isTerminal,
  memoOf,
  type RunRecord,
  type RunStatus,
  type StepRecord,
} from "./run-state.js";

const DEDUPE_WINDOW_MS = 24 * 3_600_000;
const MAX_KEPT_ERRORS = 5;

interface WaitEntry {
  readonly k: "w" | "c";
  readonly r: string;
  readonly h?: string;
  readonly if?: string;
  readonly ev?: FlowEvent;
  readonly exp: number;
}

interface Marker {
  readonly at: number;
  readonly runIds: readonly string[];
  readonly eventIds?: readonly string[];
  /** Flow-control work after the commit (debounce/batch items, singleton cancellations). */
  readonly flow?: FollowUps;
}

/** A queue item about one run (everything but cron ticks and flow-control items). */
type RunItem = Exclude<Item, { k: "c" } | FlowControlItem>;

const isRunItem = (item: Item): item is RunItem => "r" in item;

interface Registered {
  readonly definition: FunctionDefinition;
  readonly driver: FlowDriver;
}

interface Loaded {
  readonly run: RunRecord;
  readonly version: number;
  /** The status as loaded (the record itself is mutated in place before saving). */
  readonly status: RunStatus;
}

interface Advance {
  readonly run?: RunRecord;
  readonly next?: Item;
  /** The run as this worker just committed it, so an inline continuation need not re-read it. */
  readonly saved?: Loaded;
  /** The lease's item was parked behind a full concurrency key: acknowledge it, nothing else. */
  readonly parked?: boolean;
}

const codec = createJsonCodec<unknown>();
const encode = (value: unknown) => codec.encode(value);
const decode = <T>(bytes: Uint8Array) => codec.decode(bytes) as T;

const positiveInt = z.number().int().min(1);
const optionsSchema = z
  .object({
    store: z.custom<Store>(
      (value) => typeof (value as Store | undefined)?.commit === "function",
      "expected a Store (e.g. createSqliteStore(...))",
    ),
    queue: z.custom<Queue>(
      (value) => typeof (value as Queue | undefined)?.claim === "function",
      "expected a Queue (e.g. createSqliteQueue(...))",
    ),
    prefix: z.string().min(1).max(256).optional(),
    workerConcurrency: positiveInt.max(10_000).optional(),
    leaseMs: positiveInt.optional(),
    pollIntervalMs: positiveInt.optional(),
    waitLookbackMs: z.number().int().min(0).optional(),
    maxInlineSteps: positiveInt.optional(),
    sweepGraceMs: z.number().int().min(0).optional(),
    sweepIntervalMs: positiveInt.optional(),
    functions: z.array(z.unknown()).optional(),
  })
  .loose();

function validateOptions(options: FlowsOptions): void {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return;
  const issue = parsed.error.issues[0];
  throw invalidArgument(
    `createFlows.options.${issue?.path.join(".") || "options"}`,
    issue?.message ?? "invalid option",
  );
}

/**
 * Creates the durable functions engine on a Store and a Queue (any adapters). Events are stored
 * and matched to triggers; each run is driven by Queue items; every state change of a run is one
 * guarded Store commit, and the items a run needs next are derived from its state with
 * deterministic ids, so a crash between commit and enqueue is repaired by re-claiming the item.
 */
export function createFlows(options: FlowsOptions): Flows {
  validateOptions(options);
  const { store, queue, pubsub } = options;
  const clock = options.clock ?? systemClock;
  const prefix = options.prefix ?? "flows/";
  const keys = flowKeys(prefix);
  const logger = options.logger ?? noopLogger;
  const random = options.random ?? Math.random;
  const backoff = resolveBackoff(options.backoff);
  const workerConcurrency = options.workerConcurrency ?? 16;
  const leaseMs = options.leaseMs ?? 30_000;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const waitLookbackMs = options.waitLookbackMs ?? 60_000;
  const maxInlineSteps = options.maxInlineSteps ?? 64;
  const sweepGraceMs = options.sweepGraceMs ?? 10_000;
  const sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  const admission = options.admission;
  const newId = createIdGenerator(clock);
  const batcher = createCommitBatcher(store);
  // Concurrency, throttle and priority (flow-control/execution.ts): gates before a step runs.
  const execution = createExecutionControl({
    store,
    commit: (ops) => batcher.commit(ops),
    enqueue: (items) => enqueueItems(items),
    now: () => clock.now(),
    leaseMs,
    prefix,
    definition: (functionId) => registry.get(functionId)?.definition,
  });
  const metrics = options.metrics ?? noopMetrics;
  const eventsTotal = metrics.counter("flows_events_total", { help: "Events stored" });
  const runsCreated = metrics.counter("flows_runs_created_total", { help: "Runs created" });
  const runsFinished = metrics.counter("flows_runs_finished_total", { help: "Runs finished" });
  const stepsTotal = metrics.counter("flows_steps_total", { help: "Step attempts by outcome" });
  const stepDuration = metrics.histogram("flows_step_duration_ms", {
    help: "Time a step's code ran, ms",
    buckets: [1, 5, 10, 50, 100, 500, 1000, 5000, 30_000],
  });
  const countCreated = (runs: readonly RunRecord[]) => {
    for (const run of runs) runsCreated.inc(1, { function: run.functionId });
  };
  const wakeChannel = `${prefix.replace(/[^A-Za-z0-9._:/-]/g, "_")}wake`;

  const registry = new Map<string, Registered>();
  /** Set once the cron ticks of the functions known at start are scheduled. */
  let schedulesReady = false;
  const triggersByEvent = new Map<string, { functionId: string; condition?: string }[]>();

  const removeTriggers = (functionId: string) => {
    for (const [name, list] of triggersByEvent) {
      const kept = list.filter((trigger) => trigger.functionId !== functionId);
      if (kept.length === 0) triggersByEvent.delete(name);
      else if (kept.length !== list.length) triggersByEvent.set(name, kept);
    }
  };

  /**
   * Adds or replaces a function. Everything runs synchronously, so no event is matched against a
   * half-replaced function: the definition, driver, triggers and flow-control config change
   * together. Runs in flight look the function up on every step and continue with the new ones.
   */
  const register = (
    definition: FunctionDefinition,
    driver: FlowDriver,
    mode: "replace" | "unique" = "replace",
  ) => {
    if (mode === "unique" && registry.has(definition.id)) {
      throw invalidArgument(
        "functions",
        `function id ${JSON.stringify(definition.id)} is registered twice`,
      );
    }
    removeTriggers(definition.id);
    registry.set(definition.id, { definition, driver });
    for (const trigger of definition.triggers) {
      if (!("event" in trigger)) continue;
      const list = triggersByEvent.get(trigger.event) ?? [];
      list.push(
        trigger.if === undefined
          ? { functionId: definition.id }
          : { functionId: definition.id, condition: trigger.if },
      );
      triggersByEvent.set(trigger.event, list);
    }
    // Registered after the schedules were laid out at start: schedule this function's ticks now
    // (tick ids are deterministic, so a replacement with the same schedule adds no duplicate).
    if (schedulesReady) scheduleLater(definition);
  };

  const unregister = (functionId: string): boolean => {
    if (!registry.delete(functionId)) return false;
    removeTriggers(functionId);
    return true;
  };

  const driverDeps = {
    clock,
    send: async (events: readonly EventInput[]) => ({ ids: await ingest(events) }),
  };
  for (const fn of options.functions ?? []) {
    register(
      fn.definition,
      createInProcessDriver(fn as FlowFunction<unknown, EventData>, driverDeps),
      "unique",
    );
    if (fn.onFailure) {
      const id = `${fn.id}-failure`;
      register(
        {
          id,
          name: `${fn.definition.name} (failure)`,
          triggers: [{ event: INTERNAL_EVENTS.failed, if: `event.data.function_id == '${fn.id}'` }],
          retries: 1,
          cancelOn: [],
        },
        createInProcessDriver(
          fn as FlowFunction<unknown, EventData>,
          driverDeps,
          fn as FlowFunction<unknown, EventData>,
        ),
        "unique",
      );
    }
  }

  // ---------------------------------------------------------------- wake-ups

  let wakeResolvers: (() => void)[] = [];
  const wakeLocal = () => {
    const resolvers = wakeResolvers;
    wakeResolvers = [];
    for (const resolve of resolvers) resolve();
  };
  // At most one wake-up message per event-loop turn: a burst of enqueues (a batch of events,
  // many runs settling at once) must not become a burst of NOTIFYs.
  let wakePublishPending = false;
  const wake = () => {
    wakeLocal();
    if (!pubsub || !running || wakePublishPending) return;
    wakePublishPending = true;
    setImmediate(() => {
      wakePublishPending = false;
      pubsub.publish(wakeChannel, new Uint8Array(0)).catch((error: unknown) => {
        logger.warn("flows: wake-up publish failed", { error });
      });
    });
  };

  const enqueueItems = async (items: readonly EnqueueItem[]) => {
    if (items.length === 0) return;
    await queue.enqueueMany(items);
    wake();
  };

  // ---------------------------------------------------------------- runs

  const indexOps = (run: RunRecord): StoreOp[] => {
    const value = encode(indexEntryOf(run));
    return [
      { type: "set", key: keys.runByFunction(run.functionId, run.id), value },
      { type: "set", key: keys.runAll(run.id), value },
    ];
  };

  const createRun = (
    definition: FunctionDefinition,
    events: readonly FlowEvent[],
    extra: {
      parent?: RunRecord["parent"];
      rerunOf?: string;
      steps?: Record<string, StepRecord>;
      stack?: string[];
    } = {},
  ): { run: RunRecord; ops: StoreOp[] } => {
    const now = clock.now();
    const id = newId();
    const run: RunRecord = {
      id,
      functionId: definition.id,
      status: "queued",
      events,
      createdAt: now,
      gen: 0,
      attempt: 0,
      forcePlan: false,
      steps: extra.steps ?? {},
      stack: extra.stack ?? [],
      cancelKeys: [],
      ...(definition.startTimeoutMs === undefined
        ? {}
        : { startBy: now + definition.startTimeoutMs }),
      ...(extra.parent ? { parent: extra.parent } : {}),
      ...(extra.rerunOf ? { rerunOf: extra.rerunOf } : {}),
      ...execution.runFields(definition, events, now),
    };
    const ops: StoreOp[] = [];
    definition.cancelOn.forEach((cancel, index) => {
      const key = keys.wait(cancel.event, id, `c${index}`);
      const entry: WaitEntry = {
        k: "c",
        r: id,
        exp: now + cancel.timeoutMs,
        ...(cancel.if === undefined ? {} : { if: cancel.if, ev: events[0] }),
      };
      run.cancelKeys.push(key);
      ops.push({ type: "set", key, value: encode(entry) });
    });
    ops.unshift({ type: "set", key: keys.run(id), value: encode(run), expect: "absent" });
    ops.push(...indexOps(run));
    // Runs by triggering event (a batch run is listed under each of its events).
    const byEvent = encode({ f: definition.id });
    for (const event of events) {
      ops.push({ type: "set", key: keys.runByEvent(event.id, id), value: byEvent });
    }
    return { run, ops };
  };

  const loadRun = async (runId: string): Promise<Loaded | undefined> => {
    const entry = await store.get(keys.run(runId));
    if (!entry) return undefined;
    const run = decode<RunRecord>(entry.value);
    return { run, version: entry.version, status: run.status };
  };

  const saveRun = async (
    loaded: Loaded,
    run: RunRecord,
    extra: readonly StoreOp[],
  ): Promise<Loaded> => {
    const ops: StoreOp[] = [
      { type: "set", key: keys.run(run.id), value: encode(run), expect: loaded.version },
      ...extra,
    ];
    if (loaded.status !== run.status) ops.push(...indexOps(run));
    const { version } = await batcher.commit(ops);
    if (loaded.status !== run.status && isTerminal(run.status)) {
      runsFinished.inc(1, { function: run.functionId, status: run.status });
    }
    return { run, version, status: run.status };
  };

  const itemsFor = (run: RunRecord): EnqueueItem[] => deriveItems(run, clock.now());

  /** Marks a run finished and returns the ops deleting its waits. */
  const finishRun = (
    run: RunRecord,
    status: "completed" | "failed" | "cancelled",
    result: { output?: unknown; error?: SerializedError },
  ): StoreOp[] => {
    run.status = status;
    run.endedAt = clock.now();
    if (result.output !== undefined) run.output = result.output;
    if (result.error !== undefined) run.error = result.error;
    delete run.nextAt;
    const ops: StoreOp[] = run.cancelKeys.map((key) => ({ type: "delete", key }));
    for (const step of Object.values(run.steps)) {
      if (step.status === "waiting" && step.wait) ops.push({ type: "delete", key: step.wait.key });
    }
    return ops;
  };

  /** After a step resolved: a new discovery is due once nothing else is pending. */
  const progressed = (run: RunRecord): Item | undefined => {
    run.attempt = 0;
    delete run.nextAt;
    if (pendingSteps(run).length > 0) return undefined;
    run.gen++;
    return { k: "d", r: run.id, g: run.gen };
  };

  const maxAttemptsOf = (run: RunRecord) =>
    (registry.get(run.functionId)?.definition.retries ?? 0) + 1;

  const keepErrors = (step: StepRecord | undefined, error: SerializedError) =>
    [...(step?.errors ?? []), error].slice(-MAX_KEPT_ERRORS);

  interface Applied {
    readonly extra: StoreOp[];
    readonly next: Item | undefined;
    readonly lookbacks: { hash: string; event: string; condition?: string }[];
    readonly children: RunRecord[];
  }

  /** Applies a driver response to a freshly loaded run (mutating it). */
  const applyResponse = (
    run: RunRecord,
    response: DriverResponse,
    mode: "discover" | string,
  ): Applied => {
    const now = clock.now();
    const extra: StoreOp[] = [];
    const lookbacks: Applied["lookbacks"] = [];
    const children: RunRecord[] = [];
    const maxAttempts = maxAttemptsOf(run);
    let next: Item | undefined;

    if (response.type === "complete") {
      extra.push(...finishRun(run, "completed", { output: response.output ?? null }));
      return { extra, next, lookbacks, children };
    }
    if (response.type === "error") {
      const planned = mode === "discover" ? undefined : run.steps[mode];
      const attempt = planned ? planned.attempts : run.attempt;
      if (response.retriable && attempt + 1 < maxAttempts) {
        const at = response.retryAt ?? now + backoffDelay(backoff, attempt, random);
        if (planned) {
          planned.attempts = attempt + 1;
          planned.at = at;
          planned.errors = keepErrors(planned, response.error);
        } else {
          run.attempt = attempt + 1;
          run.nextAt = at;
          run.error = response.error;
        }
      } else {
        extra.push(...finishRun(run, "failed", { error: response.error }));
      }
      return { extra, next, lookbacks, children };
    }

    let madeProgress = false;
    let retryScheduled = false;
    for (const op of response.ops) {
      const existing = run.steps[op.id];
      if (existing && (existing.status === "completed" || existing.status === "failed")) continue;
      const attempts = existing?.attempts ?? 0;
      switch (op.op) {
        case "StepRun": {
          run.steps[op.id] = {
            name: op.name,
            op: op.kind ?? "run",
            status: "completed",
            attempts: attempts + 1,
            startedAt: op.timing?.startedAt ?? now,
            endedAt: op.timing?.endedAt ?? now,
            output: op.data === undefined ? null : op.data,
            ...(op.input === undefined ? {} : { input: op.input }),
            ...(existing?.errors ? { errors: existing.errors } : {}),
          };
          run.stack.push(op.id);
          madeProgress = true;
          break;
        }
        case "StepError":
        case "StepFailed": {
          const attempt = mode === "discover" ? run.attempt : attempts;
          const errors = keepErrors(existing, op.error);
          const timing = op.op === "StepError" || op.op === "StepFailed" ? op.timing : undefined;
          if (op.op === "StepError" && attempt + 1 < maxAttempts) {
            const at = op.retryAt ?? now + backoffDelay(backoff, attempt, random);
            run.steps[op.id] = {
              name: op.name,
              op: "run",
              status: mode === "discover" ? "errored" : "planned",
              attempts: attempt + 1,
              at,
              errors,
              ...(timing ? { startedAt: timing.startedAt } : {}),
            };
            if (mode === "discover") {
              run.attempt = attempt + 1;
              run.nextAt = at;
            }
            retryScheduled = true;
            break;
          }
          run.steps[op.id] = {
            name: op.name,
            op: "run",
            status: "failed",
            attempts: attempt + 1,
            error: op.error,
            errors,
            startedAt: timing?.startedAt ?? now,
            endedAt: timing?.endedAt ?? now,
          };
          run.stack.push(op.id);
          madeProgress = true;
          break;
        }
        case "StepPlanned": {
          if (existing?.status === "planned") break;
          run.steps[op.id] = { name: op.name, op: "run", status: "planned", attempts };
          madeProgress = true;
          break;
        }
        case "Sleep": {
          run.steps[op.id] = {
            name: op.name,
            op: "sleep",
            status: "sleeping",
            attempts: 0,
            startedAt: now,
            at: op.until,
          };
          madeProgress = true;
          break;
        }
        case "WaitForEvent": {
          const key = keys.wait(op.event, run.id, op.id);
          const entry: WaitEntry = {
            k: "w",
            r: run.id,
            h: op.id,
            exp: now + op.timeoutMs,
            ...(op.if === undefined ? {} : { if: op.if, ev: run.events[0] }),
          };
          extra.push({ type: "set", key, value: encode(entry) });
          run.steps[op.id] = {
            name: op.name,
            op: "waitForEvent",
            status: "waiting",
            attempts: 0,
            startedAt: now,
            at: now + op.timeoutMs,
            wait:
              op.if === undefined ? { event: op.event, key } : { event: op.event, if: op.if, key },
          };
          lookbacks.push(
            op.if === undefined
              ? { hash: op.id, event: op.event }
              : { hash: op.id, event: op.event, condition: op.if },
          );
          madeProgress = true;
          break;
        }
        case "InvokeFunction": {
          const target = registry.get(op.functionId);
          if (!target) {
            run.steps[op.id] = {
              name: op.name,
              op: "invoke",
              status: "failed",
              attempts: 1,
              startedAt: now,
              endedAt: now,
              error: {
                name: "FLOWS_FUNCTION_NOT_FOUND",
                message: `step.invoke: no function ${JSON.stringify(op.functionId)} is registered`,
              },
            };
            run.stack.push(op.id);
            madeProgress = true;
            break;
          }
          const invokedEvent: FlowEvent = {
            id: newId(),
            name: INTERNAL_EVENTS.invoked,
            data: {
              ...(typeof op.data === "object" && op.data !== null
                ? (op.data as Record<string, unknown>)
                : {}),
            },
            ts: now,
          };
          const child = createRun(target.definition, [invokedEvent], {
            parent: { runId: run.id, hash: op.id },
          });
          extra.push(...child.ops);
          children.push(child.run);
          run.steps[op.id] = {
            name: op.name,
            op: "invoke",
            status: "invoking",
            attempts: 0,
            startedAt: now,
            at: now + op.timeoutMs,
            input: [op.data],
            child: { runId: child.run.id, functionId: op.functionId, data: op.data },
          };
          madeProgress = true;
          break;
        }
      }
    }
    if (mode === "discover") run.forcePlan = response.ops.length > 1;
    if (madeProgress && !retryScheduled) next = progressed(run);
    else if (madeProgress) {
      // A retry is scheduled next to other progress: keep the retry's time for the discovery.
      const at = run.nextAt;
      next = progressed(run);
      if (at !== undefined) {
        run.nextAt = at;
        next = undefined;
      }
    }
    if (run.nextAt !== undefined && run.nextAt > now) next = undefined;
    return { extra, next, lookbacks, children };
  };

  const callDriver = async (
    run: RunRecord,
    stepId: string,
    attempt: number,
  ): Promise<DriverResponse> => {
    const registered = registry.get(run.functionId);
    if (!registered) {
      return {
        type: "error",
        retriable: false,
        error: {
          name: "FLOWS_FUNCTION_NOT_FOUND",
          message: `function ${JSON.stringify(run.functionId)} is not registered in this engine (never registered, or removed by unregisterFunction)`,
        },
      };
    }
    const event = run.events[0];
    if (!event) throw new TroupeError("INTERNAL", `run ${run.id} has no event`);
    const request: DriverRequest = {
      functionId: run.functionId,
      runId: run.id,
      event,
      events: run.events,
      steps: memoOf(run),
      stack: run.stack,
      stepId,
      attempt,
      maxAttempts: registered.definition.retries + 1,
      disableImmediateExecution: run.forcePlan,
    };
    try {
      return await registered.driver.execute(request);
    } catch (error) {
      return { type: "error", retriable: true, error: serializeError(error) };
    }
  };

  /** Resolves a pending step of a run (a wait, a sleep, an invocation) if it still is pending. */
  const resolveStep = async (
    runId: string,
    hash: string,
    resolver: (
      step: StepRecord,
      run: RunRecord,
    ) => { data: unknown } | { error: SerializedError } | undefined,
  ): Promise<RunRecord | undefined> => {
    for (;;) {
      const loaded = await loadRun(runId);
      if (!loaded || isTerminal(loaded.run.status)) return undefined;
      const run = loaded.run;
      const step = run.steps[hash];
      if (!step || !isPending(step)) return undefined;
      const outcome = resolver(step, run);
      if (!outcome) return undefined;
      const extra: StoreOp[] = [];
      if (step.wait) extra.push({ type: "delete", key: step.wait.key });
      step.endedAt = clock.now();
      step.attempts = Math.max(1, step.attempts);
      delete step.at;
      if ("error" in outcome) {
        step.status = "failed";
        step.error = outcome.error;
      } else {
        step.status = "completed";
        step.output = outcome.data;
      }
      run.stack.push(hash);
      progressed(run);
      try {
        await saveRun(loaded, run, extra);
      } catch (error) {
        if (StoreConflictError.isInstance(error)) continue;
        throw error;
      }
      await enqueueItems(itemsFor(run));
      return run;
    }
  };

  const lookback = async (run: RunRecord, wait: Applied["lookbacks"][number]) => {
    const now = clock.now();
    const from = Math.max(now - waitLookbackMs, run.createdAt);
    const own = new Set(run.events.map((event) => event.id));
    const entries = await store.list({
      prefix: keys.eventsByName(wait.event),
      start: keys.eventByName(wait.event, ulidFloor(from)),
    });
    for (const entry of entries) {
      const event = decode<FlowEvent>(entry.value);
      if (own.has(event.id)) continue;
      if (
        wait.condition !== undefined &&
        !matches(wait.condition, { event: run.events[0], async: event })
      )
        continue;
      return resolveStep(run.id, wait.hash, (step) =>
        step.status === "waiting" ? { data: event } : undefined,
      );
    }
    return undefined;
  };

  const cancelRun = async (
    runId: string,
    error: SerializedError,
  ): Promise<RunRecord | undefined> => {
    for (;;) {
      const loaded = await loadRun(runId);
      if (!loaded || isTerminal(loaded.run.status)) return undefined;
      const run = loaded.run;
      const extra = finishRun(run, "cancelled", { error });
      try {
        await saveRun(loaded, run, extra);
      } catch (conflict) {
        if (StoreConflictError.isInstance(conflict)) continue;
        throw conflict;
      }
      await afterTerminal(run);
      return run;
    }
  };

  /** Follow-ups of a finished run; idempotent, so re-running after a crash is harmless. */
  const afterTerminal = async (run: RunRecord) => {
    await releaseSingleton(flowControl, run);
    if (run.finishBy !== undefined) {
      await queue.remove(itemId({ k: "x", r: run.id })).catch(() => false);
    }
    if (run.parent) {
      const { runId, hash } = run.parent;
      await resolveStep(runId, hash, (step) => {
        if (step.status !== "invoking" || step.child?.runId !== run.id) return undefined;
        if (run.status === "completed") return { data: run.output ?? null };
        return { error: run.error ?? { name: "Error", message: `invoked run ${run.status}` } };
      });
    }
    // A run started by a lifecycle event emits none itself: a function listening to
    // `inngest/function.finished` would otherwise trigger itself forever.
    const trigger = run.events[0]?.name;
    const lifecycle =
      trigger === INTERNAL_EVENTS.finished ||
      trigger === INTERNAL_EVENTS.cancelled ||
      trigger === INTERNAL_EVENTS.failed;
    if (lifecycle) return;
    if (run.status === "failed") {
      await ingestOne(
        {
          name: INTERNAL_EVENTS.failed,
          id: `${run.id}:failed`,
          data: {
            function_id: run.functionId,
            run_id: run.id,
            error: run.error ?? { name: "Error", message: "failed" },
            event: run.events[0] ?? null,
          },
        },
        {},
      );
    }
    if (run.status === "cancelled" && triggersByEvent.has(INTERNAL_EVENTS.cancelled)) {
      await ingestOne(
        {
          name: INTERNAL_EVENTS.cancelled,
          id: `${run.id}:cancelled`,
          data: {
            function_id: run.functionId,
            run_id: run.id,
            error: run.error ?? { name: "FLOWS_CANCELLED", message: "cancelled" },
            event: run.events[0] ?? null,
          },
        },
        {},
      );
    }
    if (triggersByEvent.has(INTERNAL_EVENTS.finished)) {
      await ingestOne(
        {
          name: INTERNAL_EVENTS.finished,
          id: `${run.id}:finished`,
          data: {
            function_id: run.functionId,
            run_id: run.id,
            status: run.status,
            // The triggering event(s), as Inngest sends them: listeners need not read the run.
            event: run.events[0] ?? null,
            events: run.events,
            ...(run.output === undefined ? {} : { result: run.output }),
            ...(run.error === undefined ? {} : { error: run.error }),
          },
        },
        {},
      );
    }
  };

  // ---------------------------------------------------------------- flow control (admission)

  const hasFollowUps = (follow: FollowUps) =>
    follow.items.length > 0 || follow.cancel.length > 0 || follow.remove.length > 0;

  /** After a commit with flow-control changes; idempotent, so `sweep` may redo it. */
  const runFollowUps = async (follow: FollowUps) => {
    await enqueueItems(
      follow.items.map(({ item, at }) => ({
        id: itemId(item),
        payload: utf8(JSON.stringify(item)),
        availableAt: Math.max(0, Math.round(at)),
      })),
    );
    for (const id of follow.remove) await queue.remove(id).catch(() => false);
    for (const runId of follow.cancel) await cancelRun(runId, SINGLETON_CANCELLED);
  };

  const cleanFlowControlState = createStateCleaner({ store, prefix, now: () => clock.now() });

  const flowControl: FlowControlHost = {
    store,
    prefix,
    keys,
    clock,
    definition: (functionId) => registry.get(functionId)?.definition,
    createRun: (definition, events) => createRun(definition, events),
    isActive: async (runId) => {
      const loaded = await loadRun(runId);
      return loaded !== undefined && !isTerminal(loaded.run.status);
    },
    commitRuns: async (ops, runs, follow) => {
      const markerKey = keys.marker(newId());
      const marker: Marker = {
        at: clock.now(),
        runIds: runs.map((run) => run.id),
        ...(hasFollowUps(follow) ? { flow: follow } : {}),
      };
      await batcher.commit([...ops, { type: "set", key: markerKey, value: encode(marker) }]);
      countCreated(runs);
      // Same path as runs created at ingestion: concurrency and throttle gate their start.
      await enqueueItems(await execution.admitNewRuns(runs, itemsFor));
      await runFollowUps(follow);
      deleteMarkerLater(markerKey);
    },
  };

  /** The runs an event started and the functions it started none of, with the reason. */
  const getEventRuns = async (eventId: string) => {
    const [byEvent, skipEntries] = await Promise.all([
      store.list({ prefix: keys.runsByEvent(eventId), limit: 1000 }),
      store.list({ prefix: keys.eventSkips(eventId), limit: 1000 }),
    ]);
    const base = keys.runsByEvent(eventId);
    const runIds = byEvent.map((entry) => entry.key.slice(base.length));
    const runs = await runSummaries(store, keys, runIds);
    const skipped = skipEntries.map((entry) => decode<SkipRecord>(entry.value));
    return { runs, skipped };
  };

  // ---------------------------------------------------------------- events

  // Markers are deleted in batches, off the hot path: a marker left behind only costs a
  // harmless re-check by `sweep`.
  const markerDeletes: string[] = [];
  let markerTimer: { cancel(): void } | undefined;
  const flushMarkers = async () => {
    markerTimer?.cancel();
    markerTimer = undefined;
    while (markerDeletes.length > 0) {
      const batch = markerDeletes.splice(0, 500);
      await batcher.commit(batch.map((key) => ({ type: "delete", key }) as const));
    }
  };
  const deleteMarkerLater = (key: string) => {
    markerDeletes.push(key);
    if (markerTimer) return;
    markerTimer = clock.setTimer(20, () => {
      markerTimer = undefined;
      flushMarkers().catch((error: unknown) => {
        logger.warn("flows: deleting processed markers failed; sweep will redo them", { error });
      });
    });
  };

  /** Resolves waits and cancellations matched by `events` (listed once per event name). */
  const deliver = async (events: readonly FlowEvent[]) => {
    const byName = new Map<string, FlowEvent[]>();
    for (const event of events) byName.set(event.name, [...(byName.get(event.name) ?? []), event]);
    for (const [name, named] of byName) {
      const entries = await store.list({ prefix: keys.waitsFor(name) });
      if (entries.length === 0) continue;
      const now = clock.now();
      const used = new Set<string>();
      for (const event of named) {
        for (const entry of entries) {
          if (used.has(entry.key)) continue;
          const wait = decode<WaitEntry>(entry.value);
          if (wait.exp <= now) continue;
          if (wait.if !== undefined && !matches(wait.if, { event: wait.ev, async: event }))
            continue;
          used.add(entry.key);
          if (wait.k === "c") {
            await cancelRun(wait.r, {
              name: "FLOWS_CANCELLED",
              message: `cancelled by event ${event.name} (${event.id})`,
            });
          } else if (wait.h !== undefined) {
            const key = entry.key;
            await resolveStep(wait.r, wait.h, (step) =>
              step.status === "waiting" && step.wait?.key === key ? { data: event } : undefined,
            );
          }
        }
      }
    }
  };

  const MAX_EVENTS_PER_COMMIT = 100;

  /**
   * Stores a batch of events with the runs they trigger and a recovery marker in ONE commit,
   * then enqueues the runs' first items and resolves waits. A crash after the commit leaves the
   * marker, and `sweep` redoes the rest.
   */
  const ingestBatch = async (
    inputs: readonly EventInput[],
    route: { onlyFunction?: string },
  ): Promise<string[]> => {
    for (let tries = 0; ; tries++) {
      const now = clock.now();
      const events: FlowEvent[] = inputs.map((input) => ({
        id: input.eventId ?? newId(),
        name: input.name,
        data: input.data ?? {},
        ts: input.ts ?? now,
        ...(input.user === undefined ? {} : { user: input.user }),
        ...(input.v === undefined ? {} : { v: input.v }),
        ...(input.id === undefined ? {} : { dedupeId: input.id }),
      }));
      const ops: StoreOp[] = [];
      const duplicate = new Set<number>();
      // Caller-chosen event ids already stored (a retried send): neither stored nor routed again.
      const replayed = new Set<number>();
      const chosen = inputs.flatMap((input, index) =>
        input.eventId === undefined ? [] : [{ index, id: input.eventId }],
      );
      if (chosen.length > 0) {
        const stored = await store.getMany(chosen.map(({ id }) => keys.event(id)));
        const seen = new Set<string>();
        chosen.forEach(({ index, id }, position) => {
          if (stored[position] || seen.has(id)) replayed.add(index);
          seen.add(id);
        });
      }
      const dedupeIds = [
        ...new Set(inputs.flatMap((input) => (input.id === undefined ? [] : [input.id]))),
      ];
      const existing = await store.getMany(dedupeIds.map((id) => keys.dedupe(id)));
      const fresh = new Map<string, number>();
      dedupeIds.forEach((id, index) => {
        const entry = existing[index];
        if (entry && decode<{ at: number }>(entry.value).at > now - DEDUPE_WINDOW_MS) return;
        fresh.set(id, entry ? entry.version : 0);
      });
      inputs.forEach((input, index) => {
        if (input.id === undefined || replayed.has(index)) return;
        const version = fresh.get(input.id);
        if (version === undefined) {
          duplicate.add(index);
          return;
        }
        fresh.delete(input.id);
        ops.push({
          type: "set",
          key: keys.dedupe(input.id),
          value: encode({ eventId: events[index]?.id, at: now }),
          expect: version === 0 ? "absent" : version,
        });
      });
      const runs: RunRecord[] = [];
      // Events no function's trigger took: logged once stored, so a typo in a name shows up.
      const unmatched: FlowEvent[] = [];
      const control = createAdmissionControl(flowControl, now);
      for (const [index, event] of events.entries()) {
        if (replayed.has(index)) continue;
        const stored = encode(event);
        // A caller-chosen id must still be absent: a concurrent send of the same id conflicts
        // here, and the retry finds it stored.
        ops.push({
          type: "set",
          key: keys.event(event.id),
          value: stored,
          ...(inputs[index]?.eventId === undefined ? {} : { expect: "absent" as const }),
        });
        ops.push({ type: "set", key: keys.eventByName(event.name, event.id), value: stored });
        if (duplicate.has(index)) continue;
        const targets: FunctionDefinition[] = [];
        if (route.onlyFunction !== undefined) {
          const registered = registry.get(route.onlyFunction);
          if (registered) targets.push(registered.definition);
        } else {
          const seen = new Set<string>();
          for (const trigger of triggersByEvent.get(event.name) ?? []) {
            if (seen.has(trigger.functionId)) continue;
            if (trigger.condition !== undefined && !matches(trigger.condition, { event })) continue;
            const registered = registry.get(trigger.functionId);
            if (!registered) continue;
            seen.add(trigger.functionId);
            targets.push(registered.definition);
          }
          // Lifecycle events (`inngest/function.failed`, …) are sent whether or not anyone listens.
          if (targets.length === 0 && !event.name.startsWith("inngest/")) unmatched.push(event);
        }
        for (const definition of targets) {
          if (admission) {
            const decision = await admission({
              functionId: definition.id,
              event,
              store,
              keyPrefix: `${prefix}fc/`,
            });
            if (decision.action === "skip") {
              control.skip(event.id, definition.id, decision.reason);
              continue;
            }
          }
          // Flow control: rate limit, idempotency and singleton may skip the event; debounce
          // and batching hold it (a queue item starts the run later) or release a batch now.
          for (const started of await control.admit(definition, event)) {
            const created = createRun(definition, started);
            control.created(definition, created.run);
            runs.push(created.run);
            ops.push(...created.ops);
          }
        }
      }
      ops.push(...control.ops());
      const follow = control.followUps();
      const live = events.filter((_, index) => !duplicate.has(index) && !replayed.has(index));
      const first = events.find((_, index) => !replayed.has(index));
      const markerKey = first && live.length > 0 ? keys.marker(first.id) : undefined;
      if (markerKey) {
        const marker: Marker = {
          at: now,
          runIds: runs.map((run) => run.id),
          eventIds: live.map((event) => event.id),
          ...(hasFollowUps(follow) ? { flow: follow } : {}),
        };
        ops.push({ type: "set", key: markerKey, value: encode(marker) });
      }
      try {
        await batcher.commit(ops);
      } catch (error) {
        // Flow-control state (a batch, a rate-limit key) is shared by concurrent senders: a
        // conflict means another sender won this round, so retrying always makes progress.
        if (StoreConflictError.isInstance(error) && tries < 100) continue;
        throw error;
      }
      eventsTotal.inc(events.length);
      countCreated(runs);
      for (const event of unmatched) {
        logger.info("flows: event matched no function", { event: event.name, eventId: event.id });
      }
      if (markerKey) {
        await enqueueItems(await execution.admitNewRuns(runs, itemsFor));
        await runFollowUps(follow);
        await deliver(live);
        deleteMarkerLater(markerKey);
      }
      return events.map((event) => event.id);
    }
  };

  const ingestOne = async (input: EventInput, route: { onlyFunction?: string }) =>
    (await ingestBatch([input], route))[0] as string;

  const ingest = async (inputs: readonly EventInput[]): Promise<string[]> => {
    const validated = inputs.map((input, index) => validateEventInput(input, `events[${index}]`));
    const ids: string[] = [];
    for (let offset = 0; offset < validated.length; offset += MAX_EVENTS_PER_COMMIT) {
      ids.push(...(await ingestBatch(validated.slice(offset, offset + MAX_EVENTS_PER_COMMIT), {})));
    }
    return ids;
  };

  // ---------------------------------------------------------------- cron

  const cronItems = (definition: FunctionDefinition, now: number): EnqueueItem[] => {
    const items: EnqueueItem[] = [];
    definition.triggers.forEach((trigger, index) => {
      if (!("cron" in trigger)) return;
      const tick = nextCronTick(trigger.cron, trigger.timezone, now);
      if (tick === undefined) return;
      const item: Item = { k: "c", f: definition.id, i: index, t: tick };
      items.push({ id: itemId(item), payload: utf8(JSON.stringify(item)), availableAt: tick });
    });
    return items;
  };

  const scheduleCrons = async () => {
    const now = clock.now();
    const items: EnqueueItem[] = [];
    for (const { definition } of registry.values()) items.push(...cronItems(definition, now));
    await enqueueItems(items);
  };

  /** Schedules work that `registerFunction` (synchronous) started; `runDue` and `stop` await it. */
  let scheduling: Promise<void> = Promise.resolve();
  const scheduleLater = (definition: FunctionDefinition) => {
    const items = cronItems(definition, clock.now());
    if (items.length === 0) return;
    scheduling = scheduling.then(() =>
      enqueueItems(items).catch((error: unknown) => {
        logger.error("flows: scheduling a registered function's cron failed", {
          functionId: definition.id,
          error,
        });
      }),
    );
  };

  const fireCron = async (item: Extract<Item, { k: "c" }>) => {
    const registered = registry.get(item.f);
    const trigger = registered?.definition.triggers[item.i];
    if (!registered || !trigger || !("cron" in trigger)) return;
    // A tick left from before a re-registration changed this trigger's schedule: a no-op, its
    // chain ends here (the new schedule's chain was started by the registration).
    if (nextCronTick(trigger.cron, trigger.timezone, item.t - 1) !== item.t) return;
    await ingestOne(
      {
        name: INTERNAL_EVENTS.cron,
        id: `cron:${item.f}:${item.i}:${item.t}`,
        data: {
          cron: trigger.cron,
          timezone: trigger.timezone,
          scheduledAt: new Date(item.t).toISOString(),
        },
      },
      { onlyFunction: item.f },
    );
    const tick = nextCronTick(trigger.cron, trigger.timezone, Math.max(item.t, clock.now()));
    if (tick === undefined) return;
    const next: Item = { k: "c", f: item.f, i: item.i, t: tick };
    await enqueueItems([
      { id: itemId(next), payload: utf8(JSON.stringify(next)), availableAt: tick },
    ]);
  };

  // ---------------------------------------------------------------- the worker step

  /** One transition for `item`; may ask to continue inline with a discovery. */
  const advance = async (item: RunItem, preloaded?: Loaded, gate?: LeaseGate): Promise<Advance> => {
    let known = preloaded;
    for (;;) {
      const loaded = known ?? (await loadRun(item.r));
      known = undefined;
      if (!loaded) return {};
      const run = loaded.run;
      if (isTerminal(run.status)) return { run };
      const now = clock.now();

      if (run.status === "queued" && run.startBy !== undefined && now > run.startBy) {
        return {
          run:
            (await cancelRun(run.id, {
              name: "FLOWS_START_TIMEOUT",
              message: "the run did not start within timeouts.start",
            })) ?? run,
        };
      }
      if (run.finishBy !== undefined && now >= run.finishBy) {
        return {
          run:
            (await cancelRun(run.id, {
              name: "FLOWS_FINISH_TIMEOUT",
              message: "the run did not finish within timeouts.finish",
            })) ?? run,
        };
      }
      if (item.k === "x") return { run };

      if (item.k === "t") {
        const step = run.steps[item.h];
        if (!step || !isPending(step) || step.status === "planned") return { run };
        if ((step.at ?? 0) > now) return { run };
        const extra: StoreOp[] = [];
        if (step.status === "waiting" && step.wait)
          extra.push({ type: "delete", key: step.wait.key });
        if (step.status === "invoking") {
          // The child may have finished while its notification was lost: prefer its result.
          const child = step.child ? await loadRun(step.child.runId) : undefined;
          if (child && child.run.status === "completed") {
            step.status = "completed";
            step.output = child.run.output ?? null;
          } else {
            step.status = "failed";
            step.error =
              child && isTerminal(child.run.status)
                ? (child.run.error ?? { name: "Error", message: `invoked run ${child.run.status}` })
                : {
                    name: "InvokeTimeoutError",
                    message: "timed out waiting for the invoked function to finish",
                  };
          }
        } else {
          step.status = "completed";
          step.output = null;
        }
        step.endedAt = now;
        step.attempts = Math.max(1, step.attempts);
        delete step.at;
        run.stack.push(item.h);
        const next = progressed(run);
        let saved: Loaded;
        try {
          saved = await saveRun(loaded, run, extra);
        } catch (error) {
          if (StoreConflictError.isInstance(error)) continue;
          throw error;
        }
        return next ? { run, next, saved } : { run };
      }

      let mode: string;
      let attempt: number;
      if (item.k === "d") {
        if (item.g !== run.gen || pendingSteps(run).length > 0) return { run };
        if (run.nextAt !== undefined && run.nextAt > now) return { run };
        mode = "discover";
        attempt = run.attempt;
      } else {
        const step = run.steps[item.h];
        if (step?.status !== "planned") return { run };
        if (step.at !== undefined && step.at > now) return { run };
        mode = item.h;
        attempt = step.attempts;
      }
      let current: Loaded = loaded;
      if (gate) {
        // Flow control right before executing: the throttle decides a queued run's start (its
        // TAT is committed with the run), then the run's concurrency slots are taken.
        const verdict = await execution.throttle(run);
        if (verdict.kind !== "none") {
          try {
            current = await saveRun(loaded, run, [verdict.op]);
          } catch (error) {
            if (StoreConflictError.isInstance(error)) continue;
            throw error;
          }
          if (verdict.kind === "later") return { run };
        }
        const own = itemId(item) === gate.lease.id;
        if (!(await execution.acquire(gate, run, own)))
          return own ? { run, parked: true } : { run };
      }
      const response = await callDriver(run, mode, attempt);
      // Apply to the state we read; on a conflict re-read and re-apply if still valid, so a
      // step that ran is not run again just because a sibling committed first.
      for (;;) {
        const target = current.run;
        const stillValid =
          !isTerminal(target.status) &&
          (item.k === "d"
            ? target.gen === item.g && pendingSteps(target).length === 0
            : target.steps[item.h]?.status === "planned");
        if (!stillValid) return { run: target };
        if (target.status === "queued") {
          target.status = "running";
          target.startedAt = clock.now();
          const finishMs = registry.get(target.functionId)?.definition.finishTimeoutMs;
          if (finishMs !== undefined) target.finishBy = target.startedAt + finishMs;
        }
        const applied = applyResponse(target, response, mode);
        let saved: Loaded;
        try {
          saved = await saveRun(current, target, applied.extra);
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
          const reloaded = await loadRun(item.r);
          if (!reloaded) return {};
          current = reloaded;
          continue;
        }
        if (response.type === "ops") {
          for (const op of response.ops) {
            if (op.op !== "StepRun" && op.op !== "StepError" && op.op !== "StepFailed") continue;
            const status = target.steps[op.id]?.status;
            const outcome =
              status === "completed" ? "completed" : status === "failed" ? "failed" : "retried";
            stepsTotal.inc(1, { function: target.functionId, outcome });
            if (op.timing) {
              stepDuration.observe(op.timing.endedAt - op.timing.startedAt, {
                function: target.functionId,
              });
            }
          }
        }
        if (applied.children.length > 0) {
          countCreated(applied.children);
          await enqueueItems(applied.children.flatMap(itemsFor));
        }
        for (const wait of applied.lookbacks) {
          const resolved = await lookback(target, wait);
          if (resolved && pendingSteps(resolved).length === 0) {
            return { run: resolved, next: { k: "d", r: resolved.id, g: resolved.gen } };
          }
        }
        return applied.next ? { run: target, next: applied.next, saved } : { run: target };
      }
    }
  };

  const settle = async (lease: Lease, run: RunRecord | undefined) => {
    try {
      if (run && isTerminal(run.status)) await afterTerminal(run);
      const derived = run ? itemsFor(run) : [];
      const own = derived.find((item) => item.id === lease.id);
      await enqueueItems(derived.filter((item) => item.id !== lease.id));
      if (own)
        await queue.retry(
          lease,
          own.availableAt === undefined ? {} : { availableAt: own.availableAt },
        );
      else await queue.ack(lease);
    } catch (error) {
      // A lost lease means another worker holds the item now; it will redo this harmlessly.
      if (!TroupeError.isInstance(error, "LEASE_LOST")) throw error;
    }
  };

  const keepLease = (lease: Lease) => {
    const state = { lost: false, stopped: false };
    const keeper = {
      state,
      /** Called after each extension (concurrency slots follow the lease). */
      onExtended: undefined as (() => Promise<void>) | undefined,
      stop: () => {
        state.stopped = true;
        timer.cancel();
      },
    };
    let timer = clock.setTimer(Math.floor(leaseMs / 2), function tick() {
      if (state.stopped) return;
      queue.extend(lease, leaseMs).then(
        () => {
          keeper.onExtended?.().catch((error: unknown) => {
            logger.warn("flows: extending concurrency slots failed", { error });
          });
          if (!state.stopped) timer = clock.setTimer(Math.floor(leaseMs / 2), tick);
        },
        () => {
          state.lost = true;
        },
      );
    });
    return keeper;
  };

  const processLease = async (lease: Lease): Promise<void> => {
    let item: Item;
    try {
      item = JSON.parse(fromUtf8(lease.payload)) as Item;
    } catch (error) {
      logger.error("flows: dropping an unreadable queue item", { id: lease.id, error });
      await queue.ack(lease).catch(() => undefined);
      return;
    }
    const keeper = keepLease(lease);
    let gate: LeaseGate | undefined;
    try {
      if (item.k === "c") {
        await fireCron(item);
        await queue.ack(lease).catch(() => undefined);
        return;
      }
      if (item.k === "D" || item.k === "B") {
        const retryAt = await fireFlowControlItem(flowControl, item);
        if (retryAt === undefined) await queue.ack(lease).catch(() => undefined);
        else await queue.retry(lease, { availableAt: retryAt }).catch(() => undefined);
        return;
      }
      if (!isRunItem(item)) return;
      let current: RunItem = item;
      let saved: Loaded | undefined;
      gate = { lease };
      const held = gate;
      keeper.onExtended = () => execution.extend(held);
      for (let inline = 0; ; inline++) {
        const result = await advance(current, saved, gate);
        if (result.parked && result.run) {
          // Parked in the Store behind a full concurrency key; a release re-enqueues it.
          await queue.ack(lease).catch(() => undefined);
          await execution.afterPark(gate, result.run);
          gate = undefined;
          return;
        }
        if (
          result.next &&
          isRunItem(result.next) &&
          inline < maxInlineSteps &&
          !keeper.state.lost
        ) {
          current = result.next;
          saved = result.saved;
          continue;
        }
        await settle(lease, result.run);
        const settled = gate;
        gate = undefined;
        await execution.release(settled, result.run);
        return;
      }
    } catch (error) {
      // Leave the item leased: it is retried when the lease lapses (the state is the truth).
      logger.error("flows: processing an item failed; it will be retried", { id: lease.id, error });
    } finally {
      keeper.stop();
      // Slots go back even when processing failed, so a failing store call cannot pin a key.
      if (gate?.held) {
        await execution.release(gate, undefined).catch((error: unknown) => {
          logger.warn("flows: releasing concurrency slots failed; they expire with the lease", {
            error,
          });
        });
      }
    }
  };

  // ---------------------------------------------------------------- worker loop

  let running = false;
  let loop: Promise<void> | undefined;
  let unsubscribe: Unsubscribe | undefined;
  const active = new Set<Promise<void>>();
  let nextSweepAt = 0;

  const ensureSchedules = async () => {
    if (schedulesReady) return;
    schedulesReady = true;
    await scheduleCrons();
  };

  const idle = (delayMs: number) =>
    new Promise<void>((resolve) => {
      const onWake = () => {
        timer.cancel();
        resolve();
      };
      const timer = clock.setTimer(delayMs, () => {
        // Forget the wake-up hook, so an idle engine does not collect one per poll.
        wakeResolvers = wakeResolvers.filter((hook) => hook !== onWake);
        resolve();
      });
      wakeResolvers.push(onWake);
    });

  const workerLoop = async () => {
    while (running) {
      try {
        if (clock.now() >= nextSweepAt) {
          nextSweepAt = clock.now() + sweepIntervalMs;
          await sweep();
        }
        await flushMarkers();
        const free = workerConcurrency - active.size;
        let claimed = 0;
        if (free > 0) {
          const leases = await queue.claim({ limit: free, leaseMs });
          claimed = leases.length;
          for (const lease of leases) {
            const task: Promise<void> = processLease(lease).finally(() => {
              active.delete(task);
              wakeLocal();
            });
            active.add(task);
          }
        }
        if (claimed > 0) continue;
        if (free <= 0) {
          // Every slot is busy: a finishing item wakes the loop.
          if (running) await idle(pollIntervalMs);
          continue;
        }
        const nextAt = await queue.nextAvailableAt();
        const delay =
          nextAt === undefined
            ? pollIntervalMs
            : Math.min(pollIntervalMs, Math.max(1, nextAt - clock.now()));
        if (!running) break;
        await idle(delay);
      } catch (error) {
        logger.error("flows: worker loop error", { error });
        if (running) await idle(pollIntervalMs);
      }
    }
  };

  // ---------------------------------------------------------------- recovery

  const sweep = async (): Promise<number> => {
    const cutoff = clock.now() - sweepGraceMs;
    const entries = await store.list({ prefix: keys.markers(), limit: 1000 });
    let handled = 0;
    for (const entry of entries) {
      const marker = decode<Marker>(entry.value);
      if (marker.at > cutoff) continue;
      for (const runId of marker.runIds) {
        const loaded = await loadRun(runId);
        if (loaded) await enqueueItems(itemsFor(loaded.run));
      }
      if (marker.flow) await runFollowUps(marker.flow);
      if (marker.eventIds !== undefined && marker.eventIds.length > 0) {
        const stored = await store.getMany(marker.eventIds.map((id) => keys.event(id)));
        await deliver(stored.flatMap((entry) => (entry ? [decode<FlowEvent>(entry.value)] : [])));
      }
      await store
        .commit([{ type: "delete", key: entry.key, expect: entry.version }])
        .catch((error: unknown) => {
          if (!StoreConflictError.isInstance(error)) throw error;
        });
      handled++;
    }
    // Parked items of concurrency keys whose holders died: woken once their slots expired.
    await execution.concurrency.sweep();
    // Expired rate-limit and idempotency keys, a page per sweep.
    await cleanFlowControlState();
    return handled;
  };

  // ---------------------------------------------------------------- queries

  const listRuns = (query: ListRunsOptions = {}) => listRunIndex(store, keys, query);
  const listEvents = (query: ListEventsOptions = {}) => listEventEntries(store, keys, query);

  const rerun = async (
    runId: string,
    rerunOptions: { fromStep?: string } = {},
  ): Promise<string> => {
    const loaded = await loadRun(runId);
    if (!loaded)
      throw new TroupeError("NOT_FOUND", `run ${runId} does not exist`, { details: { runId } });
    const registered = registry.get(loaded.run.functionId);
    if (!registered)
      throw new TroupeError("NOT_FOUND", `function ${loaded.run.functionId} is not registered`);
    const steps: Record<string, StepRecord> = {};
    const stack: string[] = [];
    if (rerunOptions.fromStep !== undefined) {
      const from = rerunOptions.fromStep;
      const position = loaded.run.stack.findIndex(
        (hash) => hash === from || loaded.run.steps[hash]?.name === from,
      );
      if (position < 0)
        throw invalidArgument(
          "rerun.fromStep",
          `run ${runId} has no finished step ${JSON.stringify(from)}`,
        );
      for (const hash of loaded.run.stack.slice(0, position)) {
        const step = loaded.run.steps[hash];
        if (step) {
          steps[hash] = step;
          stack.push(hash);
        }
      }
    }
    const created = createRun(registered.definition, loaded.run.events, {
      rerunOf: runId,
      steps,
      stack,
    });
    const marker: Marker = { at: clock.now(), runIds: [created.run.id] };
    await batcher.commit([
      ...created.ops,
      { type: "set", key: keys.marker(created.run.id), value: encode(marker) },
    ]);
    countCreated([created.run]);
    await enqueueItems(itemsFor(created.run));
    deleteMarkerLater(keys.marker(created.run.id));
    return created.run.id;
  };

  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const stop = async () => {
    running = false;
    if (keepAlive) clearInterval(keepAlive);
    keepAlive = undefined;
    wakeLocal();
    await loop;
    loop = undefined;
    await Promise.all([...active]);
    await unsubscribe?.();
    unsubscribe = undefined;
    await flushMarkers();
  };

  return {
    async send(events) {
      const list = (Array.isArray(events) ? events : [events]) as readonly EventInput[];
      return { ids: await ingest(list) };
    },
    async start() {
      if (running) return;
      running = true;
      // A ref'd handle that does nothing: the worker's own timers come from the Clock, which
      // must not keep a process alive, but a started worker is a server and should.
      if (options.keepProcessAlive !== false) keepAlive = setInterval(() => {}, 1 << 30);
      if (pubsub) unsubscribe = await pubsub.subscribe(wakeChannel, () => wakeLocal());
      await ensureSchedules();
      nextSweepAt = 0;
      loop = workerLoop();
    },
    stop,
    async runDue() {
      await ensureSchedules();
      await scheduling;
      let processed = 0;
      for (;;) {
        const leases = await queue.claim({ limit: workerConcurrency, leaseMs });
        if (leases.length === 0) break;
        await Promise.all(leases.map((lease) => processLease(lease)));
        processed += leases.length;
      }
      await flushMarkers();
      return processed;
    },
    async getRun(runId) {
      const loaded = await loadRun(runId);
      return loaded ? viewRun(loaded.run) : undefined;
    },
    listRuns,
    async getEvent(eventId) {
      const entry = await store.get(keys.event(eventId));
      return entry ? decode<FlowEvent>(entry.value) : undefined;
    },
    listEvents,
    getEventRuns,
    async cancel(runId, reason) {
      const run = await cancelRun(runId, {
        name: "FLOWS_CANCELLED",
        message: reason ?? "cancelled by API",
      });
      return run !== undefined;
    },
    rerun,
    async invoke(functionId, input = {}) {
      if (typeof functionId !== "string" || !registry.has(functionId)) {
        throw new TroupeError("NOT_FOUND", `function ${String(functionId)} is not registered`, {
          details: { functionId },
        });
      }
      // An event of its own, routed to this function only: the other functions listening on its
      // triggers do not run, and flow control applies as for any event.
      const event = validateEventInput(
        { name: INTERNAL_EVENTS.invoked, data: input.data ?? {} },
        "invoke",
      );
      const eventId = await ingestOne(event, { onlyFunction: functionId });
      return { eventId };
    },
    registerFunction: (definition, driver) => register(definition, driver),
    unregisterFunction: unregister,
    sweep,
    getFlowControlState: (functionId) =>
      readFlowControlState(
        { store, prefix, now: clock.now(), definition: registry.get(functionId)?.definition },
        functionId,
      ),
    close: stop,
  };
}
