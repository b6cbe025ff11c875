import { createMemoryStore, listRanges, type Store, utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { deferStore } from "./deferred-ports.js";

describe("deferStore", () => {
  it("forwards listMany to the adapter's, once it has opened", async () => {
    const inner = createMemoryStore();
    await inner.commit([
      { type: "set", key: "a/1", value: utf8("1") },
      { type: "set", key: "b/1", value: utf8("2") },
    ]);
    let calls = 0;
    const withListMany: Store = {
      ...inner,
      listMany: (ranges) => {
        calls++;
        return Promise.all(ranges.map((range) => inner.list(range)));
      },
    };
    const deferred = deferStore("memory", Promise.resolve(withListMany));
    const listed = await listRanges(deferred, [{ prefix: "b/" }, { prefix: "a/" }]);
    expect(listed.map((entries) => entries.map((entry) => entry.key))).toEqual([["b/1"], ["a/1"]]);
    expect(calls).toBe(1);
    // An adapter without it is listed range by range.
    const plain = deferStore("memory", Promise.resolve(inner));
    expect((await listRanges(plain, [{ prefix: "a/" }]))[0]?.map((entry) => entry.key)).toEqual([
      "a/1",
    ]);
  });
});
