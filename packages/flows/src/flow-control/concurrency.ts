import {
  type EnqueueItem,
  invalidArgument,
  parseWith,
  type Store,
  StoreConflictError,
  type StoreOp,
} from "@troupe/core";
import { z } from "zod";
import type { FlowEvent } from "../event.js";
import { checkExpression, evaluateKey, expressionInput, keyHash } from "./parse-option.js";
import {
  decodeParked,
  decodeSlot,
  encodeParked,
  encodeSlot,
  parkedPrefix,
  parkKey,
  prune,
  type SlotRecord,
  slotsInUse,
  writeRecord,
} from "./slot-record.js";

/*
 * Concurrency limits: how slots and parking work.
 *
 * A slot is held only while a worker executes a step of the run (a discovery `d` or a planned
 * parallel step `s` item). Sleeping, waiting and queued runs hold none. Each concurrency key has
 * ONE slot record `<prefix>fc/c/<scope>/<hash>` (`slot-record.ts`):
 *
 *   { keyValue, limit, holders: { <leaseId>: expiry }, reservations: { <itemId>: { expiresAt, parkKey } }, parked }
 *
 * `holders` are workers' queue leases (the expiry follows the lease and is extended with it),
 * `reservations` are slots handed to parked items that were just put back in the queue, and
 * `parked` counts parked items. Holders + reservations never exceed the limit. Every change to a slot
 * record is a compare-and-set commit (retried on STORE_CONFLICT), and every park entry is written
 * or deleted in the same commit as its slot record, so the slot record's version orders all of it.
 *
 * The rule:
 * 1. Acquire (a worker, just before executing): if the item has a reservation, it becomes a
 *    holder; else if holders + reservations < limit, add a holder; else PARK: write
 *    `<prefix>fc/c/q/<scope>/<hash>/<availableAt>/<itemId>` (FIFO by due time, which includes the
 *    priority shift) and acknowledge the queue item. A full key therefore costs its items one
 *    claim each and never blocks other keys' items or spins.
 * 2. Release (the worker is done with the item: a sleep, a wait, the end, an error): remove the
 *    holder, then hand every free slot to the oldest parked items without a reservation (a
 *    reservation each, in the same commit), and enqueue those items afterwards. A crash after the
 *    commit and before the enqueue leaves their park entries in place; the reservations expire
 *    after a lease and the sweep wakes them again. Nothing is deleted before its replacement
 *    exists, so no run is lost.
 * 3. Lost wake-ups cannot happen: a park commit and a release commit both compare-and-set the
 *    same slot record, so either the release sees the park entry, or the park sees the freed slot
 *    (its commit fails, it re-reads and takes the slot).
 * 4. Expiry: holders and reservations carry an expiry; anyone touching the record drops expired
 *    ones, so a crashed worker's slot comes back after at most one lease. Keys with parked items
 *    are listed under `<prefix>fc/c/b/` and the sweep re-dispatches them, so a key whose holders
 *    all died is woken without new traffic.
 * 5. Admission at ingest: new runs whose key already has parked items or no free slot are parked
 *    directly (never enqueued), the others get a reservation and are enqueued — one batched
 *    commit per ingest batch whatever the number of distinct keys. So a backlog of 10,000 runs on
 *    key A sits in the Store, not in the queue, and costs key B nothing. Runs with two limits are
 *    admitted only when both keys have room; otherwise they park on the first key without room.
 * 6. A slot record with no holder, reservation or parked item is deleted, so 100,000 keys used
 *    once leave nothing behind.
 */

const MAX_LIMIT = 100_000;

/** One concurrency limit as users write it. */
export const concurrencyLimitSchema = z.strictObject({
  limit: z.number().int().min(1).max(MAX_LIMIT),
  key: expressionInput.optional(),
  scope: z.enum(["fn", "env", "account"]).optional(),
});

/** `concurrency` as users write it: a number, one limit, or up to two limits. */
export const concurrencySchema = z.union([
  z.number().int().min(1).max(MAX_LIMIT),
  concurrencyLimitSchema,
  z.array(concurrencyLimitSchema).min(1).max(2),
]);

/** `concurrency` as `FunctionConfig` takes it. */
export type ConcurrencyOption = z.input<typeof concurrencySchema>;

/** One concurrency limit in a function definition (`account` is stored as `env`). */
export interface ConcurrencyDefinition {
  readonly limit: number;
  readonly key?: string;
  readonly scope: "fn" | "env";
}

/**
 * Validates `concurrency` into a list of one or two limits. Errors name the field, e.g.
 * `function "x".concurrency[1].limit`.
 */
export function parseConcurrency(
  input: unknown,
  field: string,
): ConcurrencyDefinition[] | undefined {
  if (input === undefined) return undefined;
  const list =
    typeof input === "number" ? [{ limit: input }] : Array.isArray(input) ? input : [input];
  if (Array.isArray(input) && (input.length < 1 || input.length > 2))
    throw invalidArgument(field, "expected one or two limits");
  return list.map((entry, index) => {
    const at = Array.isArray(input) ? `${field}[${index}]` : field;
    const parsed = parseWith(concurrencyLimitSchema, entry, at);
    const scope = parsed.scope === undefined || parsed.scope === "fn" ? "fn" : "env";
    return parsed.key === undefined
      ? { limit: parsed.limit, scope }
      : { limit: parsed.limit, scope, key: checkExpression(parsed.key, `${at}.key`) };
  });
}

/** A run's evaluated concurrency key, kept in the run record (evaluated once, at creation). */
export interface RunSlot {
  /** The slot record's Store key. */
  readonly key: string;
  /** The key's value, for inspection (cut to 200 characters). */
  readonly value: string;
}

/** A slot a worker acquires: the run's key with the function's current limit. */
export interface SlotRef extends RunSlot {
  readonly limit: number;
}

/** The Store prefix of a function's fn-scoped slot records, or of all env-scoped ones. */
export function slotPrefix(prefix: string, scope: "fn" | "env", functionId: string): string {
  return scope === "fn"
    ? `${prefix}fc/c/fn/${encodeURIComponent(functionId)}/`
    : `${prefix}fc/c/env/`;
}

/**
 * Evaluates a function's concurrency keys for a new run's triggering event. `fn` keys are per
 * function; `env` (and `account`) keys live in one namespace shared by every function using the
 * same key value.
 */
export function runSlots(
  prefix: string,
  functionId: string,
  limits: readonly ConcurrencyDefinition[] | undefined,
  event: FlowEvent | undefined,
): RunSlot[] | undefined {
  if (!limits || limits.length === 0 || !event) return undefined;
  return limits.map((limit) => {
    const value = evaluateKey(limit.key, event);
    return {
      key: `${slotPrefix(prefix, limit.scope, functionId)}${keyHash(value)}`,
      value: value.slice(0, 200),
    };
  });
}

/** The slots to acquire for a run: its keys with the current limits (by position). */
export function slotRefs(
  slots: readonly RunSlot[] | undefined,
  limits: readonly ConcurrencyDefinition[] | undefined,
): SlotRef[] {
  if (!slots || !limits) return [];
  const refs: SlotRef[] = [];
  slots.forEach((slot, index) => {
    const limit = limits[index]?.limit;
    if (limit !== undefined) refs.push({ ...slot, limit });
  });
  return refs;
}

/** Who acquires: the worker's lease of the queue item. */
export interface SlotHolder {
  readonly leaseId: string;
  readonly itemId: string;
}

/** What the engine gives the concurrency control. */
export interface ConcurrencyDeps {
  readonly store: Store;
  /** Commits through the engine's group commit. */
  readonly commit: (ops: readonly StoreOp[]) => Promise<unknown>;
  /** Puts woken parked items back in the queue. */
  readonly enqueue: (items: readonly EnqueueItem[]) => Promise<void>;
  readonly now: () => number;
  /** How long a holder or reservation lives without extension (the queue lease). */
  readonly leaseMs: number;
  /** The engine's Store prefix. */
  readonly prefix: string;
}

const MAX_TRIES = 200;

/** Slots, parking and wake-ups of concurrency keys (see the rule at the top of this file). */
export interface ConcurrencyControl {
  /**
   * Takes a slot on every key for `holder` before it executes `item`. Resolves to true when all
   * are held; false when the item was parked on a full key (slots taken before it are released;
   * the caller acknowledges its queue item).
   */
  acquire(
    slots: readonly SlotRef[],
    holder: SlotHolder,
    item: EnqueueItem & { id: string },
  ): Promise<boolean>;
  /** Like `acquire`, but a full key parks nothing: resolves to false and holds nothing. */
  tryAcquire(slots: readonly SlotRef[], holder: SlotHolder): Promise<boolean>;
  /**
   * After the queue item of a just-parked `item` was acknowledged: a release may have woken it
   * in between (its enqueue was a no-op while the item was still leased), so enqueue it again.
   */
  requeueIfReserved(slots: readonly SlotRef[], item: EnqueueItem & { id: string }): Promise<void>;
  /** Gives back `holder`'s slots (and a reservation left for its item) and wakes parked items. */
  release(slots: readonly SlotRef[], holder: SlotHolder): Promise<void>;
  /** Moves `holder`'s expiry along with its extended lease. */
  extend(slots: readonly SlotRef[], holder: SlotHolder): Promise<void>;
  /**
   * Admission of new runs' first items at ingest: returns the items to enqueue (with a
   * reservation each); the others are parked in the Store behind their key's backlog.
   */
  admit(
    entries: readonly { slots: readonly SlotRef[]; item: EnqueueItem & { id: string } }[],
  ): Promise<EnqueueItem[]>;
  /** Wakes parked items of keys with free slots (crash recovery). Resolves to items woken. */
  sweep(): Promise<number>;
}

/** Creates the concurrency control over the Store. */
export function createConcurrencyControl(deps: ConcurrencyDeps): ConcurrencyControl {
  const { store } = deps;

  /** Lists up to `free` parked items of `slotKey` without a reservation. */
  const oldestUnreserved = async (slotKey: string, record: SlotRecord, free: number) => {
    if (free <= 0 || record.parked <= 0) return [];
    const reserved = Object.keys(record.reservations).length;
    const entries = await store.list({ prefix: parkedPrefix(slotKey), limit: reserved + free });
    const picked: { key: string; item: EnqueueItem & { id: string } }[] = [];
    for (const entry of entries) {
      if (picked.length >= free) break;
      const item = decodeParked(entry.value);
      if (record.reservations[item.id]) continue;
      picked.push({ key: entry.key, item });
    }
    return picked;
  };

  /** Hands free slots of `record` to its oldest parked items; returns the items to enqueue. */
  const wake = async (slotKey: string, record: SlotRecord, limit: number, now: number) => {
    const free = limit - slotsInUse(record, now);
    const picked = await oldestUnreserved(slotKey, record, free);
    for (const { key, item } of picked)
      record.reservations[item.id] = { expiresAt: now + deps.leaseMs, parkKey: key };
    return picked.map((entry) => entry.item);
  };

  const acquireOne = async (
    slot: SlotRef,
    holder: SlotHolder,
    item: EnqueueItem & { id: string },
    park: boolean,
  ): Promise<boolean> => {
    for (let tries = 0; ; tries++) {
      const now = deps.now();
      const ownParkKey = parkKey(slot.key, item, now);
      const [entry, parked] = await store.getMany([slot.key, ownParkKey]);
      const record = decodeSlot(entry?.value, slot.value);
      const backlogged = record.parked > 0;
      prune(record, now);
      record.limit = slot.limit;
      const ops: StoreOp[] = [];
      const reservation = record.reservations[item.id];
      let held: boolean;
      if (reservation) {
        delete record.reservations[item.id];
        // A reservation made at ingest has no park entry (""); one made by a wake-up has one.
        const other = reservation.parkKey !== "" && reservation.parkKey !== ownParkKey;
        if (other) ops.push({ type: "delete", key: reservation.parkKey });
        if (parked) ops.push({ type: "delete", key: ownParkKey });
        record.parked = Math.max(0, record.parked - (other ? 1 : 0) - (parked ? 1 : 0));
        record.holders[holder.leaseId] = now + deps.leaseMs;
        held = true;
      } else if (
        record.holders[holder.leaseId] !== undefined ||
        slotsInUse(record, now) < slot.limit
      ) {
        record.holders[holder.leaseId] = now + deps.leaseMs;
        if (parked) {
          // This item was parked before (a duplicate, or its reservation lapsed): it runs now.
          ops.push({ type: "delete", key: ownParkKey, expect: parked.version });
          record.parked = Math.max(0, record.parked - 1);
        }
        held = true;
      } else {
        held = false;
        if (!park) return false;
        if (!parked) {
          ops.push({
            type: "set",
            key: ownParkKey,
            value: encodeParked(item, now),
            expect: "absent",
          });
          record.parked++;
        }
      }
      ops.unshift(...writeRecord(slot.key, record, entry?.version, backlogged));
      try {
        await deps.commit(ops);
        return held;
      } catch (error) {
        if (StoreConflictError.isInstance(error) && tries < MAX_TRIES) continue;
        throw error;
      }
    }
  };

  const releaseOne = async (slot: SlotRef, holder: SlotHolder): Promise<void> => {
    for (let tries = 0; ; tries++) {
      const now = deps.now();
      const entry = await store.get(slot.key);
      if (!entry) return;
      const record = decodeSlot(entry.value, slot.value);
      const backlogged = record.parked > 0;
      const ops: StoreOp[] = [];
      let changed = false;
      if (record.holders[holder.leaseId] !== undefined) {
        delete record.holders[holder.leaseId];
        changed = true;
      }
      const reservation = record.reservations[holder.itemId];
      if (reservation) {
        // A woken item that did not execute (its run moved on): its park entry goes too.
        delete record.reservations[holder.itemId];
        if (reservation.parkKey !== "") {
          ops.push({ type: "delete", key: reservation.parkKey });
          record.parked = Math.max(0, record.parked - 1);
        }
        changed = true;
      }
      if (!changed) return;
      prune(record, now);
      const woken = await wake(slot.key, record, slot.limit, now);
      ops.unshift(...writeRecord(slot.key, record, entry.version, backlogged));
      try {
        await deps.commit(ops);
      } catch (error) {
        if (StoreConflictError.isInstance(error) && tries < MAX_TRIES) continue;
        throw error;
      }
      if (woken.length > 0) await deps.enqueue(woken);
      return;
    }
  };

  return {
    async acquire(slots, holder, item) {
      for (const [index, slot] of slots.entries()) {
        if (await acquireOne(slot, holder, item, true)) continue;
        // Parked on this key: the keys taken before it must not be held while waiting.
        for (const taken of slots.slice(0, index)) await releaseOne(taken, holder);
        return false;
      }
      return true;
    },

    async tryAcquire(slots, holder) {
      const item = { id: holder.itemId, payload: new Uint8Array(0) };
      for (const [index, slot] of slots.entries()) {
        if (await acquireOne(slot, holder, item, false)) continue;
        for (const taken of slots.slice(0, index)) await releaseOne(taken, holder);
        return false;
      }
      return true;
    },

    async requeueIfReserved(slots, item) {
      const entries = await store.getMany(slots.map((slot) => slot.key));
      const reserved = entries.some(
        (entry) =>
          entry !== undefined && decodeSlot(entry.value, "").reservations[item.id] !== undefined,
      );
      if (reserved) await deps.enqueue([item]);
    },

    async release(slots, holder) {
      for (const slot of slots) await releaseOne(slot, holder);
    },

    async extend(slots, holder) {
      for (const slot of slots) {
        for (let tries = 0; tries < 20; tries++) {
          const entry = await store.get(slot.key);
          if (!entry) break;
          const record = decodeSlot(entry.value, slot.value);
          if (record.holders[holder.leaseId] === undefined) break;
          record.holders[holder.leaseId] = deps.now() + deps.leaseMs;
          try {
            await deps.commit([
              { type: "set", key: slot.key, value: encodeSlot(record), expect: entry.version },
            ]);
            break;
          } catch (error) {
            if (!StoreConflictError.isInstance(error)) throw error;
          }
        }
      }
    },

    async admit(entries) {
      if (entries.length === 0) return [];
      const keys = [...new Set(entries.flatMap((entry) => entry.slots.map((slot) => slot.key)))];
      for (let tries = 0; tries < 20; tries++) {
        const now = deps.now();
        const stored = await store.getMany(keys);
        const records = new Map<
          string,
          { record: SlotRecord; version: number | undefined; backlogged: boolean; touched: boolean }
        >();
        keys.forEach((key, index) => {
          const entry = stored[index];
          const record = decodeSlot(entry?.value, "");
          const state = {
            record,
            version: entry?.version,
            backlogged: record.parked > 0,
            touched: false,
          };
          prune(record, now);
          records.set(key, state);
        });
        const ops: StoreOp[] = [];
        const enqueue: EnqueueItem[] = [];
        for (const { slots, item } of entries) {
          const states = slots.map((slot) => records.get(slot.key));
          const blocked = slots.findIndex((slot, index) => {
            const record = states[index]?.record;
            return !record || record.parked > 0 || slotsInUse(record, now) >= slot.limit;
          });
          if (blocked < 0) {
            slots.forEach((slot, index) => {
              const state = states[index];
              if (!state) return;
              state.record.keyValue = slot.value;
              state.record.limit = slot.limit;
              state.record.reservations[item.id] = { expiresAt: now + deps.leaseMs, parkKey: "" };
              state.touched = true;
            });
            enqueue.push(item);
          } else {
            const slot = slots[blocked];
            const state = states[blocked];
            if (!slot || !state) continue;
            state.record.keyValue = slot.value;
            state.record.limit = slot.limit;
            state.record.parked++;
            state.touched = true;
            ops.push({
              type: "set",
              key: parkKey(slot.key, item, now),
              value: encodeParked(item, now),
            });
          }
        }
        for (const [key, state] of records) {
          if (state.touched)
            ops.unshift(...writeRecord(key, state.record, state.version, state.backlogged));
        }
        try {
          await deps.commit(ops);
          return enqueue;
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
        }
      }
      // Keys too busy to admit in one commit: enqueue; each item is then gated when claimed.
      return entries.map((entry) => entry.item);
    },

    async sweep() {
      const at = deps.prefix.length;
      const markers = await store.list({ prefix: `${deps.prefix}fc/c/b/`, limit: 1000 });
      let woken = 0;
      for (const marker of markers) {
        const slotKey = `${deps.prefix}fc/c/${marker.key.slice(at + "fc/c/b/".length)}`;
        for (let tries = 0; tries < 20; tries++) {
          const now = deps.now();
          const entry = await store.get(slotKey);
          if (!entry) {
            await deps
              .commit([{ type: "delete", key: marker.key, expect: marker.version }])
              .catch(() => undefined);
            break;
          }
          const record = decodeSlot(entry.value, "");
          const backlogged = record.parked > 0;
          prune(record, now);
          const items = await wake(slotKey, record, record.limit, now);
          if (items.length === 0) break;
          try {
            await deps.commit(writeRecord(slotKey, record, entry.version, backlogged));
          } catch (error) {
            if (StoreConflictError.isInstance(error)) continue;
            throw error;
          }
          await deps.enqueue(items);
          woken += items.length;
          break;
        }
      }
      return woken;
    },
  };
}
