import { type Expectation, StoreConflictError, type StoreOp } from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  bytes,
  createRandom,
  expectBytes,
  expectConflict,
  expectTroupeError,
  pseudoRandomBytes,
  text,
} from "./assertions.js";
import { byUtf8, keysOf, type StoreSuiteScope } from "./store-suite-scope.js";

/** Registers the Store conformance tests for a randomized run against a reference model, closing and durability. */
export function describeStoreModel(scope: StoreSuiteScope): void {
  const { open, peer, harness, timeout, options } = scope;
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
          expectBytes((await reopened.get(unicode))?.value, pseudoRandomBytes(4096), "unicode key");
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
}
