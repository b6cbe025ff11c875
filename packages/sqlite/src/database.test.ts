import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempDir } from "../test/temp-files.js";
import { openConnection, openSqliteDatabase } from "./database.js";
import { defaultDriver } from "./driver.js";
import { SCHEMA_VERSION } from "./schema.js";

describe("openSqliteDatabase", () => {
  let temp: ReturnType<typeof createTempDir>;
  let path: string;
  beforeEach(() => {
    temp = createTempDir("database");
    path = join(temp.dir, "troupe.db");
  });
  afterEach(() => temp.remove());

  it("opens in WAL mode with synchronous NORMAL by default, FULL on request", () => {
    const normal = openSqliteDatabase(path);
    expect(normal.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(normal.pragma("synchronous", { simple: true })).toBe(1);
    normal.close();
    const full = openSqliteDatabase(path, { synchronous: "full" });
    expect(full.pragma("synchronous", { simple: true })).toBe(2);
    full.close();
  });

  it("creates a new file with 1 KiB pages or the given page size, and keeps an existing file's", () => {
    const small = openSqliteDatabase(path);
    expect(small.pragma("page_size", { simple: true })).toBe(1024);
    small.close();
    const reopened = openSqliteDatabase(path, { pageSizeBytes: 8192 });
    expect(reopened.pragma("page_size", { simple: true })).toBe(1024);
    reopened.close();
    const other = openSqliteDatabase(join(temp.dir, "large.db"), { pageSizeBytes: 8192 });
    expect(other.pragma("page_size", { simple: true })).toBe(8192);
    other.close();
    expect(() => openSqliteDatabase(path, { pageSizeBytes: 1000 })).toThrow(
      /options\.pageSizeBytes/,
    );
  });

  it("creates the schema once and opens an up-to-date file without changes", () => {
    openSqliteDatabase(path).close();
    const again = openSqliteDatabase(path);
    const rows = again.prepare("SELECT version FROM troupe_schema_version").all();
    expect(rows).toEqual([{ version: SCHEMA_VERSION }]);
    again.close();
  });

  it("refuses a file written by a newer schema", () => {
    openSqliteDatabase(path).close();
    const raw = openConnection(path, defaultDriver());
    raw.prepare("UPDATE troupe_schema_version SET version = ?").run(SCHEMA_VERSION + 1);
    raw.close();
    expect(() => openSqliteDatabase(path)).toThrow(/newer than this @troupe\/sqlite/);
  });

  it("names the bad option", () => {
    expect(() => openSqliteDatabase(path, { cacheSizeKib: 1.5 })).toThrow(/options\.cacheSizeKib/);
    expect(() => openSqliteDatabase("")).toThrow(/path/);
  });
});

describe("openSqliteDatabase({ exclusive: true })", () => {
  let temp: ReturnType<typeof createTempDir>;
  beforeEach(() => {
    temp = createTempDir("exclusive");
  });
  afterEach(() => temp.remove());

  it("keeps other connections out until it closes", () => {
    const path = join(temp.dir, "troupe.db");
    const owner = openSqliteDatabase(path, { exclusive: true });
    owner.prepare("SELECT count(*) FROM troupe_store").get();
    expect(() => openSqliteDatabase(path, { busyTimeoutMs: 20 })).toThrow(
      expect.objectContaining({ code: "UNAVAILABLE" }),
    );
    owner.close();
    const next = openSqliteDatabase(path);
    expect(next.prepare("SELECT count(*) AS n FROM troupe_store").get()).toEqual({ n: 1 });
    next.close();
  });
});
