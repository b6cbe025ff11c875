import {
  createMemoryStore,
  type PairedCommit,
  type PairedNotice,
  type Store,
  StoreConflictError,
  utf8,
} from "@troupe/core";
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

  it("announces the texts of one merged commit as one notice, in its transaction", async () => {
    const { store } = countingStore();
    const calls: { notices: readonly PairedNotice[] | undefined; ops: number }[] = [];
    const paired: PairedCommit = async (ops, _items, options) => {
      calls.push({ notices: options?.notices, ops: ops.length });
      return { ...(await store.commit(ops)), leases: [], acked: [] };
    };
    const batcher = createCommitBatcher(store, {
      paired,
      announce: (texts) => [{ channel: "finished", payload: texts.join("\n") }],
    });
    expect(batcher.announces).toBe(true);
    await Promise.all([
      batcher.commit([{ type: "set", key: "r1", value: utf8("done") }], { announce: ["r1"] }),
      batcher.commit([{ type: "set", key: "r2", value: utf8("done") }], { announce: ["r2"] }),
      batcher.commit([{ type: "set", key: "x", value: utf8("other") }]),
    ]);
    expect(calls).toEqual([{ notices: [{ channel: "finished", payload: "r1\nr2" }], ops: 3 }]);
    // Without a way to announce, an announcement is refused rather than dropped.
    const plain = createCommitBatcher(store, { paired });
    expect(plain.announces).toBe(false);
    await expect(
      plain.commit([{ type: "set", key: "r3", value: utf8("done") }], { announce: ["r3"] }),
    ).rejects.toMatchObject({ code: "INTERNAL" });
  });
});
