import { describe, expect, it } from "vitest";
import { anEnv, aRun, aStep, NOW, snapshot } from "./fixtures.js";
import { stepError } from "./step-error.js";

const boom = { name: "Error", message: "boom" };

describe("stepError (StepError)", () => {
  it("found by a discovery: the step is errored and the discovery waits for the backoff", () => {
    const run = aRun();
    const before = snapshot(run);
    const outcome = stepError(
      run,
      { op: "StepError", id: "h1", name: "a", error: boom },
      "discover",
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({
      status: "errored",
      attempts: 1,
      at: NOW + 1000,
      errors: [boom],
    });
    expect(outcome.run.attempt).toBe(1);
    expect(outcome.run.nextAt).toBe(NOW + 1000);
    expect(outcome.run.stack).toEqual([]);
    expect(outcome).toMatchObject({ progressed: false, retryScheduled: true });
    expect(run).toEqual(before);
  });

  it("a planned step stays planned with its own attempts and doubled backoff", () => {
    const run = aRun({
      steps: { h1: aStep({ status: "planned", attempts: 1, output: undefined }) },
    });
    const outcome = stepError(
      run,
      { op: "StepError", id: "h1", name: "a", error: boom },
      { step: "h1" },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({ status: "planned", attempts: 2, at: NOW + 2000 });
    expect(outcome.run.nextAt).toBeUndefined();
  });

  it("honours the error's retryAt", () => {
    const outcome = stepError(
      aRun(),
      { op: "StepError", id: "h1", name: "a", error: boom, retryAt: NOW + 30_000 },
      "discover",
      anEnv(),
    );
    expect(outcome.run.steps.h1?.at).toBe(NOW + 30_000);
  });

  it("out of attempts, the step fails for good and the handler learns it", () => {
    const run = aRun({ attempt: 2 });
    const outcome = stepError(
      run,
      { op: "StepError", id: "h1", name: "a", error: boom },
      "discover",
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({ status: "failed", attempts: 3, error: boom });
    expect(outcome.run.stack).toEqual(["h1"]);
    expect(outcome).toMatchObject({ progressed: true, retryScheduled: false });
  });
});
