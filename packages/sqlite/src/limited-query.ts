import type Database from "better-sqlite3";

/** The largest LIMIT value that gets its own cached statement. */
const MAX_CACHED_LIMIT = 1000;

/**
 * Runs one query that ends in `LIMIT n` through a prepared statement per value of `n`, made on
 * first use (`n` = -1: no limit). A bound `LIMIT ?` would be simpler, but SQLite built with STAT4
 * (as better-sqlite3 is) re-prepares a statement every time a parameter that can change its plan
 * is bound, and LIMIT is one: measured here, that made every claim and list ~10 µs slower.
 * Limits above MAX_CACHED_LIMIT share one statement with a bound limit.
 */
export function limitedQuery<Params extends unknown[], Row>(
  database: Database.Database,
  sqlWithoutLimit: string,
): (limit: number, ...params: Params) => Row[] {
  const byLimit = new Map<number, Database.Statement<Params, Row>>();
  let bound: Database.Statement<[...Params, number], Row> | undefined;
  return (limit, ...params) => {
    if (limit > MAX_CACHED_LIMIT || !Number.isInteger(limit)) {
      bound ??= database.prepare<[...Params, number], Row>(`${sqlWithoutLimit} LIMIT ?`);
      return bound.all(...params, limit);
    }
    let statement = byLimit.get(limit);
    if (!statement) {
      statement = database.prepare<Params, Row>(`${sqlWithoutLimit} LIMIT ${limit}`);
      byLimit.set(limit, statement);
    }
    return statement.all(...params);
  };
}
