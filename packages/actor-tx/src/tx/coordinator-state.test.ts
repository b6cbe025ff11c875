import { describe, expect, it } from "vitest";
import {
  advanceCoordinator,
  beginCoordinator,
  type CoordinatorState,
  chooseCommit,
} from "./coordinator-state.js";

const a = { type: "Account", key: 1 };
const b = { type: "Account", key: 2 };

function steps(state: CoordinatorState, ...refs: (typeof a)[]) {
  let current = state;
  const numbers: number[] = [];
  for (const ref of refs) {
    const next = advanceCoordinator(current, { type: "step", ref });
    current = next.state;
    const effect = next.effects[0];
    if (effect?.type === "prepare") numbers.push(effect.step);
  }
  return { state: current, numbers };
}

describe("coordinator transitions", () => {
  it("numbers each participant's steps and logs the commit with every participant", () => {
    const { state, numbers } = steps(beginCoordinator("t", 1_000), a, b, a);
    expect(numbers).toEqual([0, 0, 1]);
    const done = advanceCoordinator(state, { type: "body-done", now: 10 });
    expect(done.state.phase).toBe("deciding");
    expect(done.effects).toEqual([{ type: "log-commit", participants: [a, b] }]);
    const decided = advanceCoordinator(done.state, { type: "decided", granted: true });
    expect(decided.effects).toEqual([{ type: "commit", participants: [a, b] }]);
    const end = advanceCoordinator(decided.state, { type: "delivered" });
    expect(end.state.outcome).toBe("committed");
  });

  it("aborts every participant when the body fails, the deadline passed, or the commit is refused", () => {
    const { state } = steps(beginCoordinator("t", 1_000), a, b);
    expect(advanceCoordinator(state, { type: "failed" }).effects).toEqual([
      { type: "abort", participants: [a, b] },
    ]);
    expect(advanceCoordinator(state, { type: "body-done", now: 1_001 }).state.phase).toBe(
      "aborting",
    );
    const deciding = advanceCoordinator(state, { type: "body-done", now: 1 }).state;
    const refused = advanceCoordinator(deciding, { type: "decided", granted: false });
    expect(refused.effects).toEqual([{ type: "abort", participants: [a, b] }]);
    const end = advanceCoordinator(refused.state, { type: "delivered" });
    expect(end.state.outcome).toBe("aborted");
  });

  it("commits a transaction without participants at once and refuses steps after the body", () => {
    const done = advanceCoordinator(beginCoordinator("t", 1_000), { type: "body-done", now: 1 });
    expect(done.effects).toEqual([{ type: "finished", outcome: "committed" }]);
    expect(() => advanceCoordinator(done.state, { type: "step", ref: a })).toThrow(/step in done/);
  });
});

describe("chooseCommit", () => {
  const twoSteps = () => {
    let state = beginCoordinator("tx-1", 1_000);
    state = advanceCoordinator(state, { type: "step", ref: { type: "A", key: "1" } }).state;
    return advanceCoordinator(state, { type: "step", ref: { type: "A", key: "2" } }).state;
  };
  it("commits in one phase only when every participant staged in memory", () => {
    expect(chooseCommit(twoSteps(), 2)).toBe("one-phase");
    expect(chooseCommit(twoSteps(), 1)).toBe("two-phase");
    expect(chooseCommit(twoSteps(), 0)).toBe("two-phase");
    expect(chooseCommit(beginCoordinator("tx-2", 1_000), 0)).toBe("two-phase");
  });
});
