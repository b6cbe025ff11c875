import { describe, expect, it } from "vitest";
import { decodeWaitEntry } from "../wait-entry.js";
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
    const key = "flows/w/order%2Fpaid/run1/h1";
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
