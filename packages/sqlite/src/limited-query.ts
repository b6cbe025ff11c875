import type { SqliteDatabase, SqliteStatement } from "./driver.js";

/** How many distinct LIMIT values get their own cached statement (callers use a handful). */
const MAX_CACHED_LIMITS = 32;

/**
 * Runs one query that ends in `LIMIT n` through a prepared statement per value of `n`, made on
 * first use (`n` = -1: no limit). A bound `LIMIT ?` would be simpler, but SQLite built with STAT4
 * (as better-sqlite3 is) re-prepares a statement every time a parameter that can change its plan
 * is bound, and LIMIT is one: measured here, that made every claim and list ~10 µs slower.
 * Once MAX_CACHED_LIMITS values are cached, other values share one statement with a bound limit.
 */
export function limitedQuery<Params extends unknown[], Row>(
  database: SqliteDatabase,
  sqlWithoutLimit: string,
): (limit: number, ...params: Params) => Row[] {
  const byLimit = new Map<number, SqliteStatement<Params, Row>>();
  let bound: SqliteStatement<[...Params, number], Row> | undefined;
  return (limit, ...params) => {
    let statement = byLimit.get(limit);
    if (!statement && (byLimit.size >= MAX_CACHED_LIMITS || !Number.isSafeInteger(limit))) {
      bound ??= database.prepare<[...Params, number], Row>(`${sqlWithoutLimit} LIMIT ?`);
      return bound.all(...params, limit);
    }
    if (!statement) {
      statement = database.prepare<Params, Row>(`${sqlWithoutLimit} LIMIT ${limit}`);
      byLimit.set(limit, statement);
    }
    return statement.all(...params);
  };
}
