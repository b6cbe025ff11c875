import {
  createIdGenerator,
  type EnqueueItem,
  noopLogger,
  noopMetrics,
  parseWith,
  type Queue,
  type Store,
  storePairing,
  systemClock,
  TroupeError,
} from "@troupe/core";
import { z } from "zod";
import { resolveBackoff } from "./backoff.js";
import { createBulkRuns } from "./bulk-runs.js";
import { createCommitBatcher } from "./commit-batcher.js";
import { createCronSchedule } from "./cron.js";
import type { EngineMetrics, EngineSettings, FlowsContext } from "./engine-context.js";
import type { EventData, EventInput } from "./event.js";
import { validateEventInput } from "./event.js";
import type { FlowControlHost } from "./flow-control/admission.js";
import { createExecutionControl } from "./flow-control/execution.js";
import { readFlowControlState } from "./flow-control/state.js";
import type { Flows, FlowsOptions } from "./flows-api.js";
import { type FlowFunction, INTERNAL_EVENTS } from "./function.js";
import { createFunctionPauses } from "./function-pause.js";
import { createFunctionRegistry } from "./function-registry.js";
import { createInProcessDriver } from "./in-process-driver.js";
import { createIngest, DEDUPE_WINDOW_MS } from "./ingest.js";
import { flowKeys } from "./keys.js";
import { createLifecycleEvents } from "./lifecycle-events.js";
import { createReadBatcher } from "./read-batcher.js";
import { createRecovery } from "./recovery.js";
import { runExpiryOp, withExpiryIndex } from "./retention/expiry-index.js";
import { resolveRetention } from "./retention/retention-options.js";
import { createRetentionSweeper } from "./retention/retention-sweeper.js";
import { createRunActions } from "./run-actions.js";
import {
  eventRuns,
  getEventEntry,
  listEventEntries,
  listRunIndex,
  viewRun,
} from "./run-queries.js";
import type { RunRecord } from "./run-state.js";
import { createRunStore } from "./run-store.js";
import { createRunWaiters } from "./run-waiters.js";
import { checkSignalName, sendSignal } from "./signals.js";
import { withWaitPathMarkers } from "./wait-index.js";
import { createWaitMatching } from "./wait-matching.js";
import { createWakeUps } from "./wake-ups.js";
import { createAdvance } from "./worker-advance.js";
import { createLeaseProcessing } from "./worker-lease.js";
import { createWorkerLoop } from "./worker-loop.js";

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

function settingsOf(options: FlowsOptions): EngineSettings {
  return {
    workerConcurrency: options.workerConcurrency ?? 16,
    leaseMs: options.leaseMs ?? 30_000,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    waitLookbackMs: options.waitLookbackMs ?? 60_000,
    maxInlineSteps: options.maxInlineSteps ?? 64,
    sweepGraceMs: options.sweepGraceMs ?? 10_000,
    sweepIntervalMs: options.sweepIntervalMs ?? 30_000,
  };
}

function metricsOf(options: FlowsOptions): EngineMetrics {
  const metrics = options.metrics ?? noopMetrics;
  return {
    eventsTotal: metrics.counter("flows_events_total", { help: "Events stored" }),
    runsCreated: metrics.counter("flows_runs_created_total", { help: "Runs created" }),
    runsFinished: metrics.counter("flows_runs_finished_total", { help: "Runs finished" }),
    stepsTotal: metrics.counter("flows_steps_total", { help: "Step attempts by outcome" }),
    stepDuration: metrics.histogram("flows_step_duration_ms", {
      help: "Time a step's code ran, ms",
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000, 30_000],
    }),
  };
}

/**
 * Creates the durable functions engine on a Store and a Queue (any adapters). Events are stored
 * and matched to triggers; each run is driven by Queue items; every state change of a run is one
 * guarded Store commit, and the items a run needs next are derived from its state with
 * deterministic ids, so a crash between commit and enqueue is repaired by re-claiming the item.
 *
 * This wires the engine's parts (one shared {@link FlowsContext}) and exposes them as `Flows`.
 */
export function createFlows(options: FlowsOptions): Flows {
  parseWith(optionsSchema, options, "createFlows.options");
  const { store, queue, pubsub } = options;
  const clock = options.clock ?? systemClock;
  const prefix = options.prefix ?? "flows/";
  const keys = flowKeys(prefix);
  const logger = options.logger ?? noopLogger;
  const settings = settingsOf(options);
  const metrics = metricsOf(options);
  const newId = createIdGenerator(clock);
  const retention = resolveRetention(options.retention, "createFlows.options.retention");
  const expiry = retention && {
    prefix,
    eventsMs: retention.eventsMs,
    runsMs: retention.runsMs,
    dedupeWindowMs: DEDUPE_WINDOW_MS,
  };
  // Where the queue lives in the Store's database, new runs and their first items share a commit.
  const plainBatcher = createCommitBatcher(store, {
    paired: storePairing(queue, store),
    leaseMs: settings.leaseMs,
    // Handed-over leases carry the worker's identity, so a restart takes them back at once.
    leaseOwner: () => worker.owner(),
  });
  // Keyed waits carry their path marker (wait-index.ts); with retention on, every commit carries
  // the expiry-index entries of what it stores.
  const indexed = withWaitPathMarkers(plainBatcher, prefix);
  const batcher = expiry ? withExpiryIndex(indexed, clock, expiry) : indexed;
  const wakeChannel = `${prefix.replace(/[^A-Za-z0-9._:/-]/g, "_")}wake`;

  const registry = createFunctionRegistry((definition) => cron.registered(definition));
  const wakeUps = createWakeUps({
    clock,
    logger,
    ...(pubsub ? { pubsub } : {}),
    channel: wakeChannel,
    publishing: () => worker.running(),
  });
  const enqueue = async (items: readonly EnqueueItem[]) => {
    if (items.length === 0) return;
    await queue.enqueueMany(items);
    wakeUps.wake();
  };
  const execution = createExecutionControl({
    store,
    commit: (ops) => batcher.commit(ops),
    enqueue,
    now: () => clock.now(),
    leaseMs: settings.leaseMs,
    prefix,
    definition: (functionId) => registry.definition(functionId),
  });
  const reads = createReadBatcher(store);
  const runs = createRunStore({
    store,
    reads,
    batcher,
    keys,
    clock,
    newId,
    logger,
    execution,
    runsCreated: metrics.runsCreated,
    runsFinished: metrics.runsFinished,
    ...(expiry ? { finishOps: (run: RunRecord) => [runExpiryOp(run, clock.now(), expiry)] } : {}),
    onFinished: (run) => waiters.finished(run),
    tracking: () => waiters.tracking(),
  });
  const waiters = createRunWaiters({
    clock,
    logger,
    ...(pubsub ? { pubsub } : {}),
    channel: `${prefix.replace(/[^A-Za-z0-9._:/-]/g, "_")}finished`,
    recheckMs: settings.pollIntervalMs,
    load: (runId) => runs.load(runId),
  });
  const flowControl: FlowControlHost = {
    store,
    prefix,
    keys,
    clock,
    definition: (functionId) => registry.definition(functionId),
    runs,
  };

  const pauses = createFunctionPauses(store, prefix, () => clock.now());

  // The parts reach each other through `ctx` when called, so they may be created in any order.
  const ctx: FlowsContext = {
    store,
    queue,
    ...(pubsub ? { pubsub } : {}),
    clock,
    prefix,
    keys,
    logger,
    random: options.random ?? Math.random,
    backoff: resolveBackoff(options.backoff),
    newId,
    settings,
    ...(options.admission ? { admission: options.admission } : {}),
    batcher,
    reads,
    metrics,
    registry,
    wakeUps,
    execution,
    flowControl,
    runs,
    get actions() {
      return actions;
    },
    get lifecycle() {
      return lifecycle;
    },
    get waits() {
      return waits;
    },
    get ingest() {
      return ingest;
    },
    get cron() {
      return cron;
    },
    get worker() {
      return worker;
    },
    pauses,
    enqueue,
  };
  const actions = createRunActions(ctx);
  const lifecycle = createLifecycleEvents(ctx);
  const waits = createWaitMatching(ctx);
  const ingest = createIngest(ctx);
  const cron = createCronSchedule(ctx);
  const recover = createRecovery(ctx);
  const retentionSweeper = createRetentionSweeper({
    store,
    keys,
    prefix,
    clock,
    logger,
    metrics: options.metrics ?? noopMetrics,
    settings: retention,
    dedupeWindowMs: DEDUPE_WINDOW_MS,
  });
  const sweep = async () => {
    const handled = await recover();
    await retentionSweeper.sweep();
    return handled;
  };
  const bulk = createBulkRuns(ctx);
  const worker = createWorkerLoop(ctx, {
    processLease: createLeaseProcessing(ctx, createAdvance(ctx)),
    // The worker does not wait for retention: a long backlog of deletes must not hold up claims.
    sweep: async () => {
      const handled = await recover();
      retentionSweeper.kick();
      return handled;
    },
    wakeChannel,
    keepProcessAlive: options.keepProcessAlive !== false,
  });

  const driverDeps = {
    clock,
    send: async (events: readonly EventInput[]) => ({ ids: await ingest.send(events) }),
  };
  for (const fn of options.functions ?? []) {
    const flowFunction = fn as FlowFunction<unknown, EventData>;
    registry.register(fn.definition, createInProcessDriver(flowFunction, driverDeps), "unique");
    if (fn.onFailure) {
      registry.register(
        {
          id: `${fn.id}-failure`,
          name: `${fn.definition.name} (failure)`,
          triggers: [{ event: INTERNAL_EVENTS.failed, if: `event.data.function_id == '${fn.id}'` }],
          retries: 1,
          cancelOn: [],
        },
        createInProcessDriver(flowFunction, driverDeps, flowFunction),
        "unique",
      );
    }
  }

  return {
    async send(events) {
      const list = (Array.isArray(events) ? events : [events]) as readonly EventInput[];
      return { ids: await ingest.send(list) };
    },
    start: (startOptions) => worker.start(startOptions?.workerId),
    async stop() {
      await worker.stop();
      await retentionSweeper.stop();
      await waiters.close();
    },
    runDue: () => worker.runDue(),
    async getRun(runId) {
      const loaded = await runs.load(runId);
      return loaded ? viewRun(loaded.run) : undefined;
    },
    waitForRun: (runId, waitOptions) => waiters.wait(runId, waitOptions),
    listRuns: (query = {}) => listRunIndex(store, keys, query),
    getEvent: (eventId) => getEventEntry(store, keys, eventId),
    listEvents: (query = {}) => listEventEntries(store, keys, query),
    getEventRuns: (eventId) => eventRuns(store, keys, eventId),
    async cancel(runId, reason) {
      const run = await actions.cancel(runId, {
        name: "FLOWS_CANCELLED",
        message: reason ?? "cancelled by API",
      });
      return run !== undefined;
    },
    rerun: (runId, rerunOptions = {}) => actions.rerun(runId, rerunOptions),
    sendSignal: async (signal, data) =>
      sendSignal(ctx, checkSignalName(signal, "sendSignal.signal"), data),
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
      const eventId = await ingest.one(event, { onlyFunction: functionId });
      return { eventId };
    },
    registerFunction: (definition, driver) => registry.register(definition, driver),
    unregisterFunction: (functionId) => registry.unregister(functionId),
    sweep,
    getFlowControlState: (functionId) =>
      readFlowControlState(
        { store, prefix, now: clock.now(), definition: registry.definition(functionId) },
        functionId,
      ),
    async pauseFunction(functionId, pauseOptions = {}) {
      if (typeof functionId !== "string" || !registry.has(functionId))
        throw new TroupeError("NOT_FOUND", `function ${String(functionId)} is not registered`, {
          details: { functionId },
        });
      return pauses.pause(functionId, pauseOptions.reason);
    },
    resumeFunction: (functionId) => pauses.resume(functionId),
    listPausedFunctions: () => pauses.list(),
    cancelRuns: (bulkOptions) => bulk.cancel(bulkOptions),
    replayRuns: (bulkOptions) => bulk.replay(bulkOptions),
    async close() {
      await worker.stop();
      await retentionSweeper.stop();
      await waiters.close();
    },
  };
}
