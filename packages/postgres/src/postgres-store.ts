import {
  type CommitResult,
  closedError,
  compareKeys,
  invalidArgument,
  type KeyRange,
  type ListOptions,
  type Logger,
  noopLogger,
  resolveListRange,
  resolveListRanges,
  type Store,
  type StoreEntry,
  type StoreOp,
  validateCommit,
  validateKey,
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
  recordStoreHome,
  retryableCommitError,
  storeCommitArgs,
  storeCommitOutcome,
} from "./store-commit.js";

/** Options of {@link createPostgresStore}. Give exactly one of `connectionString` and `pool`. */
export interface PostgresStoreOptions {
  /** A PostgreSQL URL (`postgres://user@host:5432/db`); the store opens and owns a pool. */
  readonly connectionString?: string;
  /** A pool you manage; the store uses it and leaves it open on `close`. */
  readonly pool?: pg.Pool;
  /**
   * The schema holding the store's tables, created and migrated on first use. Deployments that
   * share a database use different schemas. Default "troupe".
   */
  readonly schema?: string;
  /** Where warnings (such as a dropped idle connection) go. Default: discarded. */
  readonly logger?: Logger;
}

const optionsSchema = z.strictObject(connectionOptions);

interface EntryRow {
  key: Buffer;
  value: Buffer;
  version: string;
}

const toEntry = (row: EntryRow): StoreEntry => ({
  key: row.key.toString("utf8"),
  // A plain copy: pg may decode small values into a shared buffer pool.
  value: new Uint8Array(row.value),
  version: Number(row.version),
});

/**
 * A {@link Store} on PostgreSQL. Keys are `bytea` holding UTF-8, so the primary-key order is the
 * UTF-8 byte order `compareKeys` defines. A commit is one call of a PL/pgSQL function (one round
 * trip, one transaction): it locks every key it touches, checks every guard, and only then takes
 * one version from a sequence and writes all keys with it. Commits are durable when PostgreSQL
 * says so (`synchronous_commit`).
 */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  const parsed = parseOptions("createPostgresStore", optionsSchema, options);
  const schema = parsed.schema ?? "troupe";
  const logger = parsed.logger ?? noopLogger;
  const handle = openPool("createPostgresStore", parsed, logger);
  const { pool } = handle;
  const ready = migrateOnce(pool, schema);
  const s = quoteIdent(schema);
  const table = `${s}.store_entries`;
  const what = `postgres store (schema "${schema}")`;
  let closed = false;

  const getOne = prepared(`SELECT key, value, version FROM ${table} WHERE key = $1`);
  const getSome = prepared(`SELECT key, value, version FROM ${table} WHERE key = ANY($1::bytea[])`);
  const commitOps = prepared(
    `SELECT ${s}.store_commit($1::bytea[], $2::text[], $3::bytea[], $4::bigint[]) AS r`,
  );

  // Ascending ranges in one statement: an index scan per range (a nested loop over the bounds).
  // Not a UNION ALL of one SELECT per range: with a few thousand rows PostgreSQL plans that as a
  // parallel append, and starting its workers costs ~10 ms per call.
  const listAscending = prepared(
    `SELECT b.r, e.key, e.value, e.version
       FROM unnest($1::bytea[], $2::bytea[], $3::integer[]) WITH ORDINALITY AS b(lo, hi, lim, r)
       CROSS JOIN LATERAL (
         SELECT key, value, version FROM ${table}
          WHERE key >= b.lo AND key < b.hi ORDER BY key LIMIT b.lim
       ) AS e`,
  );
  // Bounds of an open range: no key is below the empty string or at or above a 0xFF byte (UTF-8).
  const LOWEST = Buffer.alloc(0);
  const ABOVE_ALL = Buffer.from([0xff]);

  const begin = async () => {
    if (closed) throw closedError(what);
    await ready();
  };

  const store: Store = {
    name: "postgres",
    async get(key) {
      validateKey(key);
      await begin();
      const result = await runQuery<EntryRow>(pool, what, getOne([Buffer.from(key, "utf8")]), true);
      const row = result.rows[0];
      return row && toEntry(row);
    },
    async getMany(keys) {
      if (!Array.isArray(keys)) throw invalidArgument("keys", "expected an array");
      keys.forEach((key, index) => {
        validateKey(key, `keys[${index}]`);
      });
      await begin();
      if (keys.length === 0) return [];
      const buffers = keys.map((key) => Buffer.from(key, "utf8"));
      const result = await runQuery<EntryRow>(pool, what, getSome([buffers]), true);
      const byKey = new Map<string, StoreEntry>();
      for (const row of result.rows) {
        const entry = toEntry(row);
        byKey.set(entry.key, entry);
      }
      // Each caller gets its own copy, even when a key is asked for twice.
      return keys.map((key) => {
        const entry = byKey.get(key);
        return entry && { ...entry, value: entry.value.slice() };
      });
    },
    async list(listOptions: ListOptions = {}) {
      const range = resolveListRange(listOptions);
      await begin();
      if (range.empty) return [];
      const conditions: string[] = [];
      const values: unknown[] = [];
      if (range.from !== undefined) {
        values.push(Buffer.from(range.from, "utf8"));
        conditions.push(`key >= $${values.length}`);
      }
      if (range.to !== undefined) {
        values.push(Buffer.from(range.to, "utf8"));
        conditions.push(`key < $${values.length}`);
      }
      let text = `SELECT key, value, version FROM ${table}`;
      if (conditions.length > 0) text += ` WHERE ${conditions.join(" AND ")}`;
      text += ` ORDER BY key ${range.reverse ? "DESC" : "ASC"}`;
      if (range.limit !== undefined) {
        values.push(range.limit);
        text += ` LIMIT $${values.length}`;
      }
      const result = await runQuery<EntryRow>(pool, what, prepared(text)(values), true);
      return result.rows.map(toEntry);
    },
    // The ascending ranges in ONE statement; a reverse range (rare) as its own `list` beside it.
    async listMany(rangeOptions) {
      const ranges = resolveListRanges(rangeOptions);
      await begin();
      const out = ranges.map((): StoreEntry[] => []);
      const ascending = ranges.flatMap((range, index) =>
        range.empty || range.reverse ? [] : [index],
      );
      const reads = ranges.map(async (range, index) => {
        if (range.empty || !range.reverse) return;
        out[index] = await store.list(rangeOptions[index]);
      });
      if (ascending.length > 0) {
        const bounds = ascending.map((index) => ranges[index] as KeyRange);
        const values = [
          bounds.map((range) => (range.from === undefined ? LOWEST : Buffer.from(range.from))),
          bounds.map((range) => (range.to === undefined ? ABOVE_ALL : Buffer.from(range.to))),
          bounds.map((range) => range.limit ?? null),
        ];
        reads.push(
          runQuery<EntryRow & { r: string }>(pool, what, listAscending(values), true).then(
            (result) => {
              for (const row of result.rows) {
                const index = ascending[Number(row.r) - 1];
                if (index !== undefined) out[index]?.push(toEntry(row));
              }
            },
          ),
        );
      }
      await Promise.all(reads);
      // Rows of one range come in key order from its scan; sorted again, since SQL promises no
      // order across the joined rows.
      for (const index of ascending) {
        const entries = out[index];
        if (entries && entries.length > 1) entries.sort((a, b) => compareKeys(a.key, b.key));
      }
      return out;
    },
    async commit(ops: readonly StoreOp[]): Promise<CommitResult> {
      validateCommit(ops);
      await begin();
      if (ops.length === 0) return { version: 0 };
      const config = commitOps(storeCommitArgs(ops));
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await runQuery<{ r: string[] }>(pool, what, config, false);
          return storeCommitOutcome(what, ops, result.rows[0]?.r);
        } catch (error) {
          if (attempt < 5 && retryableCommitError(error)) continue;
          throw error;
        }
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.release();
    },
  };
  recordStoreHome(store, { connection: parsed.pool ?? parsed.connectionString ?? "", schema });
  return store;
}
