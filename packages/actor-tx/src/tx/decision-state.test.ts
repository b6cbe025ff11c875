import { describe, expect, it } from "vitest";
import {
  decideCommit,
  isStale,
  markFinished,
  resolveOutcome,
  UNDECIDED,
} from "./decision-state.js";

const parts = [
  { type: "Account", key: 1 },
  { type: "Account", key: 2 },
];

describe("decision record transitions", () => {
  it("grants the commit of an undecided transaction and records its participants", () => {
    const { record, granted } = decideCommit(UNDECIDED, parts, 5);
    expect(granted).toBe(true);
    expect(record).toEqual({
      decision: "committed",
      participants: parts,
      decidedAt: 5,
      finished: false,
    });
    expect(decideCommit(record, [], 9)).toEqual({ record, granted: true });
    expect(resolveOutcome(record, 9)).toEqual({ record, decision: "committed" });
  });

  it("aborts an undecided transaction when asked for the outcome, so a late commit is refused", () => {
    const { record, decision } = resolveOutcome(UNDECIDED, 7);
    expect(decision).toBe("aborted");
    expect(decideCommit(record, parts, 8)).toEqual({ record, granted: false });
  });

  it("marks a committed record stale only after the grace period and until it is finished", () => {
    const { record } = decideCommit(UNDECIDED, parts, 100);
    expect(isStale(record, 150, 100)).toBe(false);
    expect(isStale(record, 200, 100)).toBe(true);
    expect(isStale(markFinished(record), 500, 100)).toBe(false);
    expect(isStale(resolveOutcome(UNDECIDED, 0).record, 500, 0)).toBe(false);
  });
});
