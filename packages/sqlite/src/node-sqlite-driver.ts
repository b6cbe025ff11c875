import type {
  SqliteDatabase,
  SqliteRunResult,
  SqliteStatement,
  SqliteTransaction,
} from "./driver.js";
import { requireDriver } from "./driver.js";

// The parts of `node:sqlite` used here, typed locally: @types/node for Node 20 has no such module.
interface NodeStatementSync {
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Record<string, unknown>[];
  iterate(...params: unknown[]): IterableIterator<Record<string, unknown>>;
}
interface NodeDatabaseSync {
  readonly isOpen?: boolean;
  readonly isTransaction?: boolean;
  prepare(source: string): NodeStatementSync;
  exec(source: string): void;
  close(): void;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string) => NodeDatabaseSync;
}

let loaded: NodeSqliteModule | undefined;

type EmitWarning = (warning: string | Error, ...rest: unknown[]) => void;

/** `emitWarning` without SQLite's ExperimentalWarning; every other warning passes through. */
export function withoutSqliteExperimentalWarning(emitWarning: EmitWarning): EmitWarning {
  return (warning, ...rest) => {
    const text = typeof warning === "string" ? warning : warning.message;
    const option = rest[0];
    const type =
      typeof warning !== "string"
        ? warning.name
        : typeof option === "string"
          ? option
          : (option as { type?: unknown } | undefined)?.type;
    if (type === "ExperimentalWarning" && /sqlite/i.test(text)) return;
    emitWarning(warning, ...rest);
  };
}

/**
 * Loads `node:sqlite`. Some Node releases (22; early 24s) print an ExperimentalWarning on load:
 * that one warning is dropped (Troupe chose the driver, the user did not).
 */
function loadNodeSqlite(): NodeSqliteModule {
  if (loaded) return loaded;
  const emitWarning = process.emitWarning;
  process.emitWarning = withoutSqliteExperimentalWarning((...args) =>
    (emitWarning as EmitWarning).apply(process, args),
  ) as typeof process.emitWarning;
  try {
    loaded = requireDriver("node:sqlite") as NodeSqliteModule;
  } finally {
    process.emitWarning = emitWarning;
  }
  return loaded;
}

/** Whether this Node has `node:sqlite` without a flag. */
export function nodeSqliteAvailable(): boolean {
  try {
    loadNodeSqlite();
    return true;
  } catch {
    return false;
  }
}

/** better-sqlite3 reads BLOBs as Buffer, node:sqlite as Uint8Array: callers get Buffer from both. */
function toBuffers<Row>(row: Record<string, unknown> | undefined): Row {
  if (row === undefined) return row as Row;
  for (const column in row) {
    const value = row[column];
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
      row[column] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return row as Row;
}

function firstColumn<Row>(row: Record<string, unknown> | undefined): Row {
  if (row === undefined) return row as Row;
  for (const column in row) {
    const value = row[column];
    return (
      value instanceof Uint8Array && !Buffer.isBuffer(value)
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        : value
    ) as Row;
  }
  return undefined as Row;
}

class NodeStatement<Params extends unknown[], Row> implements SqliteStatement<Params, Row> {
  #plucked = false;
  constructor(readonly statement: NodeStatementSync) {}

  run(...params: Params): SqliteRunResult {
    return this.statement.run(...params);
  }
  get(...params: Params): Row | undefined {
    const row = this.statement.get(...params);
    return this.#plucked ? firstColumn<Row>(row) : toBuffers<Row>(row);
  }
  all(...params: Params): Row[] {
    const rows = this.statement.all(...params);
    return rows.map((row) => (this.#plucked ? firstColumn<Row>(row) : toBuffers<Row>(row)));
  }
  *iterate(...params: Params): IterableIterator<Row> {
    for (const row of this.statement.iterate(...params)) {
      yield this.#plucked ? firstColumn<Row>(row) : toBuffers<Row>(row);
    }
  }
  pluck(toggle = true): this {
    this.#plucked = toggle;
    return this;
  }
}

type TransactionMode = "deferred" | "immediate" | "exclusive";

/** A `node:sqlite` connection behind the same calls as a better-sqlite3 one. */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly name: string;
  readonly memory: boolean;
  readonly connection: NodeDatabaseSync;
  #open = true;
  #depth = 0;
  #control = new Map<string, NodeStatementSync>();

  constructor(path: string) {
    const { DatabaseSync } = loadNodeSqlite();
    this.connection = new DatabaseSync(path);
    this.name = path;
    this.memory = path === ":memory:" || path === "";
  }

  get open(): boolean {
    return this.#open && this.connection.isOpen !== false;
  }

  prepare<Params extends unknown[] = unknown[], Row = unknown>(
    source: string,
  ): SqliteStatement<Params, Row> {
    return new NodeStatement<Params, Row>(this.connection.prepare(source));
  }

  exec(source: string): this {
    this.connection.exec(source);
    return this;
  }

  pragma(source: string, options: { simple?: boolean } = {}): unknown {
    const statement = this.prepare(`PRAGMA ${source}`);
    return options.simple ? statement.pluck().get() : statement.all();
  }

  close(): this {
    if (this.#open) {
      this.#open = false;
      this.#control.clear();
      this.connection.close();
    }
    return this;
  }

  get inTransaction(): boolean {
    return this.connection.isTransaction ?? this.#depth > 0;
  }

  transaction<F extends (...args: never[]) => unknown>(fn: F): SqliteTransaction<F> {
    const run =
      (mode: TransactionMode) =>
      (...args: Parameters<F>): ReturnType<F> =>
        this.#runInTransaction(mode, () => fn(...args) as ReturnType<F>);
    return Object.assign(run("deferred"), {
      deferred: run("deferred"),
      immediate: run("immediate"),
      exclusive: run("exclusive"),
    });
  }

  #statement(source: string): NodeStatementSync {
    let statement = this.#control.get(source);
    if (!statement) {
      statement = this.connection.prepare(source);
      this.#control.set(source, statement);
    }
    return statement;
  }

  #runInTransaction<T>(mode: TransactionMode, body: () => T): T {
    // Nested: a savepoint inside the open transaction, as better-sqlite3 does.
    const nested = this.inTransaction;
    const savepoint = `troupe_${this.#depth}`;
    const begin = nested ? `SAVEPOINT ${savepoint}` : `BEGIN ${mode.toUpperCase()}`;
    const commit = nested ? `RELEASE ${savepoint}` : "COMMIT";
    const undo = nested ? `ROLLBACK TO ${savepoint}` : "ROLLBACK";
    this.#statement(begin).run();
    this.#depth += 1;
    try {
      const result = body();
      if (result instanceof Promise) {
        throw new TypeError("Transaction function cannot return a promise");
      }
      this.#statement(commit).run();
      return result;
    } catch (error) {
      if (this.inTransaction) {
        this.#statement(undo).run();
        if (nested) this.#statement(commit).run();
      }
      throw error;
    } finally {
      this.#depth -= 1;
    }
  }
}
