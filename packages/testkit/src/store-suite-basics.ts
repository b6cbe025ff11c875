import type { StoreOp } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectConflict, text } from "./assertions.js";
import { keysOf, type StoreSuiteScope, setAll } from "./store-suite-scope.js";

/** Registers the Store conformance tests for reads and writes, versions and guarded commits. */
export function describeStoreBasics(scope: StoreSuiteScope): void {
  const { open, peer, timeout } = scope;
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
        const { version } = await store.commit([{ type: "set", key: "shared", value: bytes("x") }]);
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
            store.commit([{ type: "set", key: "k", value: bytes("stale"), expect: first.version }]),
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
          () => store.commit([{ type: "set", key: "k", value: bytes("second"), expect: "absent" }]),
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
        const v2 = (await store.commit([{ type: "set", key: "k", value: bytes("2"), expect: v1 }]))
          .version;
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
}
