import { describe, expect, it } from "vitest";
import { anEnv, aRun, aStep, NOW, snapshot } from "./fixtures.js";
import { stepDone } from "./step-done.js";

describe("stepDone (StepRun)", () => {
  it("memoizes the result, puts the step on the stack and leaves the input run alone", () => {
    const run = aRun();
    const before = snapshot(run);
    const outcome = stepDone(run, { op: "StepRun", id: "h1", name: "a", data: 42 }, anEnv());
    expect(outcome.run.steps.h1).toMatchObject({ status: "completed", output: 42, attempts: 1 });
    expect(outcome.run.stack).toEqual(["h1"]);
    expect(outcome.progressed).toBe(true);
    expect(run).toEqual(before);
  });

  it("keeps earlier attempt errors, the step's timing and input, and null for undefined", () => {
    const error = { name: "Error", message: "first try" };
    const run = aRun({ steps: { h1: aStep({ status: "errored", attempts: 1, errors: [error] }) } });
    const outcome = stepDone(
      run,
      {
        op: "StepRun",
        id: "h1",
        name: "a",
        data: undefined,
        input: [1],
        timing: { startedAt: NOW - 5, endedAt: NOW - 1 },
      },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toEqual({
      name: "a",
      op: "run",
      status: "completed",
      attempts: 2,
      startedAt: NOW - 5,
      endedAt: NOW - 1,
      output: null,
      input: [1],
      errors: [error],
    });
  });
});
