import {
  type Expectation,
  keySuccessor,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  type Version,
} from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  bytes,
  createRandom,
  DEFAULT_TEST_TIMEOUT_MS,
  expectBytes,
  expectConflict,
  expectTroupeError,
  pseudoRandomBytes,
  text,
} from "./assertions.js";
import { useHarness } from "./harness.js";
import type { SuiteContext } from "./suite-context.js";

/** How `describeStore` opens and removes the store under test. */
export interface StoreSuiteOptions {
  /** A fresh, empty store for one test. */
  create(context: SuiteContext): Store | Promise<Store>;
  /**
   * A second handle/connection on the SAME data as `create` made (for cross-connection
   * concurrency and visibility tests). Default: tests use the same instance.
   */
  openPeer?(context: SuiteContext): Store | Promise<Store>;
  /**
   * For persistent adapters: open the same data again after the first store was closed. Presence
   * turns on durability tests.
   */
  reopen?(context: SuiteContext): Store | Promise<Store>;
  /** Remove what `create` made (files, schemas, keys), after each test. */
  destroy?(context: SuiteContext): void | Promise<void>;
  /** Per-test and per-hook timeout in ms. Default 30,000. */
  testTimeoutMs?: number;
}

/** UTF-8 byte order, computed independently of core's `compareKeys`. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

const keysOf = (entries: readonly StoreEntry[]) => entries.map((entry) => entry.key);

async function setAll(store: Store, keys: readonly string[]): Promise<Version> {
  const { version } = await store.commit(
    keys.map((key) => ({ type: "set", key, value: bytes(`value of ${key}`) })),
  );
  return version;
}

/**
 * Registers the Store conformance suite: reads, guarded atomic commits, ABA-safe versions,
 * concurrency across connections, ranges in UTF-8 byte order, key and value edge cases, closing
 * and (with `reopen`) durability. Call it at the top level of a vitest test file.
 */
export function describeStore(adapterName: string, options: StoreSuiteOptions): void {
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${adapterName}: Store conformance`, () => {
    const harness = useHarness<Store>(options, timeout);
    const open = () => harness().main();
    const peer = () => harness().peer();

    describe("reads and writes", () => {
      it(
        "a fresh store is empty",
        async () => {
          const store = await open();
          expect(await store.get("missing")).toBeUndefined();
          expect(await store.list()).toEqual([]);
          expect(await store.getMany(["a", "b"])).toEqual([undefined, undefined]);
        },
        timeout,
      );

      it(
        "get returns what a commit set, with the commit's version",
        async () => {
          const store = await open();
          const { version } = await store.commit([{ type: "set", key: "k", value: bytes("v1") }]);
          expect(Number.isSafeInteger(version) && version > 0).toBe(true);
          const entry = await store.get("k");
          expect(entry?.key).toBe("k");
          expect(text(entry?.value)).toBe("v1");
          expect(entry?.version).toBe(version);
        },
        timeout,
      );

      it(
        "a commit written through one handle is visible through the peer",
        async () => {
          const store = await open();
          const other = await peer();
          const { version } = await store.commit([
            { type: "set", key: "shared", value: bytes("x") },
          ]);
          const entry = await other.get("shared");
          expect(text(entry?.value)).toBe("x");
          expect(entry?.version).toBe(version);
          await other.commit([{ type: "delete", key: "shared" }]);
          expect(await store.get("shared")).toBeUndefined();
        },
        timeout,
      );

      it(
        "overwriting replaces the value and gives a greater version",
        async () => {
          const store = await open();
          const first = await store.commit([{ type: "set", key: "k", value: bytes("one") }]);
          const second = await store.commit([{ type: "set", key: "k", value: bytes("two") }]);
          expect(second.version).toBeGreaterThan(first.version);
          const entry = await store.get("k");
          expect(text(entry?.value)).toBe("two");
          expect(entry?.version).toBe(second.version);
          expect(await store.list()).toHaveLength(1);
        },
        timeout,
      );

      it(
        "delete removes a key, and deleting a missing key succeeds without effect",
        async () => {
          const store = await open();
          await setAll(store, ["a", "b"]);
          await store.commit([{ type: "delete", key: "a" }]);
          expect(await store.get("a")).toBeUndefined();
          expect(keysOf(await store.list())).toEqual(["b"]);
          await store.commit([{ type: "delete", key: "never-existed" }]);
          expect(keysOf(await store.list())).toEqual(["b"]);
        },
        timeout,
      );

      it(
        "getMany returns entries in the order asked, undefined where missing",
        async () => {
          const store = await open();
          await setAll(store, ["a", "c"]);
          const entries = await store.getMany(["c", "missing", "a", "c"]);
          expect(entries.map((entry) => entry?.key)).toEqual(["c", undefined, "a", "c"]);
          expect(text(entries[0]?.value)).toBe("value of c");
          expect(text(entries[2]?.value)).toBe("value of a");
          expect(await store.getMany([])).toEqual([]);
        },
        timeout,
      );
    });

    describe("versions", () => {
      it(
        "every key written by one commit carries that commit's version",
        async () => {
          const store = await open();
          const { version } = await store.commit([
            { type: "set", key: "a", value: bytes("1") },
            { type: "set", key: "b", value: bytes("2") },
            { type: "set", key: "c", value: bytes("3") },
          ]);
          const entries = await store.getMany(["a", "b", "c"]);
          expect(entries.map((entry) => entry?.version)).toEqual([version, version, version]);
        },
        timeout,
      );

      it(
        "versions increase store-wide: a commit to another key gets a greater version",
        async () => {
          const store = await open();
          const other = await peer();
          const seen: number[] = [];
          for (let i = 0; i < 10; i++) {
            const handle = i % 2 === 0 ? store : other;
            seen.push(
              (await handle.commit([{ type: "set", key: `k${i}`, value: bytes("x") }])).version,
            );
          }
          for (let i = 1; i < seen.length; i++) {
            expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
          }
        },
        timeout,
      );

      it(
        "a key deleted and written again never gets an old version back (ABA)",
        async () => {
          const store = await open();
          const first = await store.commit([{ type: "set", key: "k", value: bytes("a") }]);
          await store.commit([{ type: "delete", key: "k", expect: first.version }]);
          const again = await store.commit([
            { type: "set", key: "k", value: bytes("b"), expect: "absent" },
          ]);
          expect(again.version).toBeGreaterThan(first.version);
          // A writer that read the first incarnation must not be able to overwrite the second.
          await expectConflict(
            () =>
              store.commit([
                { type: "set", key: "k", value: bytes("stale"), expect: first.version },
              ]),
            "k",
            first.version,
            again.version,
          );
          expect(text((await store.get("k"))?.value)).toBe("b");
        },
        timeout,
      );

      it(
        "deleting the newest key does not let the next commit reuse its version",
        async () => {
          const store = await open();
          await store.commit([{ type: "set", key: "a", value: bytes("1") }]);
          const newest = await store.commit([{ type: "set", key: "b", value: bytes("2") }]);
          await store.commit([{ type: "delete", key: "b" }]);
          const next = await store.commit([{ type: "set", key: "c", value: bytes("3") }]);
          expect(next.version).toBeGreaterThan(newest.version);
          const reborn = await store.commit([{ type: "set", key: "b", value: bytes("4") }]);
          expect(reborn.version).toBeGreaterThan(next.version);
        },
        timeout,
      );

      it(
        "a commit of only checks writes nothing and returns version 0",
        async () => {
          const store = await open();
          const { version } = await store.commit([{ type: "set", key: "k", value: bytes("v") }]);
          const result = await store.commit([
            { type: "check", key: "k", expect: version },
            { type: "check", key: "other", expect: "absent" },
          ]);
          expect(result.version).toBe(0);
          expect((await store.get("k"))?.version).toBe(version);
          expect(await store.get("other")).toBeUndefined();
        },
        timeout,
      );
    });

    describe("guards", () => {
      it(
        'expect "absent" creates a missing key and refuses an existing one',
        async () => {
          const store = await open();
          const created = await store.commit([
            { type: "set", key: "k", value: bytes("first"), expect: "absent" },
          ]);
          await expectConflict(
            () =>
              store.commit([{ type: "set", key: "k", value: bytes("second"), expect: "absent" }]),
            "k",
            "absent",
            created.version,
          );
          expect(text((await store.get("k"))?.value)).toBe("first");
        },
        timeout,
      );

      it(
        "a version guard succeeds on the current version and fails on a stale or missing one",
        async () => {
          const store = await open();
          const v1 = (await store.commit([{ type: "set", key: "k", value: bytes("1") }])).version;
          const v2 = (
            await store.commit([{ type: "set", key: "k", value: bytes("2"), expect: v1 }])
          ).version;
          await expectConflict(
            () => store.commit([{ type: "set", key: "k", value: bytes("3"), expect: v1 }]),
            "k",
            v1,
            v2,
          );
          await expectConflict(
            () => store.commit([{ type: "set", key: "nothing", value: bytes("x"), expect: v2 }]),
            "nothing",
            v2,
            "absent",
          );
          expect(text((await store.get("k"))?.value)).toBe("2");
          expect(await store.get("nothing")).toBeUndefined();
        },
        timeout,
      );

      it(
        "a guarded delete with a stale version deletes nothing",
        async () => {
          const store = await open();
          const v1 = (await store.commit([{ type: "set", key: "k", value: bytes("1") }])).version;
          const v2 = (await store.commit([{ type: "set", key: "k", value: bytes("2") }])).version;
          await expectConflict(
            () => store.commit([{ type: "delete", key: "k", expect: v1 }]),
            "k",
            v1,
            v2,
          );
          expect((await store.get("k"))?.version).toBe(v2);
          await store.commit([{ type: "delete", key: "k", expect: v2 }]);
          expect(await store.get("k")).toBeUndefined();
        },
        timeout,
      );

      it(
        "a failing check op aborts the commit it guards",
        async () => {
          const store = await open();
          const fence = (await store.commit([{ type: "set", key: "fence", value: bytes("1") }]))
            .version;
          const moved = (await store.commit([{ type: "set", key: "fence", value: bytes("2") }]))
            .version;
          await expectConflict(
            () =>
              store.commit([
                { type: "set", key: "data", value: bytes("from stale owner") },
                { type: "check", key: "fence", expect: fence },
              ]),
            "fence",
            fence,
            moved,
          );
          expect(await store.get("data")).toBeUndefined();
          await expectConflict(
            () =>
              store.commit([
                { type: "check", key: "lock", expect: moved },
                { type: "set", key: "data", value: bytes("x") },
              ]),
            "lock",
            moved,
            "absent",
          );
          expect(await store.get("data")).toBeUndefined();
          const ok = await store.commit([
            { type: "check", key: "fence", expect: moved },
            { type: "set", key: "data", value: bytes("from owner") },
          ]);
          expect((await store.get("data"))?.version).toBe(ok.version);
          expect((await store.get("fence"))?.version).toBe(moved);
        },
        timeout,
      );

      it(
        "one failed guard among many ops writes nothing, deletes included, and names the key",
        async () => {
          const store = await open();
          const before = await setAll(store, ["keep-1", "keep-2", "guarded"]);
          const ops: StoreOp[] = [
            { type: "set", key: "new-1", value: bytes("n1") },
            { type: "delete", key: "keep-1" },
            { type: "set", key: "keep-2", value: bytes("changed"), expect: before },
            { type: "set", key: "new-2", value: bytes("n2"), expect: "absent" },
            { type: "delete", key: "guarded", expect: before + 1000 },
            { type: "set", key: "new-3", value: bytes("n3") },
          ];
          await expectConflict(() => store.commit(ops), "guarded", before + 1000, before);
          const after = await store.list();
          expect(keysOf(after)).toEqual(["guarded", "keep-1", "keep-2"]);
          expect(after.map((entry) => entry.version)).toEqual([before, before, before]);
          expect(text(after[2]?.value)).toBe("value of keep-2");
        },
        timeout,
      );

      it(
        "a successful multi-key commit applies sets and deletes together",
        async () => {
          const store = await open();
          const before = await setAll(store, ["a", "b"]);
          const { version } = await store.commit([
            { type: "delete", key: "a", expect: before },
            { type: "set", key: "b", value: bytes("B"), expect: before },
            { type: "set", key: "c", value: bytes("C"), expect: "absent" },
          ]);
          const entries = await store.list();
          expect(keysOf(entries)).toEqual(["b", "c"]);
          expect(entries.map((entry) => entry.version)).toEqual([version, version]);
        },
        timeout,
      );
    });

    describe("concurrency", () => {
      it(
        "of 20 concurrent commits guarded on the same version, exactly one wins",
        async () => {
          const store = await open();
          const other = await peer();
          const base = (await store.commit([{ type: "set", key: "race", value: bytes("base") }]))
            .version;
          const results = await Promise.allSettled(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 === 0 ? store : other).commit([
                { type: "set", key: "race", value: bytes(`writer ${i}`), expect: base },
              ]),
            ),
          );
          const winners = results.flatMap((result, i) =>
            result.status === "fulfilled" ? [{ writer: i, version: result.value.version }] : [],
          );
          expect(winners).toHaveLength(1);
          const winner = winners[0] as { writer: number; version: number };
          for (const result of results) {
            if (result.status === "fulfilled") continue;
            expect(StoreConflictError.isInstance(result.reason), String(result.reason)).toBe(true);
            const conflict = result.reason as StoreConflictError;
            expect({
              key: conflict.key,
              expected: conflict.expected,
              actual: conflict.actual,
            }).toEqual({
              key: "race",
              expected: base,
              actual: winner.version,
            });
          }
          const entry = await other.get("race");
          expect(text(entry?.value)).toBe(`writer ${winner.writer}`);
          expect(entry?.version).toBe(winner.version);
        },
        timeout,
      );

      it(
        'of 20 concurrent creates guarded on "absent", exactly one wins',
        async () => {
          const store = await open();
          const other = await peer();
          const results = await Promise.allSettled(
            Array.from({ length: 20 }, (_, i) =>
              (i % 2 === 0 ? store : other).commit([
                { type: "set", key: "lock", value: bytes(`owner ${i}`), expect: "absent" },
              ]),
            ),
          );
          const won = results.filter((result) => result.status === "fulfilled");
          expect(won).toHaveLength(1);
          for (const result of results) {
            if (result.status === "rejected") {
              expect(StoreConflictError.isInstance(result.reason), String(result.reason)).toBe(
                true,
              );
            }
          }
        },
        timeout,
      );

      it(
        "read-modify-write increments from concurrent workers with retry-on-conflict lose nothing",
        async () => {
          const store = await open();
          const other = await peer();
          const workers = 4;
          const incrementsPerWorker = 10;
          const increment = async (handle: Store) => {
            for (let attempt = 0; attempt < 1000; attempt++) {
              const current = await handle.get("counter");
              const value = current ? Number(text(current.value)) : 0;
              try {
                await handle.commit([
                  {
                    type: "set",
                    key: "counter",
                    value: bytes(String(value + 1)),
                    expect: current ? current.version : "absent",
                  },
                ]);
                return;
              } catch (error) {
                if (!StoreConflictError.isInstance(error)) throw error;
              }
            }
            throw new Error("increment: gave up after 1000 conflicts");
          };
          await Promise.all(
            Array.from({ length: workers }, async (_, worker) => {
              for (let i = 0; i < incrementsPerWorker; i++) {
                await increment(worker % 2 === 0 ? store : other);
              }
            }),
          );
          expect(text((await store.get("counter"))?.value)).toBe(
            String(workers * incrementsPerWorker),
          );
        },
        timeout,
      );

      it(
        "concurrent guarded transfers between overlapping key pairs keep the total",
        async () => {
          const store = await open();
          const other = await peer();
          const accounts = ["acct/a", "acct/b", "acct/c"];
          await store.commit(accounts.map((key) => ({ type: "set", key, value: bytes("100") })));
          const pairs: [string, string][] = [
            ["acct/a", "acct/b"],
            ["acct/b", "acct/c"],
            ["acct/c", "acct/a"],
          ];
          const transfer = async (handle: Store, from: string, to: string) => {
            for (let attempt = 0; attempt < 1000; attempt++) {
              const [source, target] = await handle.getMany([from, to]);
              if (!source || !target) throw new Error("transfer: an account vanished");
              try {
                await handle.commit([
                  {
                    type: "set",
                    key: from,
                    value: bytes(String(Number(text(source.value)) - 1)),
                    expect: source.version,
                  },
                  {
                    type: "set",
                    key: to,
                    value: bytes(String(Number(text(target.value)) + 1)),
                    expect: target.version,
                  },
                ]);
                return;
              } catch (error) {
                if (!StoreConflictError.isInstance(error)) throw error;
              }
            }
            throw new Error("transfer: gave up after 1000 conflicts");
          };
          // Each pair moves 8 units one way; the three pairs form a cycle, so every account ends at 100.
          await Promise.all(
            pairs.flatMap(([from, to], i) =>
              [0, 1].map(async (lane) => {
                for (let n = 0; n < 4; n++)
                  await transfer((i + lane) % 2 === 0 ? store : other, from, to);
              }),
            ),
          );
          const final = await store.getMany(accounts);
          expect(final.map((entry) => text(entry?.value))).toEqual(["100", "100", "100"]);
        },
        timeout,
      );

      it(
        "getMany and list see a multi-key commit entirely or not at all",
        async () => {
          const store = await open();
          const other = await peer();
          await store.commit([
            { type: "set", key: "pair/a", value: bytes("0") },
            { type: "set", key: "pair/b", value: bytes("0") },
          ]);
          let done = false;
          const torn: string[] = [];
          const writer = (async () => {
            try {
              for (let i = 1; i <= 30; i++) {
                await store.commit([
                  { type: "set", key: "pair/a", value: bytes(String(i)) },
                  { type: "set", key: "pair/b", value: bytes(String(i)) },
                ]);
              }
            } finally {
              done = true;
            }
          })();
          let reads = 0;
          while (!done || reads < 2) {
            const [a, b] = await other.getMany(["pair/a", "pair/b"]);
            if (text(a?.value) !== text(b?.value) || a?.version !== b?.version) {
              torn.push(`getMany saw a=${text(a?.value)} b=${text(b?.value)}`);
            }
            const listed = await other.list({ prefix: "pair/" });
            if (text(listed[0]?.value) !== text(listed[1]?.value)) {
              torn.push(`list saw a=${text(listed[0]?.value)} b=${text(listed[1]?.value)}`);
            }
            reads++;
          }
          await writer;
          expect(torn).toEqual([]);
          expect(text((await other.get("pair/b"))?.value)).toBe("30");
        },
        timeout,
      );
    });

    describe("validation", () => {
      it(
        "a key twice in one commit is rejected with INVALID_ARGUMENT naming ops[i].key",
        async () => {
          const store = await open();
          await expectTroupeError(
            () =>
              store.commit([
                { type: "set", key: "a", value: bytes("1") },
                { type: "set", key: "b", value: bytes("2") },
                { type: "delete", key: "a" },
              ]),
            "INVALID_ARGUMENT",
            "ops[2].key",
          );
          expect(await store.list()).toEqual([]);
        },
        timeout,
      );

      it(
        "invalid keys are rejected with INVALID_ARGUMENT naming the field",
        async () => {
          const store = await open();
          const invalid: unknown[] = [
            "",
            "\ud800",
            "a\udc00b",
            "x".repeat(1025),
            "é".repeat(513),
            42,
            undefined,
            null,
          ];
          for (const key of invalid) {
            await expectTroupeError(() => store.get(key as string), "INVALID_ARGUMENT", "key");
            await expectTroupeError(
              () => store.getMany(["ok", key as string]),
              "INVALID_ARGUMENT",
              "keys[1]",
            );
            await expectTroupeError(
              () =>
                store.commit([
                  { type: "set", key: "ok", value: bytes("x") },
                  { type: "set", key: key as string, value: bytes("x") },
                ]),
              "INVALID_ARGUMENT",
              "ops[1].key",
            );
          }
          expect(await store.list()).toEqual([]);
        },
        timeout,
      );

      it(
        "keys of exactly 1024 UTF-8 bytes are accepted",
        async () => {
          const store = await open();
          const keys = ["x".repeat(1024), "é".repeat(512), "\u{1F600}".repeat(256)];
          await setAll(store, keys);
          for (const key of keys) expect((await store.get(key))?.key).toBe(key);
          expect(keysOf(await store.list())).toEqual([...keys].sort(byUtf8));
        },
        timeout,
      );

      it(
        "malformed ops are rejected with INVALID_ARGUMENT naming the field",
        async () => {
          const store = await open();
          const cases: [unknown, string][] = [
            [{ type: "set", key: "k", value: "not bytes" }, "ops[0].value"],
            [{ type: "set", key: "k", value: [1, 2] }, "ops[0].value"],
            [{ type: "set", key: "k", value: bytes("x"), expect: 0 }, "ops[0].expect"],
            [{ type: "set", key: "k", value: bytes("x"), expect: 1.5 }, "ops[0].expect"],
            [{ type: "delete", key: "k", expect: "present" }, "ops[0].expect"],
            [{ type: "check", key: "k" }, "ops[0].expect"],
            [{ type: "upsert", key: "k", value: bytes("x") }, "ops[0].type"],
          ];
          for (const [op, field] of cases) {
            await expectTroupeError(() => store.commit([op as StoreOp]), "INVALID_ARGUMENT", field);
          }
          expect(await store.list()).toEqual([]);
        },
        timeout,
      );

      it(
        "invalid list options are rejected with INVALID_ARGUMENT naming the option",
        async () => {
          const store = await open();
          await expectTroupeError(() => store.list({ limit: 0 }), "INVALID_ARGUMENT", "list.limit");
          await expectTroupeError(
            () => store.list({ limit: 1.5 }),
            "INVALID_ARGUMENT",
            "list.limit",
          );
          await expectTroupeError(
            () => store.list({ limit: -1 }),
            "INVALID_ARGUMENT",
            "list.limit",
          );
          await expectTroupeError(
            () => store.list({ start: "\ud800" }),
            "INVALID_ARGUMENT",
            "list.start",
          );
        },
        timeout,
      );
    });

    describe("ranges", () => {
      const twenty = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, "0")}`);
      const range = (from: number, to: number) => twenty.slice(from, to);

      it(
        "list returns keys in order, whatever order they were written in",
        async () => {
          const store = await open();
          // 7 is coprime with 20, so this visits every key once, out of order.
          const shuffled = twenty.map((_, i) => twenty[(i * 7) % twenty.length] as string);
          for (const key of shuffled) {
            await store.commit([{ type: "set", key, value: bytes(`value of ${key}`) }]);
          }
          const listed = await store.list();
          expect(keysOf(listed)).toEqual(twenty);
          expect(listed.map((entry) => text(entry.value))).toEqual(
            twenty.map((key) => `value of ${key}`),
          );
        },
        timeout,
      );

      it(
        "start is inclusive and end exclusive",
        async () => {
          const store = await open();
          await setAll(store, twenty);
          expect(keysOf(await store.list({ start: "k05" }))).toEqual(range(5, 20));
          expect(keysOf(await store.list({ end: "k05" }))).toEqual(range(0, 5));
          expect(keysOf(await store.list({ start: "k05", end: "k10" }))).toEqual(range(5, 10));
          expect(keysOf(await store.list({ start: "k05x", end: "k10x" }))).toEqual(range(6, 11));
          expect(keysOf(await store.list({ start: "k19" }))).toEqual(["k19"]);
          expect(await store.list({ start: "k07", end: "k07" })).toEqual([]);
          expect(await store.list({ start: "k10", end: "k05" })).toEqual([]);
          expect(await store.list({ start: "z" })).toEqual([]);
        },
        timeout,
      );

      it(
        "limit caps the result; reverse walks from the end, and with limit returns the last entries",
        async () => {
          const store = await open();
          await setAll(store, twenty);
          expect(keysOf(await store.list({ limit: 3 }))).toEqual(range(0, 3));
          expect(keysOf(await store.list({ limit: 100 }))).toEqual(twenty);
          expect(keysOf(await store.list({ reverse: true }))).toEqual([...twenty].reverse());
          expect(keysOf(await store.list({ reverse: true, limit: 3 }))).toEqual([
            "k19",
            "k18",
            "k17",
          ]);
          expect(keysOf(await store.list({ start: "k05", end: "k10", limit: 2 }))).toEqual([
            "k05",
            "k06",
          ]);
          expect(
            keysOf(await store.list({ start: "k05", end: "k10", reverse: true, limit: 2 })),
          ).toEqual(["k09", "k08"]);
          expect(keysOf(await store.list({ end: "k03", reverse: true }))).toEqual([
            "k02",
            "k01",
            "k00",
          ]);
        },
        timeout,
      );

      it(
        "paging with limit and keySuccessor (or end, in reverse) visits every key once",
        async () => {
          const store = await open();
          const keys = Array.from({ length: 250 }, (_, i) => `page/${String(i).padStart(4, "0")}`);
          for (let i = 0; i < keys.length; i += 100) await setAll(store, keys.slice(i, i + 100));
          await setAll(store, ["other/1", "pagf"]);
          const forward: string[] = [];
          let start: string | undefined;
          for (;;) {
            const page = await store.list({
              prefix: "page/",
              limit: 100,
              ...(start === undefined ? {} : { start }),
            });
            forward.push(...keysOf(page));
            const last = page.at(-1);
            if (page.length < 100 || !last) break;
            start = keySuccessor(last.key);
          }
          expect(forward).toEqual(keys);
          const backward: string[] = [];
          let end: string | undefined;
          for (;;) {
            const page = await store.list({
              prefix: "page/",
              limit: 100,
              reverse: true,
              ...(end === undefined ? {} : { end }),
            });
            backward.push(...keysOf(page));
            const last = page.at(-1);
            if (page.length < 100 || !last) break;
            end = last.key;
          }
          expect(backward).toEqual([...keys].reverse());
        },
        timeout,
      );

      it(
        'prefix "user/" does not match "user0" or "users/1", and "user/1" matches "user/10"',
        async () => {
          const store = await open();
          await setAll(store, [
            "users/1",
            "user/2",
            "user0",
            "user/10",
            "use",
            "user/1",
            "user/",
            "user/1/a",
            "user",
          ]);
          expect(keysOf(await store.list({ prefix: "user/" }))).toEqual([
            "user/",
            "user/1",
            "user/1/a",
            "user/10",
            "user/2",
          ]);
          expect(keysOf(await store.list({ prefix: "user/1" }))).toEqual([
            "user/1",
            "user/1/a",
            "user/10",
          ]);
          expect(keysOf(await store.list({ prefix: "user/1/" }))).toEqual(["user/1/a"]);
          expect(keysOf(await store.list({ prefix: "user" }))).toEqual([
            "user",
            "user/",
            "user/1",
            "user/1/a",
            "user/10",
            "user/2",
            "user0",
            "users/1",
          ]);
          expect(keysOf(await store.list({ prefix: "users" }))).toEqual(["users/1"]);
          expect(await store.list({ prefix: "nobody" })).toEqual([]);
          expect(keysOf(await store.list({ prefix: "user/", reverse: true, limit: 2 }))).toEqual([
            "user/2",
            "user/10",
          ]);
        },
        timeout,
      );

      it(
        "prefix combines with start and end as an intersection",
        async () => {
          const store = await open();
          await setAll(store, [
            "a",
            "user/",
            "user/1",
            "user/1/a",
            "user/10",
            "user/2",
            "user0",
            "z",
          ]);
          const list = async (start?: string, end?: string) =>
            keysOf(
              await store.list({
                prefix: "user/",
                ...(start === undefined ? {} : { start }),
                ...(end === undefined ? {} : { end }),
              }),
            );
          expect(await list("user/10")).toEqual(["user/10", "user/2"]);
          expect(await list(undefined, "user/2")).toEqual([
            "user/",
            "user/1",
            "user/1/a",
            "user/10",
          ]);
          expect(await list("user/1", "user/10")).toEqual(["user/1", "user/1/a"]);
          expect(await list("a", "zzz")).toEqual([
            "user/",
            "user/1",
            "user/1/a",
            "user/10",
            "user/2",
          ]);
          expect(await list("user0")).toEqual([]);
          expect(await list(undefined, "user")).toEqual([]);
        },
        timeout,
      );

      it(
        "prefixes holding SQL LIKE and glob wildcards match literally",
        async () => {
          const store = await open();
          await setAll(store, [
            "a%",
            "a%b",
            "a_",
            "a_b",
            "ab",
            "aXb",
            "a*",
            "a*b",
            "a?",
            "a[x]",
            "a\\",
            "a\\b",
            "a.b",
          ]);
          expect(keysOf(await store.list({ prefix: "a_" }))).toEqual(["a_", "a_b"]);
          expect(keysOf(await store.list({ prefix: "a%" }))).toEqual(["a%", "a%b"]);
          expect(keysOf(await store.list({ prefix: "a*" }))).toEqual(["a*", "a*b"]);
          expect(keysOf(await store.list({ prefix: "a?" }))).toEqual(["a?"]);
          expect(keysOf(await store.list({ prefix: "a[" }))).toEqual(["a[x]"]);
          expect(keysOf(await store.list({ prefix: "a\\" }))).toEqual(["a\\", "a\\b"]);
          expect(keysOf(await store.list({ prefix: "a." }))).toEqual(["a.b"]);
        },
        timeout,
      );
    });

    describe("keys and values", () => {
      const unusualKeys = [
        "\u0000",
        "a\u0000b",
        "a",
        "\u0001",
        "\u007f",
        "\u0080",
        "\u00ff",
        "\u0100",
        "é",
        "e\u0301",
        "中文",
        "日本語/キー",
        "\ue000",
        "\uffff",
        "\u{10000}",
        "\u{1F600}",
        "a\u{1F600}",
        "a\uffff",
        "\u{10FFFF}",
        "tab\there",
        "line\nbreak",
        "'quote\"",
      ];

      it(
        "binary-ish and unicode keys round-trip and list in UTF-8 byte order",
        async () => {
          const store = await open();
          await store.commit(
            unusualKeys.map((key, i) => ({ type: "set", key, value: bytes(String(i)) })),
          );
          for (const [i, key] of unusualKeys.entries()) {
            const entry = await store.get(key);
            expect(entry?.key, `key ${JSON.stringify(key)}`).toBe(key);
            expect(text(entry?.value), `value under ${JSON.stringify(key)}`).toBe(String(i));
          }
          const listed = keysOf(await store.list());
          expect(listed).toEqual([...unusualKeys].sort(byUtf8));
          // UTF-16 order would put astral characters (surrogates) before U+E000..U+FFFF.
          expect(listed.indexOf("\uffff")).toBeLessThan(listed.indexOf("\u{10000}"));
          expect(listed.indexOf("\ue000")).toBeLessThan(listed.indexOf("\u{1F600}"));
          expect(listed.indexOf("a\uffff")).toBeLessThan(listed.indexOf("a\u{1F600}"));
          // Keys are bytes, not text to normalise: composed and decomposed "é" stay two keys.
          expect(listed).toContain("é");
          expect(listed).toContain("e\u0301");
          expect(keysOf(await store.list({ reverse: true }))).toEqual([...listed].reverse());
        },
        timeout,
      );

      it(
        "ranges and prefixes over unicode keys follow UTF-8 byte order",
        async () => {
          const store = await open();
          await setAll(store, unusualKeys);
          const sorted = [...unusualKeys].sort(byUtf8);
          const between = (from: string, to: string) =>
            sorted.filter((key) => byUtf8(key, from) >= 0 && byUtf8(key, to) < 0);
          expect(keysOf(await store.list({ start: "\ue000", end: "\u{10000}" }))).toEqual(
            between("\ue000", "\u{10000}"),
          );
          expect(keysOf(await store.list({ start: "\uffff" }))).toEqual(
            sorted.filter((key) => byUtf8(key, "\uffff") >= 0),
          );
          expect(keysOf(await store.list({ start: "\u0000", end: "\u0001" }))).toEqual(["\u0000"]);
          expect(keysOf(await store.list({ prefix: "a" }))).toEqual(
            sorted.filter((key) => key.startsWith("a")),
          );
          expect(keysOf(await store.list({ prefix: "a\uffff" }))).toEqual(["a\uffff"]);
          expect(keysOf(await store.list({ prefix: "\u{1F600}" }))).toEqual(["\u{1F600}"]);
          expect(keysOf(await store.list({ prefix: "\u{10FFFF}" }))).toEqual(["\u{10FFFF}"]);
          expect(keysOf(await store.list({ prefix: "中" }))).toEqual(["中文"]);
        },
        timeout,
      );

      it(
        "a 1 MiB value of arbitrary bytes, zeros included, round-trips exactly",
        async () => {
          const store = await open();
          const value = pseudoRandomBytes(1024 * 1024);
          await store.commit([{ type: "set", key: "big", value }]);
          expectBytes((await store.get("big"))?.value, value, "get");
          expectBytes((await (await peer()).getMany(["big"]))[0]?.value, value, "getMany via peer");
          expectBytes((await store.list({ prefix: "big" }))[0]?.value, value, "list");
        },
        timeout,
      );

      it(
        "large batches work: a commit of 2,000 ops, getMany of 2,000 keys, list of 2,000 entries",
        async () => {
          const store = await open();
          const keys = Array.from({ length: 2000 }, (_, i) => `bulk/${String(i).padStart(5, "0")}`);
          const { version } = await store.commit(
            keys.map((key, i) => ({ type: "set", key, value: bytes(String(i)), expect: "absent" })),
          );
          const entries = await (await peer()).getMany(keys);
          expect(
            entries.every(
              (entry, i) => text(entry?.value) === String(i) && entry?.version === version,
            ),
          ).toBe(true);
          const listed = await store.list({ prefix: "bulk/" });
          expect(keysOf(listed)).toEqual(keys);
          await store.commit(keys.map((key) => ({ type: "delete", key, expect: version })));
          expect(await store.list()).toEqual([]);
        },
        timeout,
      );

      it(
        "an empty value is stored as an empty value, not as absent",
        async () => {
          const store = await open();
          const { version } = await store.commit([
            { type: "set", key: "empty", value: new Uint8Array(0) },
          ]);
          const entry = await store.get("empty");
          expect(entry?.version).toBe(version);
          expectBytes(entry?.value, new Uint8Array(0), "empty value");
          expect(keysOf(await store.list())).toEqual(["empty"]);
        },
        timeout,
      );

      it(
        "values are copies: mutating the input or the returned bytes changes nothing stored",
        async () => {
          const store = await open();
          const input = bytes("original");
          await store.commit([{ type: "set", key: "k", value: input }]);
          input.fill(0x21);
          const first = await store.get("k");
          expect(text(first?.value)).toBe("original");
          first?.value.fill(0x3f);
          expect(text((await store.get("k"))?.value)).toBe("original");
          const listed = await store.list();
          listed[0]?.value.fill(0x3f);
          expect(text((await store.get("k"))?.value)).toBe("original");
        },
        timeout,
      );

      it(
        "a value that is a view into a larger buffer stores only the view's bytes",
        async () => {
          const store = await open();
          const backing = bytes("xxxxhelloyyyy");
          const view = backing.subarray(4, 9);
          await store.commit([{ type: "set", key: "view", value: view }]);
          expectBytes((await store.get("view"))?.value, bytes("hello"), "view");
          const node = Buffer.from("a buffer value");
          await store.commit([{ type: "set", key: "buffer", value: node }]);
          expectBytes((await store.get("buffer"))?.value, bytes("a buffer value"), "Buffer input");
        },
        timeout,
      );
    });

    describe("against a reference model", () => {
      it(
        "random guarded commits and range reads agree with a reference model",
        async () => {
          const store = await open();
          const other = await peer();
          const random = createRandom(0x5eed_0001);
          const pool = [
            "a",
            "a/",
            "a/b",
            "a/b/c",
            "a0",
            "ab",
            "b",
            "b\u0000",
            "\u00ff",
            "\uffff",
            "\u{1F600}",
            "中",
          ];
          const prefixes = ["a", "a/", "a/b", "b", "\u{1F600}", "z"];
          const model = new Map<string, { value: string; version: number }>();
          let lastVersion = 0;
          const current = (key: string): Expectation => model.get(key)?.version ?? "absent";
          for (let step = 0; step < 80; step++) {
            const handle = step % 2 === 0 ? store : other;
            const ops: StoreOp[] = random.sample(pool, 1 + random.int(4)).map((key, i) => {
              const type = random.pick(["set", "set", "delete", "check"] as const);
              const roll = random.int(4);
              const actual = current(key);
              // 0: no guard; 1-2: the right guard; 3: a wrong one (a version nobody has yet).
              const guard: Expectation | undefined =
                type !== "check" && roll === 0
                  ? undefined
                  : roll === 3
                    ? actual === "absent"
                      ? lastVersion + 1
                      : "absent"
                    : actual;
              if (type === "set") {
                const value = bytes(`s${step}o${i}`);
                return guard === undefined
                  ? { type, key, value }
                  : { type, key, value, expect: guard };
              }
              if (type === "delete")
                return guard === undefined ? { type, key } : { type, key, expect: guard };
              return { type, key, expect: guard ?? actual };
            });
            const failing = ops.filter(
              (op) => op.expect !== undefined && op.expect !== current(op.key),
            );
            const where = `step ${step}: ${JSON.stringify(ops.map((op) => [op.type, op.key, op.expect]))}`;
            try {
              const result = await handle.commit(ops);
              expect(
                failing.map((op) => op.key),
                `${where} should have failed`,
              ).toEqual([]);
              if (ops.every((op) => op.type === "check")) {
                expect(result.version, where).toBe(0);
              } else {
                expect(result.version, where).toBeGreaterThan(lastVersion);
                lastVersion = result.version;
              }
              for (const op of ops) {
                if (op.type === "set")
                  model.set(op.key, { value: text(op.value) ?? "", version: result.version });
                if (op.type === "delete") model.delete(op.key);
              }
            } catch (error) {
              if (!StoreConflictError.isInstance(error)) throw error;
              const failed = failing.find((op) => op.key === error.key);
              expect(
                failed,
                `${where}: conflict on ${JSON.stringify(error.key)}, whose guard holds`,
              ).toBeDefined();
              expect([error.expected, error.actual], where).toEqual([
                failed?.expect,
                current(error.key),
              ]);
            }
            const prefix = random.int(3) === 0 ? random.pick(prefixes) : undefined;
            const start = random.int(3) === 0 ? random.pick(pool) : undefined;
            const end = random.int(3) === 0 ? random.pick(pool) : undefined;
            const limit = random.pick([undefined, 1, 2, 5]);
            const reverse = random.int(2) === 0;
            const options = {
              ...(prefix === undefined ? {} : { prefix }),
              ...(start === undefined ? {} : { start }),
              ...(end === undefined ? {} : { end }),
              ...(limit === undefined ? {} : { limit }),
              reverse,
            };
            let expected = [...model.keys()]
              .filter(
                (key) =>
                  (prefix === undefined || key.startsWith(prefix)) &&
                  (start === undefined || byUtf8(key, start) >= 0) &&
                  (end === undefined || byUtf8(key, end) < 0),
              )
              .sort(byUtf8);
            if (reverse) expected.reverse();
            if (limit !== undefined) expected = expected.slice(0, limit);
            const listed = await (step % 3 === 0 ? store : other).list(options);
            expect(
              listed.map((entry) => [entry.key, text(entry.value), entry.version]),
              `step ${step}: list(${JSON.stringify(options)})`,
            ).toEqual(expected.map((key) => [key, model.get(key)?.value, model.get(key)?.version]));
          }
          const all = await store.getMany(pool);
          expect(all.map((entry) => entry && [text(entry.value), entry.version])).toEqual(
            pool.map((key) => {
              const entry = model.get(key);
              return entry && [entry.value, entry.version];
            }),
          );
        },
        timeout,
      );
    });

    describe("closing", () => {
      it(
        "after close() every call fails with code CLOSED, and close is idempotent",
        async () => {
          const store = await open();
          await store.commit([{ type: "set", key: "k", value: bytes("v") }]);
          await store.close();
          await expectTroupeError(() => store.get("k"), "CLOSED");
          await expectTroupeError(() => store.getMany(["k"]), "CLOSED");
          await expectTroupeError(() => store.list(), "CLOSED");
          await expectTroupeError(
            () => store.commit([{ type: "set", key: "k", value: bytes("w") }]),
            "CLOSED",
          );
          await store.close();
        },
        timeout,
      );

      if (options.openPeer) {
        it(
          "closing one handle leaves the peer working",
          async () => {
            const [store, other] = await harness().distinctPair();
            await store.commit([{ type: "set", key: "k", value: bytes("v") }]);
            await store.close();
            expect(text((await other.get("k"))?.value)).toBe("v");
            await other.commit([{ type: "set", key: "k2", value: bytes("w") }]);
            expect(keysOf(await other.list())).toEqual(["k", "k2"]);
          },
          timeout,
        );
      }
    });

    if (options.reopen) {
      describe("durability", () => {
        it(
          "data, versions and deletions survive close and reopen",
          async () => {
            const store = await open();
            const unicode = "ключ/\u{1F600}/\u0000";
            const v1 = (
              await store.commit([
                { type: "set", key: "a", value: bytes("A") },
                { type: "set", key: "b", value: bytes("B") },
                { type: "set", key: unicode, value: pseudoRandomBytes(4096) },
              ])
            ).version;
            const v2 = (
              await store.commit([
                { type: "delete", key: "b" },
                { type: "set", key: "c", value: new Uint8Array(0) },
              ])
            ).version;
            const before = await store.list();
            const reopened = await harness().reopen();
            const after = await reopened.list();
            expect(keysOf(after)).toEqual(keysOf(before));
            expect(after.map((entry) => entry.version)).toEqual([v1, v2, v1]);
            expectBytes(
              (await reopened.get(unicode))?.value,
              pseudoRandomBytes(4096),
              "unicode key",
            );
            expectBytes((await reopened.get("c"))?.value, new Uint8Array(0), "empty value");
            expect(await reopened.get("b")).toBeUndefined();
          },
          timeout,
        );

        it(
          "after reopen, new commits get versions greater than any before, even deleted ones",
          async () => {
            const store = await open();
            await store.commit([{ type: "set", key: "a", value: bytes("1") }]);
            const newest = (await store.commit([{ type: "set", key: "b", value: bytes("2") }]))
              .version;
            await store.commit([{ type: "delete", key: "b" }]);
            const reopened = await harness().reopen();
            const next = await reopened.commit([
              { type: "set", key: "b", value: bytes("3"), expect: "absent" },
            ]);
            expect(next.version).toBeGreaterThan(newest);
            await expectConflict(
              () =>
                reopened.commit([{ type: "set", key: "b", value: bytes("stale"), expect: newest }]),
              "b",
              newest,
              next.version,
            );
          },
          timeout,
        );
      });
    }
  });
}
