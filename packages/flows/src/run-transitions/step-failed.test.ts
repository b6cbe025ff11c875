import { describe, expect, it } from "vitest";
import { anEnv, aRun, aStep, NOW } from "./fixtures.js";
import { stepFailed } from "./step-failed.js";

describe("stepFailed (StepFailed)", () => {
  it("fails the step at once, memoizing the error for the handler", () => {
    const earlier = { name: "Error", message: "try 1" };
    const final = { name: "NonRetriableError", message: "no" };
    const run = aRun({
      steps: { h1: aStep({ status: "planned", attempts: 1, errors: [earlier] }) },
    });
    const outcome = stepFailed(
      run,
      { op: "StepFailed", id: "h1", name: "a", error: final },
      { step: "h1" },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({
      status: "failed",
      attempts: 2,
      error: final,
      errors: [earlier, final],
      startedAt: NOW,
      endedAt: NOW,
    });
    expect(outcome.run.stack).toEqual(["h1"]);
    expect(outcome.progressed).toBe(true);
  });
});
