import { describe, expect, it } from "vitest";
import { applyDriverResponse } from "./apply-response.js";
import { anEnv, aRun, aStep, snapshot } from "./fixtures.js";
import { settleRace } from "./race.js";

const racing = () =>
  aRun({
    forcePlan: true,
    steps: {
      a: aStep({ name: "a", status: "planned", attempts: 0, race: true }),
      b: aStep({ name: "b", status: "planned", attempts: 0, race: true }),
      c: aStep({ name: "c", status: "planned", attempts: 0 }),
    },
  });

describe("race mode", () => {
  it("the first raced step to finish makes a discovery due; its siblings keep running", () => {
    const run = racing();
    const before = snapshot(run);
    const outcome = applyDriverResponse(
      aRun({ ...run, steps: { a: run.steps.a ?? aStep(), b: run.steps.b ?? aStep() } }),
      { type: "ops", ops: [{ op: "StepRun", id: "a", name: "a", data: "A" }] },
      { step: "a" },
      anEnv(),
    );
    expect(run).toEqual(before);
    expect(outcome.run.steps.a).toMatchObject({ status: "completed", output: "A" });
    expect(outcome.run.steps.b).toMatchObject({ status: "planned", raceLost: true });
    expect(outcome.next).toEqual({ kind: "discover", runId: "run1", gen: 2 });
  });

  it("a step planned without a race still holds the discovery back", () => {
    const run = racing();
    const outcome = applyDriverResponse(
      run,
      { type: "ops", ops: [{ op: "StepRun", id: "a", name: "a", data: "A" }] },
      { step: "a" },
      anEnv(),
    );
    expect(outcome.run.steps.b?.raceLost).toBe(true);
    expect(outcome.run.steps.c?.raceLost).toBeUndefined();
    expect(outcome.next).toBeUndefined();
  });

  it("steps planned in parallel without race mode wait for each other", () => {
    const run = aRun({
      steps: {
        a: aStep({ name: "a", status: "planned", attempts: 0 }),
        b: aStep({ name: "b", status: "planned", attempts: 0 }),
      },
    });
    const outcome = applyDriverResponse(
      run,
      { type: "ops", ops: [{ op: "StepRun", id: "a", name: "a", data: "A" }] },
      { step: "a" },
      anEnv(),
    );
    expect(outcome.run.steps.b?.raceLost).toBeUndefined();
    expect(outcome.next).toBeUndefined();
  });

  it("a raced step that failed for good decides the race too", () => {
    const run = racing();
    const failed = aRun({
      ...run,
      steps: { ...run.steps, a: aStep({ name: "a", status: "failed" }) },
    });
    expect(settleRace(run, failed, "a").steps.b?.raceLost).toBe(true);
  });

  it("a raced step still retrying decides nothing", () => {
    const run = racing();
    const retrying = aRun({
      ...run,
      steps: { ...run.steps, a: aStep({ name: "a", status: "planned", attempts: 1 }) },
    });
    expect(settleRace(run, retrying, "a")).toBe(retrying);
  });
});
