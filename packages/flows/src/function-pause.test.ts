import { createMemoryStore, type Store } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFunctionPauses } from "./function-pause.js";

/** A memory store that counts its `list` calls. */
function countingStore(): { store: Store; lists: () => number } {
  const inner = createMemoryStore();
  let lists = 0;
  return {
    store: {
      ...inner,
      name: inner.name,
      list: (options) => {
        lists++;
        return inner.list(options);
      },
    },
    lists: () => lists,
  };
}

describe("createFunctionPauses", () => {
  it("refreshes once for all the callers that find the cache stale together", async () => {
    const { store, lists } = countingStore();
    let now = 0;
    const pauses = createFunctionPauses(store, "p/", () => now);
    await pauses.pause("f");
    const first = await Promise.all(Array.from({ length: 50 }, () => pauses.paused()));
    expect(lists()).toBe(1);
    expect(first.every((ids) => ids.has("f"))).toBe(true);
    now += 1000; // stale again
    await Promise.all(Array.from({ length: 50 }, () => pauses.paused()));
    expect(lists()).toBe(2);
  });

  it("a pause during a refresh is not hidden by the refresh's older read", async () => {
    const { store } = countingStore();
    const pauses = createFunctionPauses(store, "p/", () => 0);
    const stale = pauses.paused();
    await pauses.pause("f");
    await stale;
    expect((await pauses.paused()).has("f")).toBe(true);
  });
});
