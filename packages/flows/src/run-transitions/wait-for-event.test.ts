import { describe, expect, it } from "vitest";
import { decodeWaitEntry } from "../wait-entry.js";
import { waitIndexKeys } from "../wait-index.js";
import { anEnv, aRun, NOW } from "./fixtures.js";
import { waitForEvent } from "./wait-for-event.js";

describe("waitForEvent (WaitForEvent)", () => {
  it("registers the wait in the same commit and asks for a look back", () => {
    const run = aRun();
    const outcome = waitForEvent(
      run,
      {
        op: "WaitForEvent",
        id: "h1",
        name: "paid",
        event: "order/paid",
        if: "async.data.n == event.data.n",
        timeoutMs: 5000,
      },
      anEnv(),
    );
    // Filed under the trigger's `data.n` (1), where an event with `data.n == 1` looks.
    const key = waitIndexKeys("flows/").keyed(
      "order/paid",
      { path: "data.n", value: 1 },
      "run1",
      "h1",
    );
    expect(key.startsWith("flows/wk/order%2Fpaid/data.n/")).toBe(true);
    expect(outcome.run.steps.h1).toMatchObject({
      status: "waiting",
      at: NOW + 5000,
      wait: { event: "order/paid", if: "async.data.n == event.data.n", key },
    });
    const [op] = outcome.effects.ops;
    expect(op?.type === "set" && op.key === key).toBe(true);
    if (op?.type !== "set") return;
    expect(decodeWaitEntry(op.value)).toEqual({
      kind: "wait",
      runId: "run1",
      hash: "h1",
      condition: "async.data.n == event.data.n",
      triggerEvent: run.events[0],
      expiresAt: NOW + 5000,
    });
    expect(outcome.effects.lookbacks).toEqual([
      { hash: "h1", event: "order/paid", condition: "async.data.n == event.data.n" },
    ]);
  });
});

describe("waitForEvent with an unkeyable condition", () => {
  it("registers the wait under its event name, scanned per event", () => {
    const outcome = waitForEvent(
      aRun(),
      {
        op: "WaitForEvent",
        id: "h1",
        name: "paid",
        event: "order/paid",
        if: "async.data.n > 3",
        timeoutMs: 5000,
      },
      anEnv(),
    );
    expect(outcome.effects.ops[0]?.key).toBe("flows/w/order%2Fpaid/run1/h1");
  });
});
