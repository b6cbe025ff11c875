import type { StatementGuard } from "./access.js";
import type { PgTypeName, SqlValue } from "./pg-types.js";
import type { TroupeData } from "./virtual-tables.js";

/** One output column. */
export interface Field {
  readonly name: string;
  readonly type: PgTypeName;
}

/** What a statement produced: columns (none for commands), text rows and the command tag. */
export interface QueryResult {
  readonly fields: readonly Field[] | undefined;
  readonly rows: (string | null)[][];
  readonly tag: string;
}

/** A parsed statement, ready to describe and run with parameters. */
export interface PreparedQuery {
  /** The statement's columns, known before it runs; undefined for commands without rows. */
  readonly fields: readonly Field[] | undefined;
  /** How many parameters (`$n`) it uses. */
  readonly paramCount: number;
  /** Runs it. */
  run(params: readonly SqlValue[], signal: AbortSignal): Promise<QueryResult>;
}

/** What the engine runs against. */
export interface EngineContext extends TroupeData {
  /** The time, for `now()`. */
  readonly now: () => number;
  /** Settings shown by `SHOW` and `current_setting`. */
  readonly settings: ReadonlyMap<string, string>;
  /** The session's scoped-token guard, when the server has access control. */
  readonly guard?: StatementGuard | undefined;
}
