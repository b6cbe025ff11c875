import { describe, expect, it } from "vitest";
import { utf8 } from "./codec.js";
import { TroupeError } from "./errors.js";
import { createMemoryStore } from "./memory/memory-store.js";
import { type ListOptions, listRanges, type Store } from "./store.js";

/** A memory store with a `listMany`, counting the calls to `list` and `listMany`. */
async function countingStore() {
  const inner = createMemoryStore();
  await inner.commit([
    { type: "set", key: "a/1", value: utf8("1") },
    { type: "set", key: "b/1", value: utf8("2") },
  ]);
  const calls = { list: 0, listMany: 0 };
  const store: Pick<Store, "list" | "listMany"> = {
    list: (options) => {
      calls.list++;
      return inner.list(options);
    },
    listMany: (ranges) => {
      calls.listMany++;
      return Promise.all(ranges.map((range) => inner.list(range)));
    },
  };
  return { store, calls };
}

const keys = (listed: { key: string }[][]) => listed.map((entries) => entries.map((e) => e.key));

describe("listRanges", () => {
  it("lists a lone range with one `list`, even when the adapter has `listMany`", async () => {
    const { store, calls } = await countingStore();
    expect(keys(await listRanges(store, [{ prefix: "b/" }]))).toEqual([["b/1"]]);
    expect(calls).toEqual({ list: 1, listMany: 0 });
  });

  it("lists several ranges with one `listMany` when the adapter has it", async () => {
    const { store, calls } = await countingStore();
    expect(keys(await listRanges(store, [{ prefix: "b/" }, { prefix: "a/" }]))).toEqual([
      ["b/1"],
      ["a/1"],
    ]);
    expect(calls).toEqual({ list: 0, listMany: 1 });
  });

  it("rejects a lone range that is not list options, naming ranges[0]", async () => {
    const { store, calls } = await countingStore();
    const error = await listRanges(store, [null as unknown as ListOptions]).catch((e) => e);
    expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
    expect((error as TroupeError).details).toMatchObject({ field: "ranges[0]" });
    expect(calls).toEqual({ list: 0, listMany: 0 });
  });
});
