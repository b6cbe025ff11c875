import { join } from "node:path";
import { compareKeys, type Store, StoreConflictError, TroupeError, utf8 } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempDir } from "../test/temp-files.js";
import { openConnection, openSqliteDatabase } from "./database.js";
import { defaultDriver } from "./driver.js";
import { createSqliteStore } from "./sqlite-store.js";

describe("createSqliteStore", () => {
  let temp: ReturnType<typeof createTempDir>;
  let path: string;
  const opened: Store[] = [];
  const open = (options: Parameters<typeof createSqliteStore>[0] = { path }) => {
    const store = createSqliteStore(options);
    opened.push(store);
    return store;
  };

  beforeEach(() => {
    temp = createTempDir("store");
    path = join(temp.dir, "troupe.db");
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close();
    temp.remove();
  });

  it("lists keys in UTF-8 byte order, like compareKeys", async () => {
    const store = open();
    // U+FFFF sorts before U+10000 in UTF-8, but after it in UTF-16 code units.
    const keys = ["b", "a\u{10000}", "a\uffff", "a", "a\u0000", "é", "Z"];
    await store.commit(keys.map((key) => ({ type: "set", key, value: utf8(key) })));
    const listed = (await store.list()).map((entry) => entry.key);
    expect(listed).toEqual([...keys].sort(compareKeys));
    const reversed = (await store.list({ reverse: true, limit: 3 })).map((entry) => entry.key);
    expect(reversed).toEqual([...keys].sort(compareKeys).reverse().slice(0, 3));
    expect((await store.list({ prefix: "a", start: "a\uffff" })).map((entry) => entry.key)).toEqual(
      ["a\uffff", "a\u{10000}"],
    );
  });

  it("honours every list limit, also past the cached statements", async () => {
    const store = open();
    await store.commit(
      Array.from({ length: 50 }, (_, index) => ({
        type: "set" as const,
        key: `k/${String(index).padStart(2, "0")}`,
        value: utf8(String(index)),
      })),
    );
    for (let limit = 1; limit <= 45; limit++) {
      const listed = await store.list({ prefix: "k/", limit, reverse: limit % 2 === 0 });
      expect(listed).toHaveLength(limit);
      expect(listed[0]?.key).toBe(limit % 2 === 0 ? "k/49" : "k/00");
    }
  });

  it("returns plain Uint8Array values", async () => {
    const store = open();
    await store.commit([{ type: "set", key: "k", value: new Uint8Array([1, 2, 3]) }]);
    const entry = await store.get("k");
    expect(entry?.value).toStrictEqual(new Uint8Array([1, 2, 3]));
  });

  it("shares one version sequence between connections on the same file", async () => {
    const first = open();
    const second = open();
    const versions: number[] = [];
    for (let round = 0; round < 5; round++) {
      versions.push((await first.commit([{ type: "set", key: "a", value: utf8("1") }])).version);
      versions.push((await second.commit([{ type: "set", key: "b", value: utf8("2") }])).version);
    }
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
    expect(new Set(versions).size).toBe(versions.length);
    expect((await first.get("b"))?.version).toBe(versions.at(-1));
  });

  it("lets exactly one of two connections win a guard on the same version", async () => {
    const first = open();
    const second = open();
    const { version } = await first.commit([{ type: "set", key: "lock", value: utf8("0") }]);
    await second.commit([{ type: "set", key: "lock", value: utf8("b"), expect: version }]);
    const error = await first
      .commit([{ type: "set", key: "lock", value: utf8("a"), expect: version }])
      .catch((caught: unknown) => caught);
    expect(StoreConflictError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ key: "lock", expected: version, actual: version + 1 });
    expect((await first.get("lock"))?.value).toEqual(utf8("b"));
  });

  it("writes nothing when a later guard of the commit fails", async () => {
    const store = open();
    await expect(
      store.commit([
        { type: "set", key: "x", value: utf8("x") },
        { type: "check", key: "y", expect: 7 },
      ]),
    ).rejects.toMatchObject({ code: "STORE_CONFLICT", key: "y" });
    expect(await store.get("x")).toBeUndefined();
  });

  it("keeps data and continues the version sequence after reopening", async () => {
    const store = open();
    await store.commit([{ type: "set", key: "k", value: utf8("v") }]);
    const { version } = await store.commit([{ type: "delete", key: "k" }]);
    await store.close();
    const reopened = open();
    expect(await reopened.get("k")).toBeUndefined();
    const next = await reopened.commit([{ type: "set", key: "k", value: utf8("w") }]);
    expect(next.version).toBeGreaterThan(version);
  });

  it("serves a Store from a shared connection without closing it", async () => {
    const database = openSqliteDatabase(join(temp.dir, "shared.db"));
    const store = createSqliteStore({ database });
    await store.commit([{ type: "set", key: "k", value: utf8("v") }]);
    await store.close();
    expect(database.open).toBe(true);
    await expect(store.get("k")).rejects.toMatchObject({ code: "CLOSED" });
    database.close();
  });

  it("fails with UNAVAILABLE when another connection holds the write lock past the timeout", async () => {
    const store = open({ path, busyTimeoutMs: 50 });
    const blocker = openConnection(path, defaultDriver());
    blocker.exec("BEGIN IMMEDIATE");
    try {
      const error = await store
        .commit([{ type: "set", key: "k", value: utf8("v") }])
        .catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
      expect(String((error as Error).message)).toMatch(/locked/);
      // Reads still work: WAL readers never wait for the writer.
      expect(await store.get("k")).toBeUndefined();
    } finally {
      blocker.exec("ROLLBACK");
      blocker.close();
    }
    await store.commit([{ type: "set", key: "k", value: utf8("v") }]);
    expect((await store.get("k"))?.value).toEqual(utf8("v"));
  });

  it("rejects bad options naming the option", () => {
    expect(() => createSqliteStore({ path: "" })).toThrow(/options\.path/);
    expect(() => createSqliteStore({} as never)).toThrow(/exactly one of `path` or `database`/);
    expect(() => createSqliteStore({ path, synchronous: "fast" } as never)).toThrow(
      /options\.synchronous/,
    );
    expect(() => createSqliteStore({ path, busyTimeoutMs: -1 })).toThrow(/options\.busyTimeoutMs/);
    expect(() => createSqliteStore({ database: {} } as never)).toThrow(/options\.database/);
  });
});
