import { describe, expect, it } from "vitest";
import {
  abortPrepared,
  applyDecision,
  commitPrepared,
  judgePrepare,
  recordPrepared,
  type TxState,
} from "./participant-state.js";

const idle: TxState<number> = { value: 10 };

describe("participant transitions", () => {
  it("runs the first step on the committed value and later steps on the prepared state", () => {
    expect(judgePrepare(idle, "a", 0)).toEqual({ kind: "run", base: "value" });
    const prepared = recordPrepared(idle, "a", 100, 7, "r0");
    expect(prepared).toEqual({
      value: 10,
      lock: { txId: "a", deadline: 100, next: 7, results: ["r0"] },
    });
    expect(judgePrepare(prepared, "a", 1)).toEqual({ kind: "run", base: "next" });
    const twice = recordPrepared(prepared, "a", 100, 5, "r1");
    expect(twice.lock?.results).toEqual(["r0", "r1"]);
    expect(twice.value).toBe(10);
  });

  it("stores no lock field once unlocked, and reads an older record's lock: null as unlocked", () => {
    const committed = commitPrepared(recordPrepared(idle, "a", 100, 7, "r0"), "a");
    expect(Object.keys(committed)).toEqual(["value"]);
    const older: TxState<number> = { value: 10, lock: null };
    expect(judgePrepare(older, "b", 0)).toEqual({ kind: "run", base: "value" });
    expect(commitPrepared(older, "b")).toBe(older);
  });

  it("answers a repeated step from the recorded result instead of running it again", () => {
    const prepared = recordPrepared(idle, "a", 100, 7, "r0");
    expect(judgePrepare(prepared, "a", 0)).toEqual({ kind: "replay", result: "r0" });
    expect(judgePrepare(prepared, "a", 2)).toEqual({ kind: "out-of-order", expected: 1 });
    expect(judgePrepare(idle, "a", 1)).toEqual({ kind: "out-of-order", expected: 0 });
  });

  it("makes an older transaction wait and a younger one die while another is prepared", () => {
    const prepared = recordPrepared(idle, "m", 100, 7, null);
    expect(judgePrepare(prepared, "a", 0)).toEqual({ kind: "busy", holder: "m", die: false });
    expect(judgePrepare(prepared, "z", 0)).toEqual({ kind: "busy", holder: "m", die: true });
  });

  it("commits or aborts only its own transaction, and repeats change nothing", () => {
    const prepared = recordPrepared(idle, "a", 100, 7, null);
    expect(commitPrepared(prepared, "b")).toBe(prepared);
    expect(abortPrepared(prepared, "b")).toBe(prepared);
    const committed = commitPrepared(prepared, "a");
    expect(committed).toEqual({ value: 7 });
    expect(commitPrepared(committed, "a")).toBe(committed);
    expect(abortPrepared(prepared, "a")).toEqual({ value: 10 });
    expect(applyDecision(prepared, "a", "committed")).toEqual({ value: 7 });
    expect(applyDecision(prepared, "a", "aborted")).toEqual({ value: 10 });
  });
});
