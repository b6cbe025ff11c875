import { randomBytes } from "node:crypto";
import {
  type ClaimOptions,
  type Clock,
  closedError,
  createIdGenerator,
  distinctLeaseRefs,
  type EnqueueItem,
  type EnqueueResult,
  type Lease,
  type LeaseBatchResult,
  type LeaseRef,
  leaseBatchResult,
  leaseLost,
  leaseOwnerPrefix,
  MAX_QUEUE_ID_BYTES,
  type Queue,
  type QueueItem,
  type RetryOptions,
  validateClaimOptions,
  validateEnqueueItems,
  validateLeaseMs,
  validateLeaseOwner,
  validateLeaseRef,
  validateRetryOptions,
} from "@troupe/core";
import { z } from "zod";
import {
  connect,
  connectionShape,
  mapSqliteError,
  parseOptions,
  type SqliteConnectionOptions,
} from "./database.js";
import { limitedQuery } from "./limited-query.js";

/** Options of {@link createSqliteQueue}. */
export type SqliteQueueOptions = SqliteConnectionOptions & {
  /** The queue's name: queues with different names on one file are independent. */
  readonly queueName: string;
  /** Where time comes from (leases, delays, `enqueuedAt`): the database's clock is never used. */
  readonly clock: Clock;
};

const clockSchema = z.custom<Clock>(
  (value) =>
    typeof value === "object" &&
    value !== null &&
    typeof (value as Clock).now === "function" &&
    typeof (value as Clock).setTimer === "function",
  "expected a Clock (systemClock, or a ManualClock in tests)",
);

const optionsSchema = z.strictObject({
  ...connectionShape,
  queueName: z
    .string()
    .min(1, "expected a non-empty string")
    .refine((name) => Buffer.byteLength(name, "utf8") <= MAX_QUEUE_ID_BYTES, {
      message: `must be at most ${MAX_QUEUE_ID_BYTES} UTF-8 bytes`,
    }),
  clock: clockSchema,
});

interface ItemRow {
  readonly seq: number;
  readonly id: string;
  readonly payload: Buffer;
  readonly priority: number;
  readonly available_at: number;
  readonly enqueued_at: number;
  readonly attempts: number;
  readonly lease_id: string | null;
  readonly partition_key: string | null;
}

const ITEM_COLUMNS =
  "seq, id, payload, priority, available_at, enqueued_at, attempts, lease_id, partition_key";

function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function toItem(row: ItemRow): QueueItem {
  return {
    id: row.id,
    payload: toBytes(row.payload),
    priority: row.priority,
    partitionKey: row.partition_key ?? undefined,
    availableAt: row.available_at,
    enqueuedAt: row.enqueued_at,
    attempts: row.attempts,
    state: row.lease_id === null ? "waiting" : "leased",
  };
}

const CLAIM_ORDER = "ORDER BY priority DESC, available_at, seq";

// Claim order between two rows: priority DESC, then available_at, then seq.
function claimOrder(a: ItemRow, b: ItemRow): number {
  return b.priority - a.priority || a.available_at - b.available_at || a.seq - b.seq;
}

// The earliest available_at among waiting items, without a by-time index: walk the distinct
// priorities of the ready index (each step a seek) and take each group's first available_at,
// which the index holds in order. O(priorities x log n) instead of a scan of every waiting item.
// The filter's parameters repeat three times (better-sqlite3 has no numbered parameters).
function nextWaitingSql(partitionFilter: string): string {
  const waiting = `FROM troupe_queue WHERE queue = ? AND lease_id IS NULL ${partitionFilter}`;
  return `
    WITH RECURSIVE levels(priority) AS (
      SELECT max(priority) ${waiting}
      UNION ALL
      SELECT (SELECT max(priority) ${waiting} AND priority < levels.priority)
      FROM levels WHERE levels.priority IS NOT NULL
    )
    SELECT min((SELECT min(available_at) ${waiting} AND priority = levels.priority))
    FROM levels WHERE levels.priority IS NOT NULL`;
}

/**
 * A {@link Queue} on a SQLite file. Items of every queue live in one table; a claim is one
 * `BEGIN IMMEDIATE` transaction that reads the due items off a partial index in claim order and
 * stamps each with a fresh lease id, so concurrent claimers (connections or processes) never get
 * the same lease. `ack`, `retry` and `extend` are single statements matched on the lease id.
 * Time comes only from `clock`.
 */
export function createSqliteQueue(options: SqliteQueueOptions): Queue {
  const settings = parseOptions(optionsSchema, options, "options");
  const { queueName, clock } = settings;
  const { database, owned } = connect(settings, "options");
  const newId = createIdGenerator(clock);
  let closed = false;

  const insert = database.prepare(
    `INSERT INTO troupe_queue (queue, id, payload, priority, available_at, enqueued_at, attempts, partition_key)
     VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (queue, id) DO NOTHING`,
  );
  // Positional parameters throughout: binding an object of named ones costs ~10 µs per call.
  // The ready index is named because without statistics the planner may prefer another index
  // plus a sort of every due row.
  const selectReady = limitedQuery<[string, number], ItemRow>(
    database,
    `SELECT ${ITEM_COLUMNS} FROM troupe_queue INDEXED BY troupe_queue_ready
     WHERE queue = ? AND lease_id IS NULL AND available_at <= ? ${CLAIM_ORDER}`,
  );
  const selectReadyInPartition = limitedQuery<[string, string, number], ItemRow>(
    database,
    `SELECT ${ITEM_COLUMNS} FROM troupe_queue INDEXED BY troupe_queue_partition
     WHERE queue = ? AND partition_key = ? AND lease_id IS NULL AND available_at <= ?
     ${CLAIM_ORDER}`,
  );
  const selectLapsed = limitedQuery<[string, number], ItemRow>(
    database,
    `SELECT ${ITEM_COLUMNS} FROM troupe_queue INDEXED BY troupe_queue_leased
     WHERE queue = ? AND lease_id IS NOT NULL AND lease_expires_at <= ? ${CLAIM_ORDER}`,
  );
  const selectLapsedInPartition = limitedQuery<[string, number, string], ItemRow>(
    database,
    `SELECT ${ITEM_COLUMNS} FROM troupe_queue INDEXED BY troupe_queue_leased
     WHERE queue = ? AND lease_id IS NOT NULL AND lease_expires_at <= ? AND partition_key = ?
     ${CLAIM_ORDER}`,
  );
  const markLeased = database.prepare<[string, number, number]>(
    "UPDATE troupe_queue SET lease_id = ?, lease_expires_at = ?, attempts = attempts + 1 WHERE seq = ?",
  );
  const deleteLeased = database.prepare<[string, string, string]>(
    "DELETE FROM troupe_queue WHERE queue = ? AND id = ? AND lease_id = ?",
  );
  const releaseLeased = database.prepare<[number, string, string, string]>(
    "UPDATE troupe_queue SET lease_id = NULL, lease_expires_at = NULL, available_at = ? WHERE queue = ? AND id = ? AND lease_id = ?",
  );
  // A scan of the queue's leased rows: run once when a claimer restarts, so no index is kept.
  const releaseOwned = database.prepare<[number, string, number, string]>(
    `UPDATE troupe_queue SET lease_id = NULL, lease_expires_at = NULL, available_at = ?
      WHERE queue = ? AND lease_id IS NOT NULL AND substr(lease_id, 1, ?) = ?`,
  );
  const extendLeased = database.prepare<[number, string, string, string]>(
    "UPDATE troupe_queue SET lease_expires_at = ? WHERE queue = ? AND id = ? AND lease_id = ?",
  );
  const deleteItem = database.prepare<[string, string]>(
    "DELETE FROM troupe_queue WHERE queue = ? AND id = ?",
  );
  const selectItem = database.prepare<[string, string], ItemRow>(
    `SELECT ${ITEM_COLUMNS} FROM troupe_queue WHERE queue = ? AND id = ?`,
  );
  const nextWaiting = database
    .prepare<[string, string, string], number | null>(nextWaitingSql(""))
    .pluck();
  const nextWaitingInPartition = database
    .prepare<[string, string, string, string, string, string], number | null>(
      nextWaitingSql("AND partition_key = ?"),
    )
    .pluck();
  const nextLapse = database
    .prepare<[string], number | null>(
      "SELECT min(lease_expires_at) FROM troupe_queue WHERE queue = ? AND lease_id IS NOT NULL",
    )
    .pluck();
  const nextLapseInPartition = database
    .prepare<[string, string], number | null>(
      "SELECT min(lease_expires_at) FROM troupe_queue WHERE queue = ? AND lease_id IS NOT NULL AND partition_key = ?",
    )
    .pluck();
  const countItems = database.prepare<[string], { waiting: number | null; leased: number | null }>(
    "SELECT sum(lease_id IS NULL) AS waiting, sum(lease_id IS NOT NULL) AS leased FROM troupe_queue WHERE queue = ?",
  );

  const insertItems = (items: readonly EnqueueItem[], now: number): EnqueueResult[] =>
    items.map((item) => {
      const id = item.id ?? newId();
      const { changes } = insert.run(
        queueName,
        id,
        item.payload,
        item.priority ?? 0,
        item.availableAt ?? now,
        now,
        item.partitionKey ?? null,
      );
      return { id, created: changes === 1 };
    });
  const insertItemsAtomically = database.transaction(insertItems);

  // IMMEDIATE: the due rows are read and leased under the write lock, so no other connection can
  // claim them in between.
  // Lease ids only need to be unique, not sortable: a random per-instance prefix and a counter
  // cost far less than a ULID (which draws random bytes every time).
  const leasePrefix = `${randomBytes(8).toString("hex")}-`;
  let leaseCounter = 0;

  // IMMEDIATE: the due rows are read and leased under the write lock, so no other connection can
  // claim them in between. Waiting and lapsed candidates come from two index seeks (each already
  // in claim order) and are merged here, which is far cheaper than one compound SELECT.
  const claimItems = database.transaction((claim: ClaimOptions, now: number): Lease[] => {
    const { limit, partitionKey } = claim;
    let rows =
      partitionKey === undefined
        ? selectReady(limit, queueName, now)
        : selectReadyInPartition(limit, queueName, partitionKey, now);
    // Lapsed leases are rare: one seek for the earliest expiry avoids running the sorted query
    // (and its sorter) on nearly every claim.
    const earliestExpiry = nextLapse.get(queueName);
    const lapsed =
      earliestExpiry === null || earliestExpiry === undefined || earliestExpiry > now
        ? []
        : partitionKey === undefined
          ? selectLapsed(limit, queueName, now)
          : selectLapsedInPartition(limit, queueName, now, partitionKey);
    if (lapsed.length > 0) rows = [...rows, ...lapsed].sort(claimOrder).slice(0, limit);
    const leaseExpiresAt = now + claim.leaseMs;
    const ownerPrefix = leaseOwnerPrefix(claim.owner);
    return rows.map((row) => {
      const leaseId = `${ownerPrefix}${leasePrefix}${(leaseCounter++).toString(36)}`;
      markLeased.run(leaseId, leaseExpiresAt, row.seq);
      return {
        ...toItem(row),
        attempts: row.attempts + 1,
        state: "leased",
        leaseId,
        leaseExpiresAt,
      };
    });
  });

  // A batch is one IMMEDIATE transaction of single-row statements matched on the lease id (each a
  // primary-key seek): one commit, and a lease that is no longer held simply changes no row.
  const ackItems = database.transaction((refs: readonly LeaseRef[]): LeaseBatchResult => {
    const applied = new Set<LeaseRef>();
    for (const ref of refs) {
      if (deleteLeased.run(queueName, ref.id, ref.leaseId).changes > 0) applied.add(ref);
    }
    return leaseBatchResult(refs, (ref) => applied.has(ref));
  });
  const retryItems = database.transaction(
    (refs: readonly LeaseRef[], availableAt: number): LeaseBatchResult => {
      const applied = new Set<LeaseRef>();
      for (const ref of refs) {
        const { changes } = releaseLeased.run(availableAt, queueName, ref.id, ref.leaseId);
        if (changes > 0) applied.add(ref);
      }
      return leaseBatchResult(refs, (ref) => applied.has(ref));
    },
  );

  const readNext = database.transaction((partitionKey: string | undefined) => {
    const waiting =
      partitionKey === undefined
        ? nextWaiting.get(queueName, queueName, queueName)
        : nextWaitingInPartition.get(
            ...([
              queueName,
              partitionKey,
              queueName,
              partitionKey,
              queueName,
              partitionKey,
            ] as const),
          );
    const lapse =
      partitionKey === undefined
        ? nextLapse.get(queueName)
        : nextLapseInPartition.get(queueName, partitionKey);
    const times = [waiting, lapse].filter((time): time is number => typeof time === "number");
    return times.length === 0 ? undefined : Math.min(...times);
  });

  const ensureOpen = () => {
    if (closed) throw closedError(`sqlite queue ${JSON.stringify(queueName)}`);
  };
  const run = <T>(doing: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw mapSqliteError(error, `${doing} (queue ${JSON.stringify(queueName)})`);
    }
  };
  const enqueueMany = async (items: readonly EnqueueItem[]): Promise<EnqueueResult[]> => {
    ensureOpen();
    validateEnqueueItems(items);
    if (items.length === 0) return [];
    const now = clock.now();
    // A single INSERT is atomic on its own: skipping BEGIN/COMMIT saves two statements.
    return run("enqueueing", () =>
      items.length === 1 ? insertItems(items, now) : insertItemsAtomically.immediate(items, now),
    );
  };

  return {
    name: "sqlite",
    queueName,
    async enqueue(item) {
      return (await enqueueMany([item]))[0] as EnqueueResult;
    },
    enqueueMany,
    async claim(claimOptions) {
      ensureOpen();
      validateClaimOptions(claimOptions);
      const now = clock.now();
      return run("claiming", () => claimItems.immediate(claimOptions, now));
    },
    async ack(lease: LeaseRef) {
      ensureOpen();
      validateLeaseRef(lease);
      const { changes } = run("acknowledging", () =>
        deleteLeased.run(queueName, lease.id, lease.leaseId),
      );
      if (changes === 0) throw leaseLost(queueName, lease.id);
    },
    async ackMany(leases: readonly LeaseRef[]) {
      ensureOpen();
      const refs = distinctLeaseRefs(leases);
      if (refs.length === 0) return { applied: [], lost: [] };
      return run("acknowledging a batch", () => ackItems.immediate(refs));
    },
    async retryMany(leases: readonly LeaseRef[], retryOptions?: RetryOptions) {
      ensureOpen();
      validateRetryOptions(retryOptions);
      const refs = distinctLeaseRefs(leases);
      if (refs.length === 0) return { applied: [], lost: [] };
      const availableAt = retryOptions?.availableAt ?? clock.now();
      return run("retrying a batch", () => retryItems.immediate(refs, availableAt));
    },
    async releaseOwner(owner: string) {
      ensureOpen();
      validateLeaseOwner(owner);
      const prefix = leaseOwnerPrefix(owner);
      const now = clock.now();
      const { changes } = run("releasing an owner's leases", () =>
        releaseOwned.run(now, queueName, prefix.length, prefix),
      );
      return changes;
    },
    async retry(lease: LeaseRef, retryOptions?: RetryOptions) {
      ensureOpen();
      validateLeaseRef(lease);
      validateRetryOptions(retryOptions);
      const availableAt = retryOptions?.availableAt ?? clock.now();
      const { changes } = run("retrying", () =>
        releaseLeased.run(availableAt, queueName, lease.id, lease.leaseId),
      );
      if (changes === 0) throw leaseLost(queueName, lease.id);
    },
    async extend(lease: LeaseRef, leaseMs: number) {
      ensureOpen();
      validateLeaseRef(lease);
      validateLeaseMs(leaseMs);
      const leaseExpiresAt = clock.now() + leaseMs;
      const { changes } = run("extending a lease", () =>
        extendLeased.run(leaseExpiresAt, queueName, lease.id, lease.leaseId),
      );
      if (changes === 0) throw leaseLost(queueName, lease.id);
      return leaseExpiresAt;
    },
    async remove(id: string) {
      ensureOpen();
      if (typeof id !== "string" || id.length === 0) return false;
      const { changes } = run("removing", () => deleteItem.run(queueName, id));
      return changes > 0;
    },
    async get(id: string) {
      ensureOpen();
      if (typeof id !== "string" || id.length === 0) return undefined;
      const row = run("reading an item", () => selectItem.get(queueName, id));
      return row && toItem(row);
    },
    async nextAvailableAt(partitionKey?: string) {
      ensureOpen();
      return run("reading the next due time", () => readNext.deferred(partitionKey));
    },
    async counts() {
      ensureOpen();
      const row = run("counting", () => countItems.get(queueName));
      return { waiting: row?.waiting ?? 0, leased: row?.leased ?? 0 };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned && database.open) database.close();
    },
  };
}
