import { describe, expect, it } from "vitest";
import { aRun } from "./fixtures.js";
import { stepPlanned } from "./step-planned.js";

describe("stepPlanned (StepPlanned)", () => {
  it("plans the step once; planning it again changes nothing", () => {
    const first = stepPlanned(aRun(), { op: "StepPlanned", id: "h1", name: "a" });
    expect(first.run.steps.h1).toEqual({ name: "a", op: "run", status: "planned", attempts: 0 });
    expect(first.progressed).toBe(true);
    const again = stepPlanned(first.run, { op: "StepPlanned", id: "h1", name: "a" });
    expect(again.run).toBe(first.run);
    expect(again.progressed).toBe(false);
  });
});
