import { createMemoryStore, type Store, StoreConflictError, utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createCommitBatcher } from "./commit-batcher.js";

function countingStore(): { store: Store; commits: () => number } {
  const inner = createMemoryStore();
  let commits = 0;
  return {
    store: {
      ...inner,
      name: inner.name,
      commit: (ops) => {
        commits++;
        return inner.commit(ops);
      },
    },
    commits: () => commits,
  };
}

describe("createCommitBatcher", () => {
  it("merges concurrent commits into one and gives each the shared version", async () => {
    const { store, commits } = countingStore();
    const batcher = createCommitBatcher(store);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        batcher.commit([{ type: "set", key: `k${index}`, value: utf8("v"), expect: "absent" }]),
      ),
    );
    expect(commits()).toBe(1);
    expect(new Set(results.map((result) => result.version)).size).toBe(1);
    expect(await store.list({ prefix: "k" })).toHaveLength(20);
  });

  it("rejects only the commit whose guard failed and commits the others", async () => {
    const { store } = countingStore();
    await store.commit([{ type: "set", key: "taken", value: utf8("old") }]);
    const batcher = createCommitBatcher(store);
    const outcomes = await Promise.allSettled([
      batcher.commit([{ type: "set", key: "a", value: utf8("1"), expect: "absent" }]),
      batcher.commit([{ type: "set", key: "taken", value: utf8("new"), expect: "absent" }]),
      batcher.commit([{ type: "set", key: "b", value: utf8("2"), expect: "absent" }]),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    const failure = outcomes[1];
    expect(failure?.status === "rejected" && StoreConflictError.isInstance(failure.reason)).toBe(
      true,
    );
    expect((await store.getMany(["a", "b", "taken"])).map((entry) => entry?.value)).toEqual([
      utf8("1"),
      utf8("2"),
      utf8("old"),
    ]);
  });

  it("never puts two commits of one key in the same batch", async () => {
    const { store } = countingStore();
    const batcher = createCommitBatcher(store);
    const first = await batcher.commit([{ type: "set", key: "run", value: utf8("0") }]);
    const [one, two] = await Promise.allSettled([
      batcher.commit([{ type: "set", key: "run", value: utf8("1"), expect: first.version }]),
      batcher.commit([{ type: "set", key: "run", value: utf8("2"), expect: first.version }]),
    ]);
    expect(one?.status).toBe("fulfilled");
    expect(two?.status).toBe("rejected");
    expect((await store.get("run"))?.value).toEqual(utf8("1"));
  });
});
