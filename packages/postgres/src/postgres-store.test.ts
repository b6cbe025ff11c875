import { compareKeys, StoreConflictError, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { openNamedPool, postgresUrl, useScratchSchemas } from "../test/support.js";
import { createPostgresStore } from "./postgres-store.js";

const { admin, freshSchema, track } = useScratchSchemas("pgst");
const bytes = (text: string) => new TextEncoder().encode(text);

describe("createPostgresStore options", () => {
  it("names the bad option", () => {
    expect(() =>
      createPostgresStore({ connectionString: postgresUrl, schema: "Has-Dash" }),
    ).toThrow(/createPostgresStore\.options\.schema/);
    expect(() => createPostgresStore({})).toThrow(/connectionString/);
    expect(() =>
      createPostgresStore({ connectionString: postgresUrl, shema: "x" } as never),
    ).toThrow(/INVALID|shema|Unrecognized/i);
    try {
      createPostgresStore({ connectionString: 42 } as never);
    } catch (error) {
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    }
  });
});

describe("postgres store", () => {
  it("migrates a fresh schema once when several processes start at once", async () => {
    const schema = freshSchema();
    const stores = Array.from({ length: 4 }, () =>
      createPostgresStore({ connectionString: postgresUrl, schema }),
    );
    const results = await Promise.all(
      stores.map((store, index) =>
        store.commit([{ type: "set", key: `k${index}`, value: bytes("v") }]),
      ),
    );
    expect(new Set(results.map((result) => result.version)).size).toBe(4);
    const applied = await admin.query(`SELECT version, name FROM "${schema}".troupe_migrations`);
    expect(applied.rows.map((row) => row.version)).toEqual([1, 2]);
    await Promise.all(stores.map((store) => store.close()));
  });

  it("keeps two deployments in one database apart by schema", async () => {
    const a = createPostgresStore({ connectionString: postgresUrl, schema: freshSchema() });
    const b = createPostgresStore({ connectionString: postgresUrl, schema: freshSchema() });
    await a.commit([{ type: "set", key: "shared", value: bytes("a") }]);
    expect(await b.get("shared")).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it("lists keys in UTF-8 byte order, as compareKeys does", async () => {
    const store = createPostgresStore({ connectionString: postgresUrl, schema: freshSchema() });
    const keys = ["a", "B", "\u00e9", "\uffff", "\u{1f600}", "a\u0000", "\ue000", "z", "\u0800"];
    await store.commit(keys.map((key) => ({ type: "set", key, value: bytes(key) })));
    const listed = (await store.list()).map((entry) => entry.key);
    expect(listed).toEqual([...keys].sort(compareKeys));
    const reversed = (await store.list({ reverse: true, limit: 3 })).map((entry) => entry.key);
    expect(reversed).toEqual([...keys].sort(compareKeys).reverse().slice(0, 3));
    await store.close();
  });

  it("writes a 100-key commit atomically with one version, or nothing when a guard fails", async () => {
    const store = createPostgresStore({ connectionString: postgresUrl, schema: freshSchema() });
    const ops = Array.from({ length: 100 }, (_, index) => ({
      type: "set" as const,
      key: `batch/${String(index).padStart(3, "0")}`,
      value: bytes(`v${index}`),
      expect: "absent" as const,
    }));
    const { version } = await store.commit(ops);
    const entries = await store.list({ prefix: "batch/" });
    expect(entries).toHaveLength(100);
    expect(new Set(entries.map((entry) => entry.version))).toEqual(new Set([version]));

    const retry = [
      { type: "set" as const, key: "batch/new", value: bytes("x") },
      { type: "delete" as const, key: "batch/000" },
      { type: "check" as const, key: "batch/050", expect: version + 1 },
    ];
    const error = await store.commit(retry).catch((caught: unknown) => caught);
    expect(StoreConflictError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ key: "batch/050", expected: version + 1, actual: version });
    expect(await store.get("batch/new")).toBeUndefined();
    expect(await store.get("batch/000")).toBeDefined();
    await store.close();
  });

  it("gives exactly one winner to concurrent absent-guarded inserts across connections", async () => {
    const schema = freshSchema();
    const stores = Array.from({ length: 4 }, () =>
      createPostgresStore({ connectionString: postgresUrl, schema }),
    );
    await stores[0]?.get("warm-up");
    for (let round = 0; round < 10; round++) {
      const outcomes = await Promise.allSettled(
        stores.map((store, index) =>
          store.commit([
            { type: "set", key: `race/${round}`, value: bytes(String(index)), expect: "absent" },
          ]),
        ),
      );
      const winners = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(winners).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === "rejected") {
          expect(StoreConflictError.isInstance(outcome.reason)).toBe(true);
        }
      }
    }
    await Promise.all(stores.map((store) => store.close()));
  });

  it("prevents write skew between commits that each guard the other's absent key", async () => {
    const schema = freshSchema();
    const left = createPostgresStore({ connectionString: postgresUrl, schema });
    const right = createPostgresStore({ connectionString: postgresUrl, schema });
    await left.get("warm-up");
    for (let round = 0; round < 10; round++) {
      const [x, y] = [`skew/${round}/x`, `skew/${round}/y`];
      const outcomes = await Promise.allSettled([
        left.commit([
          { type: "check", key: y, expect: "absent" },
          { type: "set", key: x, value: bytes("left") },
        ]),
        right.commit([
          { type: "check", key: x, expect: "absent" },
          { type: "set", key: y, value: bytes("right") },
        ]),
      ]);
      // Serially, the second of the two must see the first one's key.
      expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
    }
    await Promise.all([left.close(), right.close()]);
  });

  it("serialises commits past the per-key lock limit against small ones", async () => {
    const schema = freshSchema();
    const big = createPostgresStore({ connectionString: postgresUrl, schema });
    const small = createPostgresStore({ connectionString: postgresUrl, schema });
    await Promise.all([big.get("warm-up"), small.get("warm-up")]);
    for (let round = 0; round < 3; round++) {
      const ops = Array.from({ length: 2500 }, (_, index) => ({
        type: "set" as const,
        key: `huge/${round}/${index}`,
        value: bytes("v"),
        expect: "absent" as const,
      }));
      const contested = `huge/${round}/1234`;
      const outcomes = await Promise.allSettled([
        big.commit(ops),
        small.commit([{ type: "set", key: contested, value: bytes("small"), expect: "absent" }]),
      ]);
      expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
      const written = await big.list({ prefix: `huge/${round}/` });
      expect(written.length === 2500 || written.length === 1).toBe(true);
    }
    await Promise.all([big.close(), small.close()]);
  });

  it("uses a caller's pool and leaves it open on close", async () => {
    const pool = openNamedPool("troupe_store_pool_test");
    track(pool);
    const store = createPostgresStore({ pool, schema: freshSchema() });
    await store.commit([{ type: "set", key: "k", value: bytes("v") }]);
    await store.close();
    await expect(store.get("k")).rejects.toMatchObject({ code: "CLOSED" });
    expect((await pool.query("SELECT 1 AS one")).rows[0]).toEqual({ one: 1 });
  });
});
