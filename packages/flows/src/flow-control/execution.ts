import type { EnqueueItem, Lease, Store, StoreOp } from "@troupe/core";
import type { FlowEvent } from "../event.js";
import type { FunctionDefinition } from "../function.js";
import { isDiscoveryItemId, isExecutingItemId } from "../queue-items.js";
import type { RunRecord } from "../run-state.js";
import {
  type ConcurrencyControl,
  createConcurrencyControl,
  type RunSlot,
  runSlots,
  type SlotHolder,
  type SlotRef,
  slotRefs,
} from "./concurrency.js";
import { priorityFactor, priorityStartAt } from "./priority.js";
import { throttleKey, throttleOp } from "./throttle.js";

/** What the engine gives the execution flow control (concurrency, throttle, priority). */
export interface ExecutionControlDeps {
  readonly store: Store;
  readonly commit: (ops: readonly StoreOp[]) => Promise<unknown>;
  readonly enqueue: (items: readonly EnqueueItem[]) => Promise<void>;
  readonly now: () => number;
  readonly leaseMs: number;
  readonly prefix: string;
  readonly definition: (functionId: string) => FunctionDefinition | undefined;
}

/** The slots one queue lease holds while its worker executes steps (inline ones included). */
export interface LeaseGate {
  readonly lease: Lease;
  /** The slots held, once acquired. */
  held?: SlotRef[];
}

/** The verdict of the throttle for a queued run about to start. */
export type ThrottleVerdict =
  | { readonly kind: "none" }
  | { readonly kind: "start"; readonly op: StoreOp }
  | { readonly kind: "later"; readonly op: StoreOp; readonly at: number };

/** Execution flow control as the engine calls it. */
export interface ExecutionControl {
  readonly concurrency: ConcurrencyControl;
  /** Fields of a new run: its concurrency keys and priority (evaluated once, here). */
  runFields(
    definition: FunctionDefinition,
    events: readonly FlowEvent[],
    now: number,
  ): { slots?: RunSlot[]; priority?: number; nextAt?: number };
  /** New runs' first items, after ingest: reserved ones are returned, the rest parked. */
  /**
   * True when `admitNewRuns` passes all of `run`'s items straight through (no concurrency slot
   * to reserve), so they may be enqueued in the commit that creates the run.
   */
  admitsPlainly(run: RunRecord): boolean;
  admitNewRuns(
    runs: readonly RunRecord[],
    itemsFor: (run: RunRecord) => EnqueueItem[],
  ): Promise<EnqueueItem[]>;
  /** GCRA for a queued run's start (the caller commits `op` with the run record). */
  throttle(run: RunRecord): Promise<ThrottleVerdict>;
  /**
   * Takes the run's concurrency slots for the lease before a step executes. `park` is false for
   * an inline continuation (its item is not the lease's): a full key then just defers it.
   */
  acquire(gate: LeaseGate, run: RunRecord, park: boolean): Promise<boolean>;
  /** Releases the lease's slots (or a reservation left for its item) once it is settled. */
  release(gate: LeaseGate, run: RunRecord | undefined): Promise<void>;
  /** After the parked lease was acknowledged: re-enqueues it if a release woke it meanwhile. */
  afterPark(gate: LeaseGate, run: RunRecord): Promise<void>;
  /** Follows a lease extension. */
  extend(gate: LeaseGate): Promise<void>;
}

const holderOf = (lease: Lease): SlotHolder => ({ leaseId: lease.leaseId, itemId: lease.id });

/** Creates the execution flow control. */
export function createExecutionControl(deps: ExecutionControlDeps): ExecutionControl {
  const concurrency = createConcurrencyControl(deps);
  const refsOf = (run: RunRecord) =>
    slotRefs(run.slots, deps.definition(run.functionId)?.concurrency);

  return {
    concurrency,

    runFields(definition, events, now) {
      const first = events[0];
      const slots = runSlots(deps.prefix, definition.id, definition.concurrency, first);
      const factor = first ? priorityFactor(definition.priority, first) : 0;
      return {
        ...(slots === undefined ? {} : { slots }),
        ...(factor === 0 ? {} : { priority: factor, nextAt: priorityStartAt(now, factor) }),
      };
    },

    admitsPlainly(run) {
      return refsOf(run).length === 0 || deps.definition(run.functionId)?.throttle !== undefined;
    },

    async admitNewRuns(runs, itemsFor) {
      const plain: EnqueueItem[] = [];
      const gated: { slots: SlotRef[]; item: EnqueueItem & { id: string } }[] = [];
      for (const run of runs) {
        const items = itemsFor(run);
        const slots = refsOf(run);
        // A throttled run's start is decided by the worker first; its slot is taken then.
        const throttled = deps.definition(run.functionId)?.throttle !== undefined;
        for (const item of items) {
          if (slots.length > 0 && !throttled && item.id !== undefined && isDiscoveryItemId(item.id))
            gated.push({ slots, item: { ...item, id: item.id } });
          else plain.push(item);
        }
      }
      if (gated.length === 0) return plain;
      return [...plain, ...(await concurrency.admit(gated))];
    },

    async throttle(run) {
      const config = deps.definition(run.functionId)?.throttle;
      if (!config || run.status !== "queued" || run.throttledStart !== undefined)
        return { kind: "none" };
      const now = deps.now();
      const key = throttleKey(deps.prefix, run.functionId, config, run.events[0]);
      const stored = await deps.store.get(key.key);
      const { start, op } = throttleOp(config, key, stored, now);
      run.throttledStart = start;
      if (start <= now) return { kind: "start", op };
      run.nextAt = start;
      return { kind: "later", op, at: start };
    },

    async acquire(gate, run, park) {
      if (gate.held) return true;
      const slots = refsOf(run);
      if (slots.length === 0) {
        gate.held = [];
        return true;
      }
      const lease = gate.lease;
      const item = {
        id: lease.id,
        payload: lease.payload,
        availableAt: lease.availableAt,
        ...(lease.priority === 0 ? {} : { priority: lease.priority }),
      };
      const held = park
        ? await concurrency.acquire(slots, holderOf(lease), item)
        : await concurrency.tryAcquire(slots, holderOf(lease));
      if (held) gate.held = slots;
      return held;
    },

    async release(gate, run) {
      if (gate.held) {
        if (gate.held.length > 0) await concurrency.release(gate.held, holderOf(gate.lease));
        return;
      }
      // Not executed (a stale or deferred item): clear a reservation it may have been woken with.
      if (!run || !isExecutingItemId(gate.lease.id)) return;
      const slots = refsOf(run);
      if (slots.length > 0) await concurrency.release(slots, holderOf(gate.lease));
    },

    async afterPark(gate, run) {
      const lease = gate.lease;
      await concurrency.requeueIfReserved(refsOf(run), {
        id: lease.id,
        payload: lease.payload,
        availableAt: lease.availableAt,
        ...(lease.priority === 0 ? {} : { priority: lease.priority }),
      });
    },

    async extend(gate) {
      if (gate.held && gate.held.length > 0)
        await concurrency.extend(gate.held, holderOf(gate.lease));
    },
  };
}
