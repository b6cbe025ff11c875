import { createMemoryStore, type Store, TroupeError, utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createReadBatcher } from "./read-batcher.js";

/** A memory store that counts its reads; `failing` makes the next read reject. */
function countingStore() {
  const inner = createMemoryStore();
  const counts = { get: 0, getMany: 0, list: 0, listMany: 0, getManyKeys: [] as number[] };
  let failNext = false;
  const store: Store = {
    ...inner,
    name: inner.name,
    get: (key) => {
      counts.get++;
      if (failNext) {
        failNext = false;
        return Promise.reject(new TroupeError("UNAVAILABLE", "store down"));
      }
      return inner.get(key);
    },
    getMany: (keys) => {
      counts.getMany++;
      counts.getManyKeys.push(keys.length);
      if (failNext) {
        failNext = false;
        return Promise.reject(new TroupeError("UNAVAILABLE", "store down"));
      }
      return inner.getMany(keys);
    },
    list: (options) => {
      counts.list++;
      if (failNext) {
        failNext = false;
        return Promise.reject(new TroupeError("UNAVAILABLE", "store down"));
      }
      return inner.list(options);
    },
    listMany: async (ranges) => {
      counts.listMany++;
      return Promise.all(ranges.map((options) => inner.list(options)));
    },
  };
  return { store, counts, failNextRead: () => (failNext = true) };
}

const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : new TextDecoder().decode(value);

describe("createReadBatcher", () => {
  it("sends a get at once, and the gets asked meanwhile as one getMany after it", async () => {
    const { store, counts } = countingStore();
    await store.commit(
      Array.from({ length: 30 }, (_, index) => ({
        type: "set" as const,
        key: `k${index}`,
        value: utf8(`v${index}`),
      })),
    );
    const reads = createReadBatcher(store);
    const entries = await Promise.all(
      Array.from({ length: 40 }, (_, index) => reads.get(`k${index}`)),
    );
    expect(counts.get).toBe(1);
    expect(counts.getManyKeys).toEqual([39]);
    expect(entries.map((entry) => text(entry?.value))).toEqual(
      Array.from({ length: 40 }, (_, index) => (index < 30 ? `v${index}` : undefined)),
    );
  });

  it("a read alone goes out at once, as a plain get, with nothing to wait for", async () => {
    const { store, counts } = countingStore();
    await store.commit([{ type: "set", key: "a", value: utf8("1") }]);
    const reads = createReadBatcher(store);
    for (let n = 0; n < 5; n++) expect(text((await reads.get("a"))?.value)).toBe("1");
    expect(counts.get).toBe(5);
    expect(counts.getMany).toBe(0);
  });

  it("never answers a read with data from before the call: a commit before it is seen", async () => {
    const { store } = countingStore();
    const reads = createReadBatcher(store);
    await store.commit([{ type: "set", key: "w/e/1", value: utf8("old") }]);
    const early = reads.list({ prefix: "w/e/" });
    const earlyGet = reads.get("w/e/1");
    await new Promise((resolve) => setImmediate(resolve)); // both reads are in flight
    await store.commit([
      { type: "set", key: "w/e/1", value: utf8("new") },
      { type: "set", key: "w/e/2", value: utf8("new") },
    ]);
    // Asked after the commit: must not join the reads already in flight.
    const late = await reads.list({ prefix: "w/e/" });
    const lateGet = await reads.get("w/e/1");
    expect(late.map((entry) => [entry.key, text(entry.value)])).toEqual([
      ["w/e/1", "new"],
      ["w/e/2", "new"],
    ]);
    expect(text(lateGet?.value)).toBe("new");
    expect((await early).map((entry) => text(entry.value))).toEqual(["old"]);
    expect(text((await earlyGet)?.value)).toBe("old");
  });

  it("shares one list among the callers of the same range, not across ranges", async () => {
    const { store, counts } = countingStore();
    await store.commit([
      { type: "set", key: "w/a/1", value: utf8("x") },
      { type: "set", key: "w/b/1", value: utf8("y") },
    ]);
    const reads = createReadBatcher(store);
    const results = await Promise.all([
      ...Array.from({ length: 25 }, () => reads.list({ prefix: "w/a/" })),
      ...Array.from({ length: 25 }, () => reads.list({ prefix: "w/b/" })),
      reads.list({ prefix: "w/a/", limit: 1 }),
    ]);
    // Per range: the first caller's read, then one for everyone who asked while it was out.
    expect(counts.list).toBe(5);
    expect(results.slice(0, 25).every((r) => r.length === 1 && r[0]?.key === "w/a/1")).toBe(true);
    expect(results.slice(25, 50).every((r) => r.length === 1 && r[0]?.key === "w/b/1")).toBe(true);
    // Each caller has its own array.
    results[0]?.pop();
    expect(results[1]).toHaveLength(1);
  });

  it("rejects every caller of a failed read, and the next read works", async () => {
    const { store, failNextRead } = countingStore();
    await store.commit([{ type: "set", key: "a", value: utf8("1") }]);
    const reads = createReadBatcher(store);
    // A read alone fails: only its caller sees it.
    failNextRead();
    const alone = await Promise.allSettled([reads.get("a"), reads.get("a"), reads.get("a")]);
    expect(alone.map((outcome) => outcome.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    // A merged getMany fails: every caller in it sees it.
    const first = reads.get("a");
    failNextRead();
    const merged = await Promise.allSettled([reads.get("a"), reads.get("a")]);
    expect(text((await first)?.value)).toBe("1");
    expect(merged.map((outcome) => outcome.status)).toEqual(["rejected", "rejected"]);
    expect(text((await reads.get("a"))?.value)).toBe("1");
    // The same for a shared list.
    const firstList = reads.list({ prefix: "" });
    failNextRead();
    const lists = await Promise.allSettled([
      reads.list({ prefix: "" }),
      reads.list({ prefix: "" }),
    ]);
    expect(await firstList).toHaveLength(1);
    expect(lists.map((outcome) => outcome.status)).toEqual(["rejected", "rejected"]);
    expect(await reads.list({ prefix: "" })).toHaveLength(1);
  });

  it("lists several ranges with one listMany, and callers of the same ranges share it", async () => {
    const { store, counts } = countingStore();
    await store.commit([
      { type: "set", key: "wp/e/data.id", value: utf8("{}") },
      { type: "set", key: "w/e/1", value: utf8("wait") },
    ]);
    const reads = createReadBatcher(store);
    const ranges = [{ prefix: "wp/e/" }, { prefix: "w/e/" }];
    const all = await Promise.all(Array.from({ length: 5 }, () => reads.listMany(ranges)));
    // The first goes out at once; the four asked meanwhile share the next.
    expect(counts.listMany).toBe(2);
    expect(counts.list).toBe(0);
    for (const [markers, waits] of all) {
      expect(markers?.map((entry) => entry.key)).toEqual(["wp/e/data.id"]);
      expect(waits?.map((entry) => entry.key)).toEqual(["w/e/1"]);
    }
    // A single range still goes out as a plain list.
    await reads.list({ prefix: "w/e/" });
    expect(counts.list).toBe(1);
  });
});
