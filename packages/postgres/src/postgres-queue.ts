import {
  type ClaimOptions,
  type Clock,
  closedError,
  createIdGenerator,
  distinctLeaseRefs,
  type EnqueueItem,
  type EnqueueResult,
  invalidArgument,
  type Lease,
  type LeaseBatchResult,
  type LeaseRef,
  type Logger,
  leaseBatchResult,
  leaseLost,
  leaseOwnerPrefix,
  MAX_QUEUE_ID_BYTES,
  noopLogger,
  type PairedCommitOptions,
  type PairedCommitResult,
  type Queue,
  type QueueItem,
  type RetryOptions,
  type StoreOp,
  type StorePairedQueue,
  systemClock,
  validateClaimOptions,
  validateCommit,
  validateEnqueueItems,
  validateLeaseMs,
  validateLeaseOwner,
  validateLeaseRef,
  validatePairedCommitOptions,
  validateRetryOptions,
} from "@troupe/core";
import type pg from "pg";
import { z } from "zod";
import {
  connectionOptions,
  openPool,
  parseOptions,
  prepared,
  quoteIdent,
  runQuery,
} from "./connection.js";
import { migrateOnce } from "./migrations.js";
import {
  retryableCommitError,
  storeCommitArgs,
  storeCommitOutcome,
  storeHome,
} from "./store-commit.js";

/** Options of {@link createPostgresQueue}. Give exactly one of `connectionString` and `pool`. */
export interface PostgresQueueOptions {
  /** A PostgreSQL URL; the queue opens and owns a pool. */
  readonly connectionString?: string;
  /** A pool you manage; the queue uses it and leaves it open on `close`. */
  readonly pool?: pg.Pool;
  /** The schema holding the queue table, created and migrated on first use. Default "troupe". */
  readonly schema?: string;
  /** The queue's name; queues with different names share one table but are independent. */
  readonly queueName: string;
  /**
   * Where time comes from: availability, lease expiry and due checks all use it, never the
   * database's clock. Default: the system clock. Processes sharing a queue need agreeing clocks.
   */
  readonly clock?: Clock;
  /** Where warnings (such as a dropped idle connection) go. Default: discarded. */
  readonly logger?: Logger;
}

/**
 * A PostgreSQL {@link Queue} with the optional Store pairing of `@troupe/core`
 * ({@link StorePairedQueue}): it commits a PostgreSQL Store's ops and enqueues items in ONE
 * transaction (one round trip, one commit) when the Store keeps its data in the same database
 * and schema, and can hand the new items back already leased. `pairsWith(store)` is true for a
 * Store from `createPostgresStore` on the same pool (or the same connection string) and schema.
 */
export interface PostgresQueue extends StorePairedQueue {}

const optionsSchema = z.strictObject({
  ...connectionOptions,
  queueName: z
    .string()
    .min(1)
    .refine((name) => Buffer.byteLength(name, "utf8") <= MAX_QUEUE_ID_BYTES, {
      message: `must be at most ${MAX_QUEUE_ID_BYTES} UTF-8 bytes`,
    }),
  clock: z
    .custom<Clock>(
      (value) =>
        typeof value === "object" &&
        value !== null &&
        typeof (value as { now?: unknown }).now === "function",
      { message: "expected a Clock (an object with now())" },
    )
    .optional(),
});

interface ItemRow {
  id: string;
  payload: Buffer;
  priority: number;
  partition_key: string | null;
  available_at: string;
  enqueued_at: string;
  attempts: number;
  seq: string;
  lease_id: string | null;
  lease_expires_at: string | null;
}

interface LeasedRow {
  id: string;
  lease_id: string;
  attempts: number;
}

const COLUMNS =
  "id, payload, priority, partition_key, available_at, enqueued_at, attempts, seq, lease_id, lease_expires_at";

const toItem = (row: ItemRow): QueueItem => ({
  id: row.id,
  payload: new Uint8Array(row.payload),
  priority: row.priority,
  partitionKey: row.partition_key ?? undefined,
  availableAt: Number(row.available_at),
  enqueuedAt: Number(row.enqueued_at),
  attempts: row.attempts,
  state: row.lease_id === null ? "waiting" : "leased",
});

// The order claims hand items out in; RETURNING does not keep the CTE's order, so claimed rows
// are sorted again in JavaScript.
const claimOrder = (a: ItemRow, b: ItemRow): number =>
  b.priority - a.priority ||
  Number(a.available_at) - Number(b.available_at) ||
  Number(a.seq) - Number(b.seq);

/**
 * A {@link Queue} on PostgreSQL: one table per schema holds every queue's items. A claim is one
 * statement: a CTE picks due rows in claim order with `FOR UPDATE SKIP LOCKED` (so concurrent
 * claimers never wait on, or get, each other's rows) and an UPDATE leases them. "Due" is judged
 * against the `clock` option: an unleased item whose `available_at` has come, or a leased one
 * whose lease lapsed. Ack, retry and extend are single statements matched on the lease id.
 */
export function createPostgresQueue(options: PostgresQueueOptions): PostgresQueue {
  const parsed = parseOptions("createPostgresQueue", optionsSchema, options);
  const schema = parsed.schema ?? "troupe";
  const queueName = parsed.queueName;
  const clock = parsed.clock ?? systemClock;
  const logger = parsed.logger ?? noopLogger;
  const handle = openPool("createPostgresQueue", parsed, logger);
  const { pool } = handle;
  const ready = migrateOnce(pool, schema);
  const newId = createIdGenerator(clock);
  const table = `${quoteIdent(schema)}.queue_items`;
  const what = `postgres queue ${JSON.stringify(queueName)} (schema "${schema}")`;
  let closed = false;

  const insertOne = prepared(
    `INSERT INTO ${table} (queue_name, id, payload, priority, available_at, enqueued_at, partition_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (queue_name, id) DO NOTHING RETURNING id`,
  );
  const insertMany = prepared(
    `INSERT INTO ${table} (queue_name, id, payload, priority, available_at, enqueued_at, partition_key)
     SELECT $1, i.id, i.payload, i.priority, i.available_at, $2, i.partition_key
       FROM unnest($3::text[], $4::bytea[], $5::integer[], $6::bigint[], $7::text[])
            WITH ORDINALITY AS i(id, payload, priority, available_at, partition_key, n)
      ORDER BY i.n
     ON CONFLICT (queue_name, id) DO NOTHING RETURNING id`,
  );
  // The Store's commit and the inserts in one statement: the inserts run only when the commit
  // applied (its first answer is a version, not -1), and both share the statement's transaction.
  // Items flagged in $12 are inserted leased (first attempt, lease until $13) for the caller;
  // the leases in $14/$15 still held are acknowledged (locked in id order, as ackMany does). $16
  // is the lease owner's prefix, so `releaseOwner` takes handed-over leases back too.
  const commitWithItemsSql = prepared(
    `WITH c AS MATERIALIZED (
       SELECT ${quoteIdent(schema)}.store_commit($1::bytea[], $2::text[], $3::bytea[], $4::bigint[]) AS r
     ), ins AS (
       INSERT INTO ${table} (queue_name, id, payload, priority, available_at, enqueued_at, partition_key,
                             lease_id, lease_expires_at, attempts)
       SELECT $5, i.id, i.payload, i.priority, i.available_at, $6, i.partition_key,
              CASE WHEN i.leased THEN $16::text || gen_random_uuid()::text END,
              CASE WHEN i.leased THEN $13::bigint END,
              CASE WHEN i.leased THEN 1 ELSE 0 END
         FROM unnest($7::text[], $8::bytea[], $9::integer[], $10::bigint[], $11::text[], $12::boolean[])
              WITH ORDINALITY AS i(id, payload, priority, available_at, partition_key, leased, n)
        WHERE (SELECT r[1] FROM c) >= 0
        ORDER BY i.n
       ON CONFLICT (queue_name, id) DO NOTHING
       RETURNING ${COLUMNS}
     ), held AS (
       SELECT q.id, q.lease_id FROM ${table} AS q
         JOIN unnest($14::text[], $15::text[]) AS b(id, lease_id)
           ON q.id = b.id AND q.lease_id = b.lease_id
        WHERE q.queue_name = $5 AND (SELECT r[1] FROM c) >= 0
        ORDER BY q.id
          FOR UPDATE OF q
     ), acked AS (
       DELETE FROM ${table} AS q USING held
        WHERE q.queue_name = $5 AND q.id = held.id
       RETURNING held.id, held.lease_id
     )
     SELECT (SELECT r FROM c) AS r,
            (SELECT coalesce(json_agg(json_build_object('id', id, 'lease_id', lease_id, 'attempts', attempts)),
                     '[]'::json) FROM ins WHERE lease_id IS NOT NULL) AS leased,
            (SELECT coalesce(json_agg(json_build_object('id', id, 'lease_id', lease_id)), '[]'::json)
               FROM acked) AS acked`,
  );
  const claimSql = (partitioned: boolean) =>
    prepared(
      `WITH due AS (
         SELECT id FROM ${table}
          WHERE queue_name = $1 ${partitioned ? "AND partition_key = $6" : ""}
            AND coalesce(lease_expires_at, available_at) <= $2::bigint
          ORDER BY priority DESC, available_at, seq
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       )
       UPDATE ${table} AS q
          SET lease_id = $5::text || gen_random_uuid()::text,
              lease_expires_at = $2::bigint + $4::bigint,
              attempts = q.attempts + 1
         FROM due
        WHERE q.queue_name = $1 AND q.id = due.id
       RETURNING ${COLUMNS.split(", ")
         .map((column) => `q.${column}`)
         .join(", ")}`,
    );
  const claimAny = claimSql(false);
  const claimPartition = claimSql(true);
  const ackSql = prepared(
    `DELETE FROM ${table} WHERE queue_name = $1 AND id = $2 AND lease_id = $3`,
  );
  // Batches are one statement each. The CTE locks the held rows in id order, so two batches
  // over the same items (in any order) queue up behind each other instead of deadlocking; a row
  // whose lease changed or that was deleted meanwhile drops out when the lock is granted.
  const heldRows = `WITH held AS (
         SELECT q.id, q.lease_id FROM ${table} AS q
           JOIN unnest($2::text[], $3::text[]) AS b(id, lease_id)
             ON q.id = b.id AND q.lease_id = b.lease_id
          WHERE q.queue_name = $1
          ORDER BY q.id
          FOR UPDATE OF q
       )`;
  const ackManySql = prepared(
    `${heldRows}
     DELETE FROM ${table} AS q USING held
      WHERE q.queue_name = $1 AND q.id = held.id
     RETURNING held.id, held.lease_id`,
  );
  const retryManySql = prepared(
    `${heldRows}
     UPDATE ${table} AS q SET lease_id = NULL, lease_expires_at = NULL, available_at = $4
       FROM held
      WHERE q.queue_name = $1 AND q.id = held.id
     RETURNING held.id, held.lease_id`,
  );
  const retrySql = prepared(
    `UPDATE ${table} SET lease_id = NULL, lease_expires_at = NULL, available_at = $4
      WHERE queue_name = $1 AND id = $2 AND lease_id = $3`,
  );
  // A scan of the queue's rows: run once when a claimer restarts, so no index is kept for it.
  const releaseOwnerSql = prepared(
    `UPDATE ${table} SET lease_id = NULL, lease_expires_at = NULL, available_at = $2
      WHERE queue_name = $1 AND lease_id IS NOT NULL AND left(lease_id, length($3::text)) = $3::text`,
  );
  const extendSql = prepared(
    `UPDATE ${table} SET lease_expires_at = $4 WHERE queue_name = $1 AND id = $2 AND lease_id = $3`,
  );
  const removeSql = prepared(`DELETE FROM ${table} WHERE queue_name = $1 AND id = $2`);
  const getSql = prepared(`SELECT ${COLUMNS} FROM ${table} WHERE queue_name = $1 AND id = $2`);
  const nextAnySql = prepared(
    `SELECT min(coalesce(lease_expires_at, available_at)) AS at FROM ${table} WHERE queue_name = $1`,
  );
  const nextPartitionSql = prepared(
    `SELECT min(coalesce(lease_expires_at, available_at)) AS at FROM ${table}
      WHERE queue_name = $1 AND partition_key = $2`,
  );
  const countsSql = prepared(
    `SELECT count(*) FILTER (WHERE lease_id IS NULL) AS waiting,
            count(*) FILTER (WHERE lease_id IS NOT NULL) AS leased
       FROM ${table} WHERE queue_name = $1`,
  );

  const begin = async () => {
    if (closed) throw closedError(what);
    await ready();
  };
  const validateId = (id: unknown, field: string) => {
    if (typeof id !== "string" || id.length === 0) {
      throw invalidArgument(field, "expected a non-empty string");
    }
  };
  const changeLease = async (ref: LeaseRef, config: pg.QueryConfig) => {
    const result = await runQuery(pool, what, config, false);
    if (result.rowCount !== 1) throw leaseLost(queueName, ref.id);
  };

  const settleMany = async (
    leases: readonly LeaseRef[],
    values: (ids: string[], leaseIds: string[]) => pg.QueryConfig,
  ): Promise<LeaseBatchResult> => {
    const refs = distinctLeaseRefs(leases);
    await begin();
    if (refs.length === 0) return { applied: [], lost: [] };
    const config = values(
      refs.map((ref) => ref.id),
      refs.map((ref) => ref.leaseId),
    );
    const result = await runQuery<{ id: string; lease_id: string }>(pool, what, config, false);
    const applied = new Set(result.rows.map((row) => JSON.stringify([row.id, row.lease_id])));
    return leaseBatchResult(refs, (ref) => applied.has(JSON.stringify([ref.id, ref.leaseId])));
  };

  const enqueueMany = async (items: readonly EnqueueItem[]): Promise<EnqueueResult[]> => {
    validateEnqueueItems(items);
    await begin();
    if (items.length === 0) return [];
    const now = clock.now();
    const ids = items.map((item) => item.id ?? newId());
    if (items.length === 1) {
      const item = items[0] as EnqueueItem;
      const id = ids[0] as string;
      const config = insertOne([
        queueName,
        id,
        Buffer.from(item.payload),
        item.priority ?? 0,
        item.availableAt ?? now,
        now,
        item.partitionKey ?? null,
      ]);
      const result = await runQuery(pool, what, config, false);
      return [{ id, created: result.rowCount === 1 }];
    }
    // Within one call the first item with an id wins; later ones are reported as duplicates.
    const first = new Map<string, number>();
    ids.forEach((id, index) => {
      if (!first.has(id)) first.set(id, index);
    });
    const chosen = [...first.values()];
    const pick = <T>(map: (item: EnqueueItem, index: number) => T) =>
      chosen.map((index) => map(items[index] as EnqueueItem, index));
    const config = insertMany([
      queueName,
      now,
      pick((_, index) => ids[index]),
      pick((item) => Buffer.from(item.payload)),
      pick((item) => item.priority ?? 0),
      pick((item) => item.availableAt ?? now),
      pick((item) => item.partitionKey ?? null),
    ]);
    const result = await runQuery<{ id: string }>(pool, what, config, false);
    const created = new Set(result.rows.map((row) => row.id));
    return ids.map((id, index) => ({ id, created: first.get(id) === index && created.has(id) }));
  };

  const commitWithStore = async (
    ops: readonly StoreOp[],
    items: readonly EnqueueItem[],
    commitOptions?: PairedCommitOptions,
  ): Promise<PairedCommitResult> => {
    validateCommit(ops);
    validateEnqueueItems(items);
    validatePairedCommitOptions(commitOptions);
    await begin();
    const lease = commitOptions?.lease;
    const acks = distinctLeaseRefs(commitOptions?.ack ?? [], "options.ack");
    if (ops.length === 0 && lease === undefined && acks.length === 0) {
      await enqueueMany(items);
      return { version: 0, leases: [], acked: [] };
    }
    const now = clock.now();
    const chosen = new Map<string, EnqueueItem>();
    for (const item of items) {
      const id = item.id ?? newId();
      if (!chosen.has(id)) chosen.set(id, item);
    }
    const wanted = new Set(lease?.ids ?? []);
    const ids = [...chosen.keys()];
    const picked = [...chosen.values()];
    const leaseExpiresAt = now + (lease?.leaseMs ?? 0);
    const config = commitWithItemsSql([
      ...storeCommitArgs(ops),
      queueName,
      now,
      ids,
      picked.map((item) => Buffer.from(item.payload)),
      picked.map((item) => item.priority ?? 0),
      picked.map((item) => item.availableAt ?? now),
      picked.map((item) => item.partitionKey ?? null),
      ids.map((id) => wanted.has(id)),
      leaseExpiresAt,
      acks.map((ack) => ack.id),
      acks.map((ack) => ack.leaseId),
      leaseOwnerPrefix(lease?.owner),
    ]);
    const storeWhat = `postgres store (schema "${schema}")`;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await runQuery<{
          r: string[];
          leased: LeasedRow[];
          acked: { id: string; lease_id: string }[];
        }>(pool, what, config, false);
        const row = result.rows[0];
        const outcome = storeCommitOutcome(storeWhat, ops, row?.r);
        const byId = new Map((row?.leased ?? []).map((leased) => [leased.id, leased]));
        const leases = (lease?.ids ?? []).flatMap((id): Lease[] => {
          const leased = byId.get(id);
          const item = chosen.get(id);
          if (!leased || !item) return [];
          byId.delete(id);
          return [
            {
              id,
              payload: item.payload,
              priority: item.priority ?? 0,
              partitionKey: item.partitionKey,
              availableAt: item.availableAt ?? now,
              enqueuedAt: now,
              attempts: leased.attempts,
              state: "leased",
              leaseId: leased.lease_id,
              leaseExpiresAt,
            },
          ];
        });
        const acked = new Set(
          (row?.acked ?? []).map((ref) => JSON.stringify([ref.id, ref.lease_id])),
        );
        return {
          ...outcome,
          leases,
          acked: acks.filter((ack) => acked.has(JSON.stringify([ack.id, ack.leaseId]))),
        };
      } catch (error) {
        if (attempt < 5 && retryableCommitError(error)) continue;
        throw error;
      }
    }
  };

  return {
    name: "postgres",
    queueName,
    pairsWith(store) {
      const home = storeHome(store);
      return (
        home !== undefined &&
        home.schema === schema &&
        home.connection === (parsed.pool ?? parsed.connectionString)
      );
    },
    commitWithStore,
    async enqueue(item) {
      return (await enqueueMany([item]))[0] as EnqueueResult;
    },
    enqueueMany,
    async claim(claimOptions: ClaimOptions): Promise<Lease[]> {
      validateClaimOptions(claimOptions);
      await begin();
      const now = clock.now();
      const { limit, leaseMs, partitionKey } = claimOptions;
      const prefix = leaseOwnerPrefix(claimOptions.owner);
      const config =
        partitionKey === undefined
          ? claimAny([queueName, now, limit, leaseMs, prefix])
          : claimPartition([queueName, now, limit, leaseMs, prefix, partitionKey]);
      const result = await runQuery<ItemRow>(pool, what, config, false);
      return result.rows.sort(claimOrder).map((row) => ({
        ...toItem(row),
        leaseId: row.lease_id ?? "",
        leaseExpiresAt: Number(row.lease_expires_at),
      }));
    },
    async ack(ref) {
      validateLeaseRef(ref);
      await begin();
      await changeLease(ref, ackSql([queueName, ref.id, ref.leaseId]));
    },
    ackMany(leases) {
      return settleMany(leases, (ids, leaseIds) => ackManySql([queueName, ids, leaseIds]));
    },
    async retryMany(leases, retryOptions?: RetryOptions) {
      validateRetryOptions(retryOptions);
      const availableAt = retryOptions?.availableAt ?? clock.now();
      return settleMany(leases, (ids, leaseIds) =>
        retryManySql([queueName, ids, leaseIds, availableAt]),
      );
    },
    async releaseOwner(owner) {
      validateLeaseOwner(owner);
      await begin();
      const config = releaseOwnerSql([queueName, clock.now(), leaseOwnerPrefix(owner)]);
      const result = await runQuery(pool, what, config, false);
      return result.rowCount ?? 0;
    },
    async retry(ref, retryOptions?: RetryOptions) {
      validateLeaseRef(ref);
      validateRetryOptions(retryOptions);
      await begin();
      const availableAt = retryOptions?.availableAt ?? clock.now();
      await changeLease(ref, retrySql([queueName, ref.id, ref.leaseId, availableAt]));
    },
    async extend(ref, leaseMs) {
      validateLeaseRef(ref);
      validateLeaseMs(leaseMs);
      await begin();
      const expiresAt = clock.now() + leaseMs;
      await changeLease(ref, extendSql([queueName, ref.id, ref.leaseId, expiresAt]));
      return expiresAt;
    },
    async remove(id) {
      validateId(id, "id");
      await begin();
      const result = await runQuery(pool, what, removeSql([queueName, id]), false);
      return result.rowCount === 1;
    },
    async get(id) {
      validateId(id, "id");
      await begin();
      const result = await runQuery<ItemRow>(pool, what, getSql([queueName, id]), true);
      const row = result.rows[0];
      return row && toItem(row);
    },
    async nextAvailableAt(partitionKey) {
      if (partitionKey !== undefined) validateId(partitionKey, "partitionKey");
      await begin();
      const config =
        partitionKey === undefined
          ? nextAnySql([queueName])
          : nextPartitionSql([queueName, partitionKey]);
      const result = await runQuery<{ at: string | null }>(pool, what, config, true);
      const at = result.rows[0]?.at;
      return at === null || at === undefined ? undefined : Number(at);
    },
    async counts() {
      await begin();
      const result = await runQuery<{ waiting: string; leased: string }>(
        pool,
        what,
        countsSql([queueName]),
        true,
      );
      const row = result.rows[0];
      return { waiting: Number(row?.waiting ?? 0), leased: Number(row?.leased ?? 0) };
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.release();
    },
  };
}
