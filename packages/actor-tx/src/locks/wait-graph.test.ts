import { describe, expect, it } from "vitest";
import { describeCycle, findDeadlock, type Waiter } from "./wait-graph.js";

const w = (owner: string, lock: string, since: number): Waiter => ({
  owner,
  lock,
  since,
  node: "n",
});

describe("wait-for graph", () => {
  it("finds a two-way cycle and picks the youngest waiter", () => {
    const waiters = [w("a", "y", 1), w("b", "x", 2)];
    const holders = new Map([
      ["x", ["a"]],
      ["y", ["b"]],
    ]);
    const found = findDeadlock("a", waiters, holders);
    expect(found?.victim.owner).toBe("b");
    expect(findDeadlock("b", waiters, holders)?.victim.owner).toBe("b");
    expect(found && describeCycle(found)).toBe(
      'a waits for "y" held by b → b waits for "x" held by a',
    );
  });

  it("finds a three-way cycle through readers and writers", () => {
    const waiters = [w("a", "y", 5), w("b", "z", 3), w("c", "x", 4)];
    const holders = new Map([
      ["x", ["a", "r"]],
      ["y", ["b"]],
      ["z", ["c"]],
    ]);
    const found = findDeadlock("b", waiters, holders);
    expect(found?.cycle.map((s) => s.owner)).toEqual(["b", "c", "a"]);
    expect(found?.victim.owner).toBe("a");
  });

  it("sees no deadlock in a chain or when the holder is not waiting", () => {
    expect(
      findDeadlock(
        "a",
        [w("a", "y", 1), w("b", "z", 2)],
        new Map([
          ["y", ["b"]],
          ["z", ["c"]],
        ]),
      ),
    ).toBeUndefined();
    expect(findDeadlock("a", [w("a", "y", 1)], new Map([["y", ["a"]]]))).toBeUndefined();
    expect(findDeadlock("zz", [], new Map())).toBeUndefined();
  });
});
