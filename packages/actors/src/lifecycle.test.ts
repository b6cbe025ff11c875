import { describe, expect, it } from "vitest";
import {
  ACTIVATING,
  ACTIVE,
  admits,
  DEACTIVATING,
  DEAD,
  INTERLEAVE,
  type LifecycleEvent,
  NESTED,
  nextStatus,
  ownsState,
  READ,
  type Status,
  statusName,
  turnMode,
  WRITE,
} from "./lifecycle.js";

const write = { readOnly: false, interleave: false };
const read = { readOnly: true, interleave: false };
const interleave = { readOnly: false, interleave: true };

describe("activation lifecycle", () => {
  it("activates, serves, deactivates and ends", () => {
    let status: Status = ACTIVATING;
    for (const [event, expected] of [
      ["ready", ACTIVE],
      ["deactivate", DEACTIVATING],
      ["ended", DEAD],
    ] as const) {
      status = nextStatus(status, event);
      expect(status).toBe(expected);
    }
  });

  it("ignores events that do not apply", () => {
    // Deactivating twice, or an activation still loading, changes nothing.
    expect(nextStatus(DEACTIVATING, "deactivate")).toBe(DEACTIVATING);
    expect(nextStatus(ACTIVATING, "deactivate")).toBe(ACTIVATING);
    // A deactivation that finishes after the activation was dropped leaves it dead.
    expect(nextStatus(DEAD, "ended")).toBe(DEAD);
    expect(nextStatus(ACTIVE, "ready")).toBe(ACTIVE);
    expect(nextStatus(ACTIVE, "failed")).toBe(ACTIVE);
  });

  it("never leaves DEAD, and any status can be dropped", () => {
    const events: LifecycleEvent[] = ["ready", "failed", "deactivate", "ended", "dropped"];
    for (const event of events) expect(nextStatus(DEAD, event)).toBe(DEAD);
    for (const status of [ACTIVATING, ACTIVE, DEACTIVATING, DEAD] as const) {
      expect(nextStatus(status, "dropped")).toBe(DEAD);
    }
    expect(nextStatus(ACTIVATING, "failed")).toBe(DEAD);
  });

  it("names statuses for introspection", () => {
    expect(
      ([ACTIVATING, ACTIVE, DEACTIVATING] as const).map((status) => statusName(status)),
    ).toEqual(["activating", "active", "deactivating"]);
  });
});

describe("turn rules", () => {
  it("runs writes alone, reads together, interleaving calls beside anything", () => {
    expect(admits(write, false, 0)).toBe(true);
    expect(admits(write, true, 0)).toBe(false);
    expect(admits(write, false, 2)).toBe(false);
    expect(admits(read, false, 3)).toBe(true);
    expect(admits(read, true, 0)).toBe(false);
    expect(admits(interleave, true, 5)).toBe(true);
  });

  it("picks the mode from the action's flags", () => {
    expect(turnMode(write)).toBe(WRITE);
    expect(turnMode(read)).toBe(READ);
    expect(turnMode(interleave)).toBe(INTERLEAVE);
    expect(turnMode({ readOnly: true, interleave: true })).toBe(INTERLEAVE);
  });

  it("lets only the turn holding the state save or roll it back", () => {
    expect(ownsState(WRITE, write, true)).toBe(true);
    expect(ownsState(READ, read, false)).toBe(false);
    expect(ownsState(NESTED, write, true)).toBe(false);
    // An interleaving write beside a write turn leaves the state to that turn.
    expect(ownsState(INTERLEAVE, interleave, true)).toBe(false);
    expect(ownsState(INTERLEAVE, interleave, false)).toBe(true);
    expect(ownsState(INTERLEAVE, { readOnly: true, interleave: true }, false)).toBe(false);
  });
});
