import { type ListOptions, listRanges } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { bytes, expectTroupeError, text } from "./assertions.js";
import { keysOf, type StoreSuiteScope, setAll } from "./store-suite-scope.js";

/**
 * Registers the Store conformance tests for listing several ranges at once (`listRanges`, which
 * uses the adapter's `listMany` when it has one and one `list` per range otherwise).
 */
export function describeStoreListMany(scope: StoreSuiteScope): void {
  const { open, timeout } = scope;
  describe("several ranges at once", () => {
    const keys = [
      "a/1",
      "a/2",
      "a/3",
      "ab",
      "b/1",
      "b/2",
      "c/é",
      "c/z",
      "w/evt/1",
      "wk/evt/p/h/r/s",
      "wp/evt/data.id",
    ];

    it(
      "each range comes back as list returns it, in the order the ranges were given",
      async () => {
        const store = await open();
        await setAll(store, keys);
        const ranges: ListOptions[] = [
          { prefix: "wp/evt/" },
          { prefix: "w/evt/" },
          { prefix: "a/" },
          {},
          { start: "a/2", end: "b/2" },
          { prefix: "a/", reverse: true, limit: 2 },
          { start: "b", limit: 1 },
          { end: "ab", reverse: true },
          { prefix: "c/" },
          { prefix: "none/" },
          { start: "b/2", end: "a/2" },
        ];
        const listed = await listRanges(store, ranges);
        expect(listed).toHaveLength(ranges.length);
        for (const [index, options] of ranges.entries()) {
          expect(keysOf(listed[index] ?? [])).toEqual(keysOf(await store.list(options)));
        }
        expect(keysOf(listed[0] ?? [])).toEqual(["wp/evt/data.id"]);
        expect(keysOf(listed[1] ?? [])).toEqual(["w/evt/1"]);
        expect(keysOf(listed[5] ?? [])).toEqual(["a/3", "a/2"]);
        expect(listed[9]).toEqual([]);
        expect(listed[10]).toEqual([]);
        const entry = listed[2]?.[0];
        expect(text(entry?.value)).toBe("value of a/1");
        expect(entry?.version).toBe((await store.get("a/1"))?.version);
      },
      timeout,
    );

    it(
      "no ranges give no arrays; the same range twice gives two copies of its entries",
      async () => {
        const store = await open();
        await setAll(store, keys);
        expect(await listRanges(store, [])).toEqual([]);
        const [first, second] = await listRanges(store, [{ prefix: "b/" }, { prefix: "b/" }]);
        expect(keysOf(first ?? [])).toEqual(["b/1", "b/2"]);
        expect(keysOf(second ?? [])).toEqual(["b/1", "b/2"]);
        const value = first?.[0]?.value;
        if (value) value[0] = 0;
        expect(text(second?.[0]?.value)).toBe("value of b/1");
        expect(text((await store.get("b/1"))?.value)).toBe("value of b/1");
      },
      timeout,
    );

    it(
      "sees every commit that finished before the call",
      async () => {
        const store = await open();
        await setAll(store, ["w/evt/1"]);
        await store.commit([
          { type: "set", key: "wp/evt/data.id", value: bytes("{}") },
          { type: "delete", key: "w/evt/1" },
          { type: "set", key: "w/evt/2", value: bytes("two") },
        ]);
        const [markers, waits] = await listRanges(store, [
          { prefix: "wp/evt/" },
          { prefix: "w/evt/" },
        ]);
        expect(keysOf(markers ?? [])).toEqual(["wp/evt/data.id"]);
        expect(keysOf(waits ?? [])).toEqual(["w/evt/2"]);
      },
      timeout,
    );

    it(
      "bad options in any range are rejected with INVALID_ARGUMENT",
      async () => {
        const store = await open();
        await expectTroupeError(
          () => listRanges(store, [{ prefix: "a/" }, { limit: 0 }]),
          "INVALID_ARGUMENT",
          "list.limit",
        );
        await expectTroupeError(
          () => listRanges(store, [{ start: "" }]),
          "INVALID_ARGUMENT",
          "list.start",
        );
        await expectTroupeError(
          () => listRanges(store, "a/" as unknown as ListOptions[]),
          "INVALID_ARGUMENT",
          "ranges",
        );
      },
      timeout,
    );
  });
}
