import { type Store, StoreConflictError, type StoreOp } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError, text } from "./assertions.js";
import { byUtf8, keysOf, type StoreSuiteScope, setAll } from "./store-suite-scope.js";

/** Registers the Store conformance tests for concurrency across connections and input validation. */
export function describeStoreConcurrency(scope: StoreSuiteScope): void {
  const { open, peer, timeout } = scope;
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
            expect(StoreConflictError.isInstance(result.reason), String(result.reason)).toBe(true);
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
        await expectTroupeError(() => store.list({ limit: 1.5 }), "INVALID_ARGUMENT", "list.limit");
        await expectTroupeError(() => store.list({ limit: -1 }), "INVALID_ARGUMENT", "list.limit");
        await expectTroupeError(
          () => store.list({ start: "\ud800" }),
          "INVALID_ARGUMENT",
          "list.start",
        );
      },
      timeout,
    );
  });
}
