import { type Clock, systemClock } from "../clock.js";
import { closedError, leaseLost } from "../errors.js";
import { createIdGenerator } from "../ids.js";
import {
  type ClaimOptions,
  distinctLeaseRefs,
  type EnqueueItem,
  type EnqueueResult,
  type Lease,
  type LeaseRef,
  leaseBatchResult,
  leaseOwnerPrefix,
  type Queue,
  type QueueItem,
  type RetryOptions,
  validateClaimOptions,
  validateEnqueueItems,
  validateLeaseMs,
  validateLeaseOwner,
  validateLeaseRef,
  validateQueueText,
  validateRetryOptions,
} from "../queue.js";
import { Heap } from "./heap.js";

/** Options of {@link createMemoryQueue}. */
export interface MemoryQueueOptions {
  /** The queue's name. Default "default". */
  readonly queueName?: string;
  /** Where time comes from (a `ManualClock` in tests). Default: the system clock. */
  readonly clock?: Clock;
}

interface ItemRecord {
  id: string;
  payload: Uint8Array;
  priority: number;
  partitionKey: string | undefined;
  availableAt: number;
  enqueuedAt: number;
  attempts: number;
  seq: number;
  leaseId: string | undefined;
  leaseExpiresAt: number;
  // Bumped on every change; heap entries made under an older generation are skipped.
  generation: number;
}

interface HeapEntry {
  readonly record: ItemRecord;
  readonly generation: number;
  readonly at: number;
}

/**
 * A {@link Queue} in process memory: for tests and single-process use; nothing survives the
 * process. Claims cost O(log n) per item through three heaps (delayed, ready, leased);
 * a claim limited to one partition scans the queue.
 */
export function createMemoryQueue(options: MemoryQueueOptions = {}): Queue {
  const clock = options.clock ?? systemClock;
  const queueName = options.queueName ?? "default";
  const newId = createIdGenerator(clock);
  const records = new Map<string, ItemRecord>();
  const isCurrent = (entry: HeapEntry) =>
    records.get(entry.record.id) === entry.record && entry.record.generation === entry.generation;
  const readyOrder = (a: HeapEntry, b: HeapEntry) =>
    a.record.priority !== b.record.priority
      ? a.record.priority > b.record.priority
      : a.record.availableAt !== b.record.availableAt
        ? a.record.availableAt < b.record.availableAt
        : a.record.seq < b.record.seq;
  const byTime = (a: HeapEntry, b: HeapEntry) => a.at < b.at;
  const delayed = new Heap<HeapEntry>(byTime);
  const ready = new Heap<HeapEntry>(readyOrder);
  const leased = new Heap<HeapEntry>(byTime);
  let seq = 0;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw closedError(`memory queue ${JSON.stringify(queueName)}`);
  };
  const schedule = (record: ItemRecord) => {
    record.generation++;
    const entry = { record, generation: record.generation, at: record.availableAt };
    if (record.leaseId !== undefined) leased.push({ ...entry, at: record.leaseExpiresAt });
    else if (record.availableAt <= clock.now()) ready.push(entry);
    else delayed.push(entry);
  };
  const promoteDue = (now: number) => {
    for (const heap of [delayed, leased]) {
      for (let top = heap.peek(); top && top.at <= now; top = heap.peek()) {
        heap.pop();
        if (isCurrent(top)) ready.push(top);
      }
    }
  };
  const view = (record: ItemRecord): QueueItem => ({
    id: record.id,
    payload: record.payload.slice(),
    priority: record.priority,
    partitionKey: record.partitionKey,
    availableAt: record.availableAt,
    enqueuedAt: record.enqueuedAt,
    attempts: record.attempts,
    state: record.leaseId === undefined ? "waiting" : "leased",
  });
  const lease = (record: ItemRecord, now: number, leaseMs: number, owner?: string): Lease => {
    record.attempts++;
    record.leaseId = `${leaseOwnerPrefix(owner)}${newId()}`;
    record.leaseExpiresAt = now + leaseMs;
    schedule(record);
    return { ...view(record), leaseId: record.leaseId, leaseExpiresAt: record.leaseExpiresAt };
  };
  const held = (ref: LeaseRef): ItemRecord => {
    validateLeaseRef(ref);
    const record = records.get(ref.id);
    if (!record || record.leaseId !== ref.leaseId) throw leaseLost(queueName, ref.id);
    return record;
  };
  const isHeld = (ref: LeaseRef) => records.get(ref.id)?.leaseId === ref.leaseId;
  // Judges every lease before changing anything, so two leases on one item cannot both apply.
  const settleMany = (refs: readonly LeaseRef[], settle: (record: ItemRecord) => void) => {
    const result = leaseBatchResult(refs, isHeld);
    for (const ref of result.applied) {
      const record = records.get(ref.id);
      if (record) settle(record);
    }
    return result;
  };
  const claimable = (record: ItemRecord, now: number) =>
    record.leaseId === undefined ? record.availableAt <= now : record.leaseExpiresAt <= now;

  const enqueueMany = async (
    items: readonly EnqueueItem[],
    field = "items",
  ): Promise<EnqueueResult[]> => {
    ensureOpen();
    validateEnqueueItems(items, field);
    const now = clock.now();
    return items.map((item) => {
      const id = item.id ?? newId();
      if (records.has(id)) return { id, created: false };
      const record: ItemRecord = {
        id,
        payload: item.payload.slice(),
        priority: item.priority ?? 0,
        partitionKey: item.partitionKey,
        availableAt: item.availableAt ?? now,
        enqueuedAt: now,
        attempts: 0,
        seq: seq++,
        leaseId: undefined,
        leaseExpiresAt: 0,
        generation: 0,
      };
      records.set(id, record);
      schedule(record);
      return { id, created: true };
    });
  };

  return {
    name: "memory",
    queueName,
    async enqueue(item) {
      return (await enqueueMany([item], "item"))[0] as EnqueueResult;
    },
    enqueueMany: (items) => enqueueMany(items),
    async claim(claimOptions: ClaimOptions) {
      ensureOpen();
      validateClaimOptions(claimOptions);
      const now = clock.now();
      const out: Lease[] = [];
      if (claimOptions.partitionKey !== undefined) {
        const candidates = [...records.values()]
          .filter(
            (record) => record.partitionKey === claimOptions.partitionKey && claimable(record, now),
          )
          .map((record) => ({ record, generation: record.generation, at: 0 }))
          .sort((a, b) => (readyOrder(a, b) ? -1 : 1));
        for (const { record } of candidates.slice(0, claimOptions.limit)) {
          out.push(lease(record, now, claimOptions.leaseMs, claimOptions.owner));
        }
        return out;
      }
      promoteDue(now);
      while (out.length < claimOptions.limit) {
        const top = ready.pop();
        if (!top) break;
        if (!isCurrent(top) || !claimable(top.record, now)) continue;
        out.push(lease(top.record, now, claimOptions.leaseMs, claimOptions.owner));
      }
      return out;
    },
    async ack(ref) {
      ensureOpen();
      const record = held(ref);
      records.delete(record.id);
      record.generation++;
    },
    async ackMany(refs) {
      ensureOpen();
      return settleMany(distinctLeaseRefs(refs), (record) => {
        records.delete(record.id);
        record.generation++;
      });
    },
    async retryMany(refs, retryOptions?: RetryOptions) {
      ensureOpen();
      validateRetryOptions(retryOptions);
      const distinct = distinctLeaseRefs(refs);
      const availableAt = retryOptions?.availableAt ?? clock.now();
      return settleMany(distinct, (record) => {
        record.leaseId = undefined;
        record.availableAt = availableAt;
        schedule(record);
      });
    },
    async releaseOwner(owner) {
      ensureOpen();
      validateLeaseOwner(owner);
      const prefix = leaseOwnerPrefix(owner);
      const now = clock.now();
      let released = 0;
      for (const record of records.values()) {
        if (!record.leaseId?.startsWith(prefix)) continue;
        record.leaseId = undefined;
        record.availableAt = now;
        schedule(record);
        released++;
      }
      return released;
    },
    async retry(ref, retryOptions?: RetryOptions) {
      ensureOpen();
      validateRetryOptions(retryOptions);
      const record = held(ref);
      record.leaseId = undefined;
      record.availableAt = retryOptions?.availableAt ?? clock.now();
      schedule(record);
    },
    async extend(ref, leaseMs) {
      ensureOpen();
      validateLeaseMs(leaseMs);
      const record = held(ref);
      record.leaseExpiresAt = clock.now() + leaseMs;
      schedule(record);
      return record.leaseExpiresAt;
    },
    async remove(id) {
      ensureOpen();
      validateQueueText(id, "id");
      const record = records.get(id);
      if (!record) return false;
      records.delete(id);
      record.generation++;
      return true;
    },
    async get(id) {
      ensureOpen();
      validateQueueText(id, "id");
      const record = records.get(id);
      return record && view(record);
    },
    async nextAvailableAt(partitionKey) {
      ensureOpen();
      if (partitionKey !== undefined) validateQueueText(partitionKey, "partitionKey");
      let next: number | undefined;
      for (const record of records.values()) {
        if (partitionKey !== undefined && record.partitionKey !== partitionKey) continue;
        const at = record.leaseId === undefined ? record.availableAt : record.leaseExpiresAt;
        if (next === undefined || at < next) next = at;
      }
      return next;
    },
    async counts() {
      ensureOpen();
      let waiting = 0;
      let leasedCount = 0;
      for (const record of records.values()) {
        if (record.leaseId === undefined) waiting++;
        else leasedCount++;
      }
      return { waiting, leased: leasedCount };
    },
    async close() {
      closed = true;
    },
  };
}
