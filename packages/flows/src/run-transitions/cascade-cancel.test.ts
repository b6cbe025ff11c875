import { describe, expect, it } from "vitest";
import { invokedRunsToCancel } from "./cascade-cancel.js";
import { anEnv, aRun, aStep } from "./fixtures.js";
import { invokeFunction } from "./invoke.js";

const invoking = (runId: string, cascadeCancel?: false) =>
  aStep({
    op: "invoke",
    status: "invoking",
    attempts: 0,
    child: {
      runId,
      functionId: "child",
      data: {},
      ...(cascadeCancel === false ? { cascadeCancel } : {}),
    },
  });

describe("invokedRunsToCancel", () => {
  it("names the children a cancelled run still waits for, leaving out opted-out ones", () => {
    const run = aRun({
      status: "cancelled",
      steps: {
        a: invoking("c1"),
        b: invoking("c2", false),
        c: aStep({ op: "invoke", status: "completed" }),
        d: invoking("c3"),
      },
    });
    expect(invokedRunsToCancel(run)).toEqual(["c1", "c3"]);
  });

  it("cancels nothing for a run that failed or completed", () => {
    expect(invokedRunsToCancel(aRun({ status: "failed", steps: { a: invoking("c1") } }))).toEqual(
      [],
    );
    expect(
      invokedRunsToCancel(aRun({ status: "completed", steps: { a: invoking("c1") } })),
    ).toEqual([]);
  });

  it("keeps an invoke's opt-out on the step record", () => {
    const outcome = invokeFunction(
      aRun(),
      {
        op: "InvokeFunction",
        id: "h1",
        name: "call",
        functionId: "child",
        data: {},
        timeoutMs: 1000,
        cascadeCancel: false,
      },
      anEnv(),
    );
    expect(outcome.run.steps.h1?.child?.cascadeCancel).toBe(false);
    expect(invokedRunsToCancel({ ...outcome.run, status: "cancelled" })).toEqual([]);
  });
});
