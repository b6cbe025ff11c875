import {
  type Clock,
  type Counter,
  createJsonCodec,
  type EnqueueItem,
  type Lease,
  type LeaseRef,
  type Logger,
  type Store,
  type StoreOp,
} from "@troupe/core";
import type { CommitBatcher } from "./commit-batcher.js";
import type { FlowEvent } from "./event.js";
import type { FollowUps } from "./flow-control/admission.js";
import type { ExecutionControl } from "./flow-control/execution.js";
import type { FunctionDefinition } from "./function.js";
import type { FlowKeys } from "./keys.js";
import { type FlowControlItem, itemOfStored, type StoredItem, storedItem } from "./queue-items.js";
import type { ReadBatcher } from "./read-batcher.js";
import { encodeIndexEntry } from "./run-queries.js";
import { isTerminal, type RunRecord, type RunStatus, type StepRecord } from "./run-state.js";
import { encodeWaitEntry } from "./wait-entry.js";
import { waitIndexKeys, waitKeyFor } from "./wait-index.js";

/**
 * The run store: every read and write of run records, their indexes and the recovery markers of
 * commits that create runs. A run is one Store key; every change is one commit guarded by the
 * key's version, through the engine's group commit.
 */

/** A run as read, with the version its next commit must match. */
export interface LoadedRun {
  readonly run: RunRecord;
  readonly version: number;
  /** The status as read (a status change rewrites the indexes). */
  readonly status: RunStatus;
}

/**
 * Work left after a commit that created runs or stored events: enqueue the runs, run the
 * flow-control follow-ups, match the events against waits. Kept in the Store until done, so
 * `sweep` redoes it after a crash.
 */
export interface Marker {
  readonly at: number;
  readonly runIds: readonly string[];
  readonly eventIds?: readonly string[];
  /** Flow-control work after the commit (debounce/batch items, singleton cancellations). */
  readonly flow?: FollowUps;
}

/** Runs just committed, with what is left to do for them. */
export interface CommittedRuns {
  readonly runs: readonly RunRecord[];
  readonly follow?: FollowUps;
  /** The recovery marker to delete once done. */
  readonly markerKey: string;
  /** The runs' first queue items were enqueued in the same commit (a paired queue). */
  readonly enqueued?: boolean;
  /** Items of the commit leased to this process's worker (asked for with `leaseIds`). */
  readonly leases?: readonly Lease[];
  /** Every item of the commit was leased to this process's worker: no other worker to wake. */
  readonly leasedAll?: boolean;
  /** The commit's version: the runs' version in the Store. */
  readonly version?: number;
}

/** Options of a new run beyond its function and events. */
export interface NewRunOptions {
  /** The run's id (a child run's id is chosen by its parent's transition). Default: a new ULID. */
  readonly id?: string;
  readonly parent?: RunRecord["parent"];
  readonly rerunOf?: string;
  readonly steps?: Record<string, StepRecord>;
  readonly stack?: string[];
}

/** Reads and writes of runs. */
export interface RunStore {
  /** A new run record and the ops that store it with its indexes and cancel rules (not committed). */
  create(
    definition: FunctionDefinition,
    events: readonly FlowEvent[],
    options?: NewRunOptions,
  ): { run: RunRecord; ops: StoreOp[] };
  load(runId: string): Promise<LoadedRun | undefined>;
  /**
   * Commits `run` over `loaded` (guarded by its version) with `extra` ops; with `ack` (only with
   * a paired queue) the lease is acknowledged in the same commit, and `acked` says whether it was.
   */
  save(
    loaded: LoadedRun,
    run: RunRecord,
    extra: readonly StoreOp[],
    ack?: LeaseRef,
  ): Promise<LoadedRun & { readonly acked?: boolean }>;
  /** True while the run exists and has not finished. */
  isActive(runId: string): Promise<boolean>;
  /**
   * Commits `ops` creating `runs` with a recovery marker (at `markerId`, default a new id).
   * Rejects with StoreConflictError when a guard fails (nothing was written).
   */
  commitNew(
    ops: readonly StoreOp[],
    runs: readonly RunRecord[],
    extra?: {
      readonly follow?: FollowUps;
      readonly eventIds?: readonly string[];
      readonly markerId?: string;
      /** The runs' first queue items, enqueued in the same commit (only with a paired queue). */
      readonly items?: readonly EnqueueItem[];
      /** Ids of `items` to lease to this process's worker in the same commit. */
      readonly leaseIds?: readonly string[];
    },
  ): Promise<CommittedRuns>;
  /** Counts runs created (a commit that created them succeeded). */
  countCreated(runs: readonly RunRecord[]): void;
  /** Deletes a marker soon, batched off the hot path (one left behind costs a re-check). */
  markerDone(key: string): void;
  /** Deletes the markers marked done now. */
  flushMarkers(): Promise<void>;
  /** Markers, oldest first. */
  listMarkers(limit: number): Promise<{ key: string; version: number; marker: Marker }[]>;
}

/** What the run store needs. */
export interface RunStoreDeps {
  readonly store: Store;
  /** Run reads, merged across the runs in flight (default: straight to `store`). */
  readonly reads?: Pick<ReadBatcher, "get">;
  readonly batcher: CommitBatcher;
  readonly keys: FlowKeys;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly logger: Logger;
  readonly execution: Pick<ExecutionControl, "runFields">;
  readonly runsCreated: Counter;
  readonly runsFinished: Counter;
  /** Ops committed with the commit that finishes `run` (its retention index entry). */
  readonly finishOps?: (run: RunRecord) => readonly StoreOp[];
  /** Told of every commit that finished a run (after it succeeded). */
  readonly onFinished: (run: RunRecord) => void;
  /**
   * Asked before a commit of runs; the function it returns (if any) is told of the runs once the
   * commit succeeded (see `RunWaiters.tracking`).
   */
  readonly tracking?: () => ((runs: readonly RunRecord[]) => void) | undefined;
}

const codec = createJsonCodec<unknown>();
const encode = (value: unknown) => codec.encode(value);
const decode = <T>(bytes: Uint8Array) => codec.decode(bytes) as T;

/** A marker's stored form: flow-control items in their stored form. */
interface StoredMarker extends Omit<Marker, "flow"> {
  readonly flow?: Omit<FollowUps, "items"> & {
    readonly items: { readonly item: StoredItem; readonly at: number }[];
  };
}

/** The bytes of a marker. */
export function encodeMarker(marker: Marker): Uint8Array {
  const { flow, ...rest } = marker;
  const stored: StoredMarker = flow
    ? {
        ...rest,
        flow: {
          ...flow,
          items: flow.items.map(({ item, at }) => ({ item: storedItem(item), at })),
        },
      }
    : rest;
  return encode(stored);
}

/** A marker from its bytes. */
export function decodeMarker(bytes: Uint8Array): Marker {
  const { flow, ...rest } = decode<StoredMarker>(bytes);
  if (!flow) return rest;
  return {
    ...rest,
    flow: {
      ...flow,
      items: flow.items.map(({ item, at }) => ({
        item: itemOfStored(item) as FlowControlItem,
        at,
      })),
    },
  };
}

const hasFollowUps = (follow: FollowUps | undefined): follow is FollowUps =>
  follow !== undefined &&
  (follow.items.length > 0 || follow.cancel.length > 0 || follow.remove.length > 0);

/** How long a done marker waits for a run commit to ride along with before it is deleted alone. */
const MARKER_FLUSH_MS = 100;
/** Marker deletes added to one run commit at most. */
const MARKERS_PER_SAVE = 50;

/** Creates the run store. */
export function createRunStore(deps: RunStoreDeps): RunStore {
  const { store, batcher, keys, clock, newId } = deps;
  const reads = deps.reads ?? store;
  const waitIndex = waitIndexKeys(keys.prefix);

  const indexOps = (run: RunRecord): StoreOp[] => {
    const value = encodeIndexEntry(run);
    return [
      { type: "set", key: keys.runByFunction(run.functionId, run.id), value },
      { type: "set", key: keys.runAll(run.id), value },
    ];
  };

  const countCreated = (runs: readonly RunRecord[]) => {
    for (const run of runs) deps.runsCreated.inc(1, { function: run.functionId });
  };

  // Markers are deleted off the hot path: with the next run commit of this process (see `save`),
  // or, when none comes within MARKER_FLUSH_MS, in a batch of their own.
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

  return {
    create(definition, events, options = {}) {
      const now = clock.now();
      const id = options.id ?? newId();
      const run: RunRecord = {
        id,
        functionId: definition.id,
        status: "queued",
        events,
        createdAt: now,
        gen: 0,
        attempt: 0,
        forcePlan: false,
        steps: options.steps ?? {},
        stack: options.stack ?? [],
        cancelKeys: [],
        ...(definition.startTimeoutMs === undefined
          ? {}
          : { startBy: now + definition.startTimeoutMs }),
        ...(options.parent ? { parent: options.parent } : {}),
        ...(options.rerunOf ? { rerunOf: options.rerunOf } : {}),
        ...deps.execution.runFields(definition, events, now),
      };
      const ops: StoreOp[] = [];
      definition.cancelOn.forEach((cancel, index) => {
        const key = waitKeyFor(
          waitIndex,
          {
            eventName: cancel.event,
            runId: id,
            slot: `c${index}`,
            condition: cancel.if,
            trigger: events[0],
          },
          keys.wait(cancel.event, id, `c${index}`),
        );
        const entry = encodeWaitEntry({
          kind: "cancel",
          runId: id,
          expiresAt: now + cancel.timeoutMs,
          ...(cancel.if === undefined ? {} : { condition: cancel.if, triggerEvent: events[0] }),
        });
        run.cancelKeys.push(key);
        ops.push({ type: "set", key, value: entry });
      });
      ops.unshift({ type: "set", key: keys.run(id), value: encode(run), expect: "absent" });
      ops.push(...indexOps(run));
      // Runs by triggering event (a batch run is listed under each of its events).
      const byEvent = encode({ f: definition.id });
      for (const event of events) {
        ops.push({ type: "set", key: keys.runByEvent(event.id, id), value: byEvent });
      }
      return { run, ops };
    },

    async load(runId) {
      const entry = await reads.get(keys.run(runId));
      if (!entry) return undefined;
      const run = decode<RunRecord>(entry.value);
      return { run, version: entry.version, status: run.status };
    },

    async save(loaded, run, extra, ack) {
      const ops: StoreOp[] = [
        { type: "set", key: keys.run(run.id), value: encode(run), expect: loaded.version },
        ...extra,
      ];
      if (loaded.status !== run.status) ops.push(...indexOps(run));
      if (loaded.status !== run.status && isTerminal(run.status) && deps.finishOps) {
        ops.push(...deps.finishOps(run));
      }
      // Markers whose work is done ride along (unguarded deletes): no commit of their own.
      const riding = markerDeletes.splice(0, MARKERS_PER_SAVE);
      for (const key of riding) ops.push({ type: "delete", key });
      let version: number;
      let acked = false;
      const tracked = deps.tracking?.();
      try {
        const result = await batcher.commit(ops, ack ? { ack: [ack] } : {});
        version = result.version;
        acked = result.acked.length > 0;
      } catch (error) {
        markerDeletes.push(...riding);
        throw error;
      }
      tracked?.([run]);
      if (loaded.status !== run.status && isTerminal(run.status)) {
        deps.runsFinished.inc(1, { function: run.functionId, status: run.status });
        deps.onFinished(run);
      }
      return { run, version, status: run.status, ...(acked ? { acked } : {}) };
    },

    async isActive(runId) {
      const entry = await reads.get(keys.run(runId));
      return entry !== undefined && !isTerminal(decode<RunRecord>(entry.value).status);
    },

    async commitNew(ops, runs, extra = {}) {
      const markerKey = keys.marker(extra.markerId ?? newId());
      const marker: Marker = {
        at: clock.now(),
        runIds: runs.map((run) => run.id),
        ...(extra.eventIds === undefined ? {} : { eventIds: extra.eventIds }),
        ...(hasFollowUps(extra.follow) ? { flow: extra.follow } : {}),
      };
      const items = extra.items ?? [];
      const tracked = deps.tracking?.();
      const { version, leases } = await batcher.commit(
        [...ops, { type: "set", key: markerKey, value: encodeMarker(marker) }],
        { items, ...(extra.leaseIds ? { leaseIds: extra.leaseIds } : {}) },
      );
      countCreated(runs);
      tracked?.(runs);
      return {
        runs,
        markerKey,
        version,
        ...(hasFollowUps(extra.follow) ? { follow: extra.follow } : {}),
        ...(items.length > 0 ? { enqueued: true } : {}),
        ...(leases.length > 0 ? { leases } : {}),
        ...(items.length > 0 && leases.length === items.length ? { leasedAll: true } : {}),
      };
    },

    countCreated,

    markerDone(key) {
      markerDeletes.push(key);
      if (markerTimer) return;
      markerTimer = clock.setTimer(MARKER_FLUSH_MS, () => {
        markerTimer = undefined;
        flushMarkers().catch((error: unknown) => {
          deps.logger.warn("flows: deleting processed markers failed; sweep will redo them", {
            error,
          });
        });
      });
    },

    flushMarkers,

    async listMarkers(limit) {
      const entries = await store.list({ prefix: keys.markers(), limit });
      return entries.map((entry) => ({
        key: entry.key,
        version: entry.version,
        marker: decodeMarker(entry.value),
      }));
    },
  };
}
