import { createMemoryStore, type Store } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createDecisionStore } from "./decision-store.js";

describe("decision records", () => {
  it("deletes the records finished while a deletion is in flight together, in one commit", async () => {
    const inner = createMemoryStore();
    const commits: number[] = [];
    let release: (() => void) | undefined;
    const store: Store = {
      ...inner,
      async commit(ops) {
        if (ops.every((op) => op.type === "delete")) {
          commits.push(ops.length);
          if (commits.length === 1) await new Promise<void>((resolve) => (release = resolve));
        }
        return inner.commit(ops);
      },
    };
    const records = createDecisionStore(store);
    const refs = [{ type: "Account", key: 1 }];
    for (const id of ["a", "b", "c", "d"]) expect(await records.decide(id, refs, 0)).toBe(true);
    const first = records.finish("a");
    // "a" is being deleted; the next three wait and leave together.
    const rest = ["b", "c", "d"].map((id) => records.finish(id));
    release?.();
    await Promise.all([first, ...rest]);
    expect(commits).toEqual([1, 3]);
    expect(await inner.list({ prefix: records.prefix })).toEqual([]);
  });

  it("tells every caller of a failed batch that its deletion failed", async () => {
    const inner = createMemoryStore();
    const store: Store = {
      ...inner,
      async commit(ops) {
        if (ops.some((op) => op.type === "delete")) throw new Error("store down");
        return inner.commit(ops);
      },
    };
    const records = createDecisionStore(store);
    await expect(records.finish("a")).rejects.toThrow("store down");
    // The finisher is not stuck after a failure.
    await expect(records.finish("b")).rejects.toThrow("store down");
  });
});
