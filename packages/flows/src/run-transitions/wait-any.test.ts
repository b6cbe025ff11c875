import { describe, expect, it } from "vitest";
import { finishRun } from "./finish.js";
import { anEnv, aRun, NOW } from "./fixtures.js";
import { resolveStep } from "./resolve-step.js";
import { waitForEvent } from "./wait-for-event.js";

const anyOf = () =>
  waitForEvent(
    aRun(),
    {
      op: "WaitForEvent",
      id: "h1",
      name: "outcome",
      event: "order/paid",
      timeoutMs: 5000,
      anyOf: [{ event: "order/cancelled", if: "async.data.n == event.data.n" }],
    },
    anEnv(),
  );

// The second alternative compares a field with the trigger's, so the wait index files it under
// that value (wait-index.ts); the first has no condition and stays under the event name.
const PLAIN = "flows/w/order%2Fpaid/run1/h1";
const KEYED = "flows/wk/order%2Fcancelled/data.n/7b343448ed87b254b79eba27bc18c21b/run1/h1.1";

describe("waitForEvent with anyOf (a wait for the first of several events)", () => {
  it("registers one wait per event, each under its own key, and looks back for each", () => {
    const outcome = anyOf();
    const keys = outcome.effects.ops.map((op) => op.key);
    expect(keys).toEqual([PLAIN, KEYED]);
    expect(outcome.run.steps.h1?.wait).toEqual({
      event: "order/paid",
      key: keys[0],
      also: [{ event: "order/cancelled", if: "async.data.n == event.data.n", key: keys[1] }],
    });
    expect(outcome.effects.lookbacks).toEqual([
      { hash: "h1", event: "order/paid" },
      { hash: "h1", event: "order/cancelled", condition: "async.data.n == event.data.n" },
    ]);
  });

  it("removes every registration when the first event resolves it, or the run ends", () => {
    const waiting = anyOf().run;
    const resolved = resolveStep(waiting, "h1", { data: { name: "order/cancelled" } }, NOW);
    expect(resolved?.effects.ops).toEqual([
      { type: "delete", key: PLAIN },
      { type: "delete", key: KEYED },
    ]);
    expect(resolved?.run.steps.h1?.output).toEqual({ name: "order/cancelled" });
    // A second event finds the step resolved: nothing more happens.
    expect(resolved && resolveStep(resolved.run, "h1", { data: {} }, NOW)).toBeUndefined();
    expect(finishRun(waiting, "cancelled", {}, NOW).ops).toEqual([
      { type: "delete", key: PLAIN },
      { type: "delete", key: KEYED },
    ]);
  });
});
