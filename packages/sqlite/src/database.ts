import { resolve } from "node:path";
import { invalidArgument, parseWith, TroupeError } from "@troupe/core";
import { z } from "zod";
import { isBetterSqlite3Database, openBetterSqlite3 } from "./better-sqlite3-driver.js";
import {
  defaultDriver,
  isClosedConnectionError,
  nodeMajor,
  type SqliteDatabase,
  type SqliteDriverName,
  sqliteErrorCode,
} from "./driver.js";
import { NodeSqliteDatabase, nodeSqliteAvailable } from "./node-sqlite-driver.js";
import { migrateSchema } from "./schema.js";

export type { SqliteDatabase, SqliteDriverName } from "./driver.js";

/**
 * How hard SQLite works to make a commit survive. In WAL mode:
 * - `"normal"` (default): a commit survives a crash of the process, but a power loss or OS crash
 *   can lose the last transactions (never corrupting the file). No fsync per commit.
 * - `"full"`: every commit is fsynced to the WAL before it is acknowledged, so it also survives
 *   a power loss. Costs one fsync per commit.
 */
export type SqliteSynchronous = "normal" | "full";

/** Options of {@link openSqliteDatabase}. */
export interface SqliteDatabaseOptions {
  /** Durability per commit; see {@link SqliteSynchronous}. Default `"normal"`. */
  readonly synchronous?: SqliteSynchronous;
  /**
   * How long a write waits for another connection or process holding the write lock before it
   * fails with code `UNAVAILABLE`, in ms. Default 5000.
   */
  readonly busyTimeoutMs?: number;
  /** Page cache size per connection, in KiB. Default 16384 (16 MiB). */
  readonly cacheSizeKib?: number;
  /** Bytes of the file read through memory mapping (0 turns it off). Default 268435456 (256 MiB). */
  readonly mmapSizeBytes?: number;
  /**
   * Hold the file's lock for the connection's lifetime (`locking_mode = EXCLUSIVE`): no other
   * connection or process can use the file until this one closes (they fail with `UNAVAILABLE`
   * after `busyTimeoutMs`), which saves the shared-memory locking of every transaction (about a
   * quarter of the CPU time of a small commit here). For one process with one connection,
   * shared by its adapters through `database`. Default false.
   */
  readonly exclusive?: boolean;
  /**
   * Page size of a NEW file, in bytes (a power of two from 512 to 65536). An existing file keeps
   * the page size it was created with. Default 1024: every commit writes each page it dirties to
   * the WAL and each checkpoint fsyncs those frames, so small pages cut the bytes written per
   * small commit (guarded commit ~43,000 → ~54,000/s, queue cycle ~6,000 → ~10,000/s wall-clock
   * here). Larger values spill onto overflow pages sooner (a Store entry above ~200 bytes), yet
   * 1 KiB pages still measured faster than 4 KiB ones with 1,000- and 4,000-byte values.
   */
  readonly pageSizeBytes?: number;
  /**
   * The SQLite driver. Default: `"node:sqlite"` (built into Node) on Node ≥ 24, where
   * better-sqlite3 12 can abort the process when a statement is garbage-collected;
   * `"better-sqlite3"` on Node 20 and 22 (no `node:sqlite` without a flag on 20; faster on 22).
   */
  readonly driver?: SqliteDriverName;
}

const synchronousSchema = z.enum(["normal", "full"]);

/** The zod schema of {@link SqliteDatabaseOptions}; adapters reuse it for their own options. */
export const databaseOptionsShape = {
  synchronous: synchronousSchema.optional(),
  busyTimeoutMs: z.number().int().min(0).max(2_147_483_647).optional(),
  cacheSizeKib: z.number().int().min(0).optional(),
  mmapSizeBytes: z.number().int().min(0).optional(),
  exclusive: z.boolean().optional(),
  pageSizeBytes: z
    .number()
    .int()
    .refine((size) => size >= 512 && size <= 65_536 && (size & (size - 1)) === 0, {
      message: "expected a power of two from 512 to 65536",
    })
    .optional(),
  driver: z.enum(["better-sqlite3", "node:sqlite"]).optional(),
};

const databaseOptionsSchema = z.strictObject(databaseOptionsShape);

/** Throws INVALID_ARGUMENT naming the first bad option (prefixed with `scope`). */
export function parseOptions<T>(schema: z.ZodType<T>, options: unknown, scope: string): T {
  return parseWith(schema, options ?? {}, scope);
}

/** A bare connection through `driver`: no pragmas, no schema (tests use it as a second client). */
export function openConnection(path: string, driver: SqliteDriverName): SqliteDatabase {
  return driver === "node:sqlite" ? new NodeSqliteDatabase(path) : openBetterSqlite3(path);
}

/** The drivers this Node can run: node:sqlite where it loads, better-sqlite3 below Node 24. */
export function availableDrivers(): SqliteDriverName[] {
  const drivers: SqliteDriverName[] = [];
  if (nodeMajor() < 24) drivers.push("better-sqlite3");
  if (nodeSqliteAvailable()) drivers.push("node:sqlite");
  return drivers;
}

/**
 * Opens (creating when missing) a SQLite file for Troupe: WAL mode, the chosen durability, a busy
 * timeout so concurrent connections and processes wait for each other instead of failing, and the
 * Troupe schema (created or migrated on first use).
 *
 * One connection can serve a Store, a Queue and a PubSub at once: pass it as `database` to each
 * factory. Adapters never close a connection they were given; close it yourself after closing
 * them. Use `":memory:"` for a private in-memory database (nothing is shared or kept).
 */
export function openSqliteDatabase(
  path: string,
  options: SqliteDatabaseOptions = {},
): SqliteDatabase {
  if (typeof path !== "string" || path.length === 0) {
    throw invalidArgument("path", 'expected a non-empty file path (or ":memory:")');
  }
  const settings = parseOptions(databaseOptionsSchema, options, "options");
  const driver = settings.driver ?? defaultDriver();
  let database: SqliteDatabase;
  try {
    database = openConnection(path, driver);
  } catch (error) {
    throw new TroupeError("UNAVAILABLE", `cannot open SQLite database ${JSON.stringify(path)}`, {
      cause: error,
      details: { path, driver },
    });
  }
  try {
    // busy_timeout first: switching to WAL and migrating need the write lock, which another
    // process may hold right now.
    database.pragma(`busy_timeout = ${settings.busyTimeoutMs ?? 5000}`);
    // Before anything touches the file: the first access then takes the lock for good, and in
    // WAL mode the WAL index lives in heap memory instead of shared memory.
    if (settings.exclusive) database.pragma("locking_mode = EXCLUSIVE");
    // Before journal_mode: switching to WAL writes the file header, which fixes the page size.
    // SQLite ignores this on an existing file.
    database.pragma(`page_size = ${settings.pageSizeBytes ?? 1024}`);
    database.pragma("journal_mode = WAL");
    database.pragma(`synchronous = ${(settings.synchronous ?? "normal").toUpperCase()}`);
    database.pragma("temp_store = MEMORY");
    database.pragma(`cache_size = -${settings.cacheSizeKib ?? 16384}`);
    database.pragma(`mmap_size = ${settings.mmapSizeBytes ?? 268_435_456}`);
    migrateSchema(database);
  } catch (error) {
    database.close();
    throw mapSqliteError(error, `opening ${JSON.stringify(path)}`);
  }
  return database;
}

/**
 * A key that identifies the database file a connection has open, so adapters in one process
 * can find each other (in-process PubSub delivery). Private in-memory databases key by object.
 */
export function databaseIdentity(database: SqliteDatabase): string | SqliteDatabase {
  if (database.memory || database.name === "" || database.name === ":memory:") return database;
  return resolve(database.name);
}

/** Checks that `database` is an open connection and migrates its schema. */
export function adoptDatabase(database: SqliteDatabase, field: string): void {
  if (!database.open) throw invalidArgument(field, "the database connection is closed");
  try {
    migrateSchema(database);
  } catch (error) {
    throw mapSqliteError(error, "migrating the schema");
  }
}

/** A zod schema accepting a connection of either driver. */
export const databaseSchema: z.ZodType<SqliteDatabase> = z.custom<SqliteDatabase>(
  (value) => value instanceof NodeSqliteDatabase || isBetterSqlite3Database(value),
  "expected a SQLite connection from openSqliteDatabase (or a better-sqlite3 Database)",
);

/**
 * Turns engine errors into TroupeErrors a caller can act on: a lock that stayed taken past the
 * busy timeout becomes `UNAVAILABLE`, a closed connection `CLOSED`. TroupeErrors pass through.
 */
export function mapSqliteError(error: unknown, doing: string): unknown {
  if (TroupeError.isInstance(error)) return error;
  const code = sqliteErrorCode(error);
  if (typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED")) {
    return new TroupeError(
      "UNAVAILABLE",
      `SQLite database is locked by another connection or process (${code}) while ${doing}; it stayed locked longer than busyTimeoutMs`,
      { cause: error, details: { sqliteCode: code } },
    );
  }
  if (isClosedConnectionError(error)) {
    return new TroupeError("CLOSED", `the SQLite connection was closed while ${doing}`, {
      cause: error,
    });
  }
  if (typeof code === "string" && code.startsWith("SQLITE_")) {
    return new TroupeError(
      "INTERNAL",
      `SQLite failed (${code}) while ${doing}: ${String((error as Error).message)}`,
      {
        cause: error,
        details: { sqliteCode: code },
      },
    );
  }
  return error;
}

/** Where an adapter gets its connection: its own file, or a shared connection. */
export type SqliteConnectionOptions =
  | ({
      /** The SQLite file (created when missing); the adapter opens and closes its own connection. */
      readonly path: string;
      readonly database?: undefined;
    } & SqliteDatabaseOptions)
  | {
      /** A connection from {@link openSqliteDatabase}, shared with other adapters; never closed by the adapter. */
      readonly database: SqliteDatabase;
      readonly path?: undefined;
    };

/** The zod shape of {@link SqliteConnectionOptions}, merged into each factory's schema. */
export const connectionShape: {
  path: z.ZodOptional<z.ZodString>;
  database: z.ZodOptional<z.ZodType<SqliteDatabase>>;
} & typeof databaseOptionsShape = {
  path: z.string().min(1, "expected a non-empty file path").optional(),
  database: databaseSchema.optional(),
  ...databaseOptionsShape,
};

/** An adapter's connection and whether the adapter owns (and so closes) it. */
export interface AdapterConnection {
  readonly database: SqliteDatabase;
  readonly owned: boolean;
}

/** Opens or adopts the connection described by validated options. */
export function connect(
  options: {
    path?: string | undefined;
    database?: SqliteDatabase | undefined;
    synchronous?: SqliteSynchronous | undefined;
    busyTimeoutMs?: number | undefined;
    cacheSizeKib?: number | undefined;
    mmapSizeBytes?: number | undefined;
    exclusive?: boolean | undefined;
    pageSizeBytes?: number | undefined;
    driver?: SqliteDriverName | undefined;
  },
  scope: string,
): AdapterConnection {
  const { path, database } = options;
  const rest = {
    synchronous: options.synchronous,
    busyTimeoutMs: options.busyTimeoutMs,
    cacheSizeKib: options.cacheSizeKib,
    mmapSizeBytes: options.mmapSizeBytes,
    exclusive: options.exclusive,
    pageSizeBytes: options.pageSizeBytes,
    driver: options.driver,
  };
  if ((path === undefined) === (database === undefined)) {
    throw invalidArgument(`${scope}.path`, "give exactly one of `path` or `database`");
  }
  if (database !== undefined) {
    const setting = Object.entries(rest).find(([, value]) => value !== undefined);
    if (setting) {
      throw invalidArgument(
        `${scope}.${setting[0]}`,
        "set connection settings on openSqliteDatabase when passing a shared `database`",
      );
    }
    adoptDatabase(database, `${scope}.database`);
    return { database, owned: false };
  }
  const databaseOptions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (value !== undefined) databaseOptions[name] = value;
  }
  return {
    database: openSqliteDatabase(path as string, databaseOptions as SqliteDatabaseOptions),
    owned: true,
  };
}
