import { join } from "node:path";
import { TroupeError } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempDir } from "../test/temp-files.js";
import { availableDrivers, mapSqliteError, openSqliteDatabase } from "./database.js";
import { defaultDriver, type SqliteDatabase, sqliteErrorCode } from "./driver.js";

describe("driver choice", () => {
  it("defaults to node:sqlite from Node 24 on and better-sqlite3 before", () => {
    expect(defaultDriver("20.19.0")).toBe("better-sqlite3");
    expect(defaultDriver("22.12.0")).toBe("better-sqlite3");
    expect(defaultDriver("24.0.0")).toBe("node:sqlite");
    expect(defaultDriver("25.1.0")).toBe("node:sqlite");
  });

  it("this Node runs its default driver", () => {
    expect(availableDrivers()).toContain(defaultDriver());
  });

  it("rejects an unknown driver, naming the option", () => {
    expect(() => openSqliteDatabase(":memory:", { driver: "sqlite3" as never })).toThrow(
      expect.objectContaining({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(/options\.driver/),
      }),
    );
  });

  it("reads SQLite result codes from either driver's errors", () => {
    expect(sqliteErrorCode(Object.assign(new Error("x"), { code: "SQLITE_BUSY" }))).toBe(
      "SQLITE_BUSY",
    );
    const nodeBusy = Object.assign(new Error("database is locked"), {
      code: "ERR_SQLITE_ERROR",
      errcode: 5,
    });
    expect(sqliteErrorCode(nodeBusy)).toBe("SQLITE_BUSY");
    expect(
      sqliteErrorCode(Object.assign(new Error("x"), { code: "ERR_SQLITE_ERROR", errcode: 2067 })),
    ).toBe("SQLITE_CONSTRAINT");
    expect(sqliteErrorCode(new Error("plain"))).toBeUndefined();
    const mapped = mapSqliteError(nodeBusy, "writing");
    expect(TroupeError.isInstance(mapped) && mapped.code).toBe("UNAVAILABLE");
  });
});

// The calls the adapters make, on every driver this Node can run.
describe.each(availableDrivers())("driver %s", (driver) => {
  let temp: ReturnType<typeof createTempDir>;
  let database: SqliteDatabase;
  beforeEach(() => {
    temp = createTempDir("driver");
    database = openSqliteDatabase(join(temp.dir, "driver.db"), { driver });
    database.exec("CREATE TABLE t (k BLOB PRIMARY KEY, v INTEGER NOT NULL)");
  });
  afterEach(() => {
    if (database.open) database.close();
    temp.remove();
  });

  it("runs, reads rows and plucks, with BLOBs as Buffers", () => {
    const insert = database.prepare<[Buffer, number]>("INSERT INTO t (k, v) VALUES (?, ?)");
    expect(insert.run(Buffer.from("a"), 1).changes).toBe(1);
    const { lastInsertRowid } = insert.run(Buffer.from("b"), 2);
    expect(Number(lastInsertRowid)).toBe(2);
    const row = database
      .prepare<[], { k: Buffer; v: number }>("SELECT k, v FROM t ORDER BY k")
      .get();
    expect(Buffer.isBuffer(row?.k)).toBe(true);
    expect(row?.k.toString()).toBe("a");
    expect(database.prepare<[], number>("SELECT v FROM t ORDER BY v").pluck().all()).toEqual([
      1, 2,
    ]);
    const keys = database.prepare<[], Buffer>("SELECT k FROM t ORDER BY k").pluck();
    expect([...keys.iterate()].map((key) => key.toString())).toEqual(["a", "b"]);
    expect(database.prepare("SELECT v FROM t WHERE v = 9").get()).toBeUndefined();
    expect(database.pragma("journal_mode", { simple: true })).toBe("wal");
  });

  it("commits a transaction, rolls it back on a throw, and nests as a savepoint", () => {
    const insert = database.prepare<[Buffer, number]>("INSERT INTO t (k, v) VALUES (?, ?)");
    const count = database.prepare<[], number>("SELECT count(*) FROM t").pluck();
    const insertAll = database.transaction((values: number[]) => {
      for (const value of values) insert.run(Buffer.from([value]), value);
      return values.length;
    });
    expect(insertAll.immediate([1, 2])).toBe(2);
    expect(() => insertAll([3, 3])).toThrow();
    expect(count.get()).toBe(2);

    const outer = database.transaction(() => {
      insert.run(Buffer.from([4]), 4);
      expect(() => insertAll.deferred([5, 5])).toThrow();
      insertAll([6]);
    });
    outer.exclusive();
    expect(database.prepare<[], number>("SELECT v FROM t ORDER BY v").pluck().all()).toEqual([
      1, 2, 4, 6,
    ]);
  });

  it("reports a closed connection", () => {
    const statement = database.prepare("SELECT 1");
    database.close();
    expect(database.open).toBe(false);
    let caught: unknown;
    try {
      statement.get();
    } catch (error) {
      caught = mapSqliteError(error, "reading");
    }
    expect(TroupeError.isInstance(caught) && caught.code).toBe("CLOSED");
  });
});
