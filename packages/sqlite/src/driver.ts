import { createRequire } from "node:module";

/**
 * The SQLite driver seam: the few calls Troupe's adapters make on a connection, so the same
 * adapters run on better-sqlite3 (Node 20 and 22) or on Node's built-in `node:sqlite` (Node ≥ 24,
 * where better-sqlite3 ≤ 12 can abort the process when a statement is garbage-collected).
 * better-sqlite3's own `Database` has this shape, so that driver returns it unwrapped.
 */
export type SqliteDriverName = "better-sqlite3" | "node:sqlite";

/** What `run` reports: rows changed and the rowid of the last insert. */
export interface SqliteRunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A prepared statement. BLOB columns read back as `Buffer` on both drivers. */
export interface SqliteStatement<Params extends unknown[] = unknown[], Row = unknown> {
  run(...params: Params): SqliteRunResult;
  get(...params: Params): Row | undefined;
  all(...params: Params): Row[];
  iterate(...params: Params): IterableIterator<Row>;
  /** Rows read back as their first column's value instead of an object. */
  pluck(toggle?: boolean): this;
}

/** A function run in one transaction (a savepoint when nested), as better-sqlite3 makes them. */
export interface SqliteTransaction<F extends (...args: never[]) => unknown> {
  (...args: Parameters<F>): ReturnType<F>;
  deferred(...args: Parameters<F>): ReturnType<F>;
  immediate(...args: Parameters<F>): ReturnType<F>;
  exclusive(...args: Parameters<F>): ReturnType<F>;
}

/** A SQLite connection, as returned by `openSqliteDatabase`. */
export interface SqliteDatabase {
  /** The file as given when opening (`":memory:"` for a private in-memory database). */
  readonly name: string;
  readonly memory: boolean;
  readonly open: boolean;
  prepare<Params extends unknown[] = unknown[], Row = unknown>(
    source: string,
  ): SqliteStatement<Params, Row>;
  transaction<F extends (...args: never[]) => unknown>(fn: F): SqliteTransaction<F>;
  exec(source: string): unknown;
  /** Runs `PRAGMA source`: all rows, or with `simple` the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  close(): unknown;
}

/** Node's major version, from `process.versions.node`. */
export function nodeMajor(version: string = process.versions.node): number {
  return Number.parseInt(version.split(".")[0] ?? "0", 10);
}

/**
 * The driver used when none is asked for: `node:sqlite` from Node 24 on (built in, no flag, and
 * better-sqlite3 12 crashes there), better-sqlite3 before (no `node:sqlite` without a flag on 20;
 * on 22 it prints an ExperimentalWarning and better-sqlite3 is faster).
 */
export function defaultDriver(version: string = process.versions.node): SqliteDriverName {
  return nodeMajor(version) >= 24 ? "node:sqlite" : "better-sqlite3";
}

/** `require` for the drivers, loaded on first use so the unused one is never loaded. */
export const requireDriver: NodeJS.Require = createRequire(import.meta.url);

// SQLite's primary result codes by number (https://sqlite.org/rescode.html).
const PRIMARY_CODES = [
  "SQLITE_OK",
  "SQLITE_ERROR",
  "SQLITE_INTERNAL",
  "SQLITE_PERM",
  "SQLITE_ABORT",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_NOMEM",
  "SQLITE_READONLY",
  "SQLITE_INTERRUPT",
  "SQLITE_IOERR",
  "SQLITE_CORRUPT",
  "SQLITE_NOTFOUND",
  "SQLITE_FULL",
  "SQLITE_CANTOPEN",
  "SQLITE_PROTOCOL",
  "SQLITE_EMPTY",
  "SQLITE_SCHEMA",
  "SQLITE_TOOBIG",
  "SQLITE_CONSTRAINT",
  "SQLITE_MISMATCH",
  "SQLITE_MISUSE",
  "SQLITE_NOLFS",
  "SQLITE_AUTH",
  "SQLITE_FORMAT",
  "SQLITE_RANGE",
  "SQLITE_NOTADB",
];

/**
 * The SQLite result code of an engine error, as a name (`"SQLITE_BUSY"`): better-sqlite3 sets it
 * as `code`; node:sqlite sets `code: "ERR_SQLITE_ERROR"` and the number as `errcode` (an extended
 * code keeps its primary name here). Undefined for other errors.
 */
export function sqliteErrorCode(error: unknown): string | undefined {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
  if (code === "ERR_SQLITE_ERROR" && typeof errcode === "number") {
    return PRIMARY_CODES[errcode & 0xff] ?? `SQLITE_${errcode}`;
  }
  return undefined;
}

/** Whether `error` says the connection was closed (either driver's wording). */
export function isClosedConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof TypeError && /database connection is not open/.test(error.message)) {
    return true;
  }
  // node:sqlite: "database is not open", and "statement has been finalized" for a statement of a
  // closed connection (it finalizes statements only when closing).
  return (
    (error as { code?: unknown }).code === "ERR_INVALID_STATE" &&
    /not open|finalized/.test(error.message)
  );
}
