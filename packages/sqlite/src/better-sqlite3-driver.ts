import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDatabase } from "./driver.js";
import { requireDriver } from "./driver.js";

let loaded: typeof BetterSqlite3 | undefined;

/** better-sqlite3, loaded on first use: on Node ≥ 24 with `node:sqlite` it is never loaded. */
function loadBetterSqlite3(): typeof BetterSqlite3 {
  loaded ??= requireDriver("better-sqlite3") as typeof BetterSqlite3;
  return loaded;
}

/** Opens a better-sqlite3 connection; its `Database` already has the driver seam's shape. */
export function openBetterSqlite3(path: string): SqliteDatabase {
  const Database = loadBetterSqlite3();
  return new Database(path) as unknown as SqliteDatabase;
}

/** Whether `value` is a better-sqlite3 connection (false when better-sqlite3 never loaded). */
export function isBetterSqlite3Database(value: unknown): boolean {
  if (loaded === undefined) {
    try {
      loadBetterSqlite3();
    } catch {
      return false;
    }
  }
  return loaded !== undefined && value instanceof loaded;
}
