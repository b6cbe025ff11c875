import {
  type CommitResult,
  closedError,
  type Expectation,
  invalidArgument,
  type KeyRange,
  type ListOptions,
  resolveListRange,
  resolveListRanges,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  validateCommit,
  validateKey,
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

/** Options of {@link createSqliteStore}: a file `path` (plus connection settings) or a shared `database`. */
export type SqliteStoreOptions = SqliteConnectionOptions;

const optionsSchema = z.strictObject(connectionShape);

interface Row {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly version: number;
}

// The lowest bound of any Store key: keys are never empty, and X'' holds the version counter.
const LOWEST_KEY = Buffer.from([0]);

// better-sqlite3 hands back a fresh Buffer per column; expose it as a plain Uint8Array (what the
// port promises) without copying.
function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function toEntry(key: string, row: { value: Buffer; version: number }): StoreEntry {
  return { key, value: toBytes(row.value), version: row.version };
}

/**
 * A {@link Store} on a SQLite file. Keys are stored as UTF-8 BLOBs, so SQLite's byte order is
 * the port's key order. Each commit is one `BEGIN IMMEDIATE` transaction that takes the next
 * version from a counter row in the same table, then applies each op with its guard (rolling all
 * back at the first guard that fails): commits from several
 * connections and processes on one file serialise on SQLite's write lock and share one version
 * sequence. Reads that return several entries run in one read transaction (one snapshot).
 *
 * A commit resolves once it is in the WAL: with `synchronous: "normal"` (default) it survives a
 * process crash, with `"full"` also a power loss.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const settings = parseOptions(optionsSchema, options, "options");
  const { database, owned } = connect(settings, "options");
  let closed = false;

  const selectEntry = database.prepare<[Buffer], { value: Buffer; version: number }>(
    "SELECT value, version FROM troupe_store WHERE key = ?",
  );
  const selectVersion = database
    .prepare<[Buffer], number>("SELECT version FROM troupe_store WHERE key = ?")
    .pluck();
  const nextVersion = database
    .prepare<[], number>(
      "UPDATE troupe_store SET version = version + 1 WHERE key = X'' RETURNING version",
    )
    .pluck();
  const upsert = database.prepare<[Buffer, Uint8Array, number]>(
    "INSERT INTO troupe_store (key, value, version) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version",
  );
  const insertIfAbsent = database.prepare<[Buffer, Uint8Array, number]>(
    "INSERT INTO troupe_store (key, value, version) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
  );
  const updateIfVersion = database.prepare<[Uint8Array, number, Buffer, number]>(
    "UPDATE troupe_store SET value = ?, version = ? WHERE key = ? AND version = ?",
  );
  const deleteKey = database.prepare<[Buffer]>("DELETE FROM troupe_store WHERE key = ?");
  const deleteIfVersion = database.prepare<[Buffer, number]>(
    "DELETE FROM troupe_store WHERE key = ? AND version = ?",
  );
  // One query per (upper bound?, direction); an absent lower bound is LOWEST_KEY.
  const listQueries = {
    ascending: limitedQuery<[Buffer], Row>(
      database,
      "SELECT key, value, version FROM troupe_store WHERE key >= ? ORDER BY key",
    ),
    descending: limitedQuery<[Buffer], Row>(
      database,
      "SELECT key, value, version FROM troupe_store WHERE key >= ? ORDER BY key DESC",
    ),
    boundedAscending: limitedQuery<[Buffer, Buffer], Row>(
      database,
      "SELECT key, value, version FROM troupe_store WHERE key >= ? AND key < ? ORDER BY key",
    ),
    boundedDescending: limitedQuery<[Buffer, Buffer], Row>(
      database,
      "SELECT key, value, version FROM troupe_store WHERE key >= ? AND key < ? ORDER BY key DESC",
    ),
  };

  const listRange = (range: KeyRange): StoreEntry[] => {
    if (range.empty) return [];
    const from = range.from === undefined ? LOWEST_KEY : Buffer.from(range.from, "utf8");
    // SQLite reads LIMIT -1 as "no limit".
    const limit = range.limit ?? -1;
    let rows: Row[];
    if (range.to === undefined) {
      const query = range.reverse ? listQueries.descending : listQueries.ascending;
      rows = query(limit, from);
    } else {
      const query = range.reverse ? listQueries.boundedDescending : listQueries.boundedAscending;
      rows = query(limit, from, Buffer.from(range.to, "utf8"));
    }
    return rows.map((row) => ({
      key: row.key.toString("utf8"),
      value: toBytes(row.value),
      version: row.version,
    }));
  };
  // Several ranges in one read transaction: one snapshot, as one range has.
  const listSome = database.transaction((ranges: readonly KeyRange[]) => ranges.map(listRange));

  const readMany = database.transaction((keys: readonly string[]) =>
    keys.map((key) => {
      const row = selectEntry.get(Buffer.from(key, "utf8"));
      return row && toEntry(key, row);
    }),
  );

  // A guarded write is one statement that only matches the expected state, so the guard costs no
  // separate read; `changes === 0` means the guard failed, and only then is the actual version read
  // (for the error). Writing as we go is safe: keys are unique within a commit, so a write never
  // changes another op's guard, and a failed guard throws, which rolls the whole transaction back.
  const applyOp = (op: StoreOp, key: Buffer, version: number): void => {
    let held: boolean;
    if (op.type === "set") {
      if (op.expect === undefined) {
        upsert.run(key, op.value, version);
        return;
      }
      held =
        op.expect === "absent"
          ? insertIfAbsent.run(key, op.value, version).changes === 1
          : updateIfVersion.run(op.value, version, key, op.expect).changes === 1;
    } else if (op.type === "delete" && op.expect !== "absent") {
      if (op.expect === undefined) {
        deleteKey.run(key);
        return;
      }
      held = deleteIfVersion.run(key, op.expect).changes === 1;
    } else {
      // A check, or deleting a key expected absent (nothing to delete): a read suffices.
      held = (selectVersion.get(key) ?? "absent") === op.expect;
    }
    if (!held) {
      const expected = op.expect as Expectation;
      throw new StoreConflictError(op.key, expected, selectVersion.get(key) ?? "absent");
    }
  };

  // Runs inside BEGIN IMMEDIATE: the guards see the latest committed state and nobody else can
  // write until this commits, so check-and-write is atomic across connections and processes.
  // A commit of checks only takes no version (and runs in a read transaction).
  const applyCommit = database.transaction(
    (ops: readonly StoreOp[], keys: readonly Buffer[], writes: boolean): number => {
      const version = writes ? (nextVersion.get() as number) : 0;
      for (let index = 0; index < ops.length; index++) {
        applyOp(ops[index] as StoreOp, keys[index] as Buffer, version);
      }
      return version;
    },
  );

  const ensureOpen = () => {
    if (closed) throw closedError("sqlite store");
  };
  const run = <T>(doing: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw mapSqliteError(error, doing);
    }
  };

  return {
    name: "sqlite",
    async get(key) {
      ensureOpen();
      validateKey(key);
      const row = run("reading a key", () => selectEntry.get(Buffer.from(key, "utf8")));
      return row && toEntry(key, row);
    },
    async getMany(keys) {
      ensureOpen();
      if (!Array.isArray(keys)) throw invalidArgument("keys", "expected an array of keys");
      keys.forEach((key, index) => {
        validateKey(key, `keys[${index}]`);
      });
      return run("reading keys", () => readMany.deferred(keys));
    },
    async list(listOptions: ListOptions = {}) {
      ensureOpen();
      const range = resolveListRange(listOptions);
      return run("listing keys", () => listRange(range));
    },
    async listMany(rangeOptions) {
      ensureOpen();
      const ranges = resolveListRanges(rangeOptions);
      return run("listing keys", () => listSome.deferred(ranges));
    },
    async commit(ops: readonly StoreOp[]): Promise<CommitResult> {
      ensureOpen();
      validateCommit(ops);
      const keys = ops.map((op) => Buffer.from(op.key, "utf8"));
      const writes = ops.some((op) => op.type !== "check");
      const version = run("committing", () =>
        // A commit of checks only writes nothing, so a read transaction (one snapshot) suffices.
        writes ? applyCommit.immediate(ops, keys, true) : applyCommit.deferred(ops, keys, false),
      );
      return { version };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned && database.open) database.close();
    },
  };
}
