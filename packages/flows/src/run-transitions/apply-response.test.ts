import { describe, expect, it } from "vitest";
import { applyDriverResponse } from "./apply-response.js";
import { anEnv, aRun, aStep, NOW, snapshot } from "./fixtures.js";

describe("applyDriverResponse", () => {
  it("a step run inline makes the next discovery due at once", () => {
    const run = aRun();
    const before = snapshot(run);
    const result = applyDriverResponse(
      run,
      { type: "ops", ops: [{ op: "StepRun", id: "h1", name: "a", data: 1 }] },
      "discover",
      anEnv(),
    );
    expect(result.run).toMatchObject({ gen: 2, attempt: 0, forcePlan: false, stack: ["h1"] });
    expect(result.next).toEqual({ kind: "discover", runId: "run1", gen: 2 });
    expect(run).toEqual(before);
  });

  it("a step the handler returned right after completes the run in the same transition", () => {
    const run = aRun();
    const before = snapshot(run);
    const result = applyDriverResponse(
      run,
      {
        type: "ops",
        ops: [{ op: "StepRun", id: "h1", name: "a", data: 1 }],
        after: { type: "complete", output: 2 },
      },
      "discover",
      anEnv(),
    );
    expect(result.run).toMatchObject({ status: "completed", output: 2, stack: ["h1"] });
    expect(result.run.steps.h1).toMatchObject({ status: "completed" });
    expect(result.next).toBeUndefined();
    expect(run).toEqual(before);
  });

  it("ignores a returned output when the step did not complete", () => {
    const result = applyDriverResponse(
      aRun(),
      {
        type: "ops",
        ops: [{ op: "StepError", id: "h1", name: "a", error: { name: "E", message: "e" } }],
        after: { type: "complete", output: 2 },
      },
      "discover",
      anEnv(),
    );
    expect(result.run.status).not.toBe("completed");
    expect(result.run.steps.h1?.status).not.toBe("completed");
  });

  it("parallel steps are planned: no discovery until they resolve, and later steps are planned too", () => {
    const result = applyDriverResponse(
      aRun(),
      {
        type: "ops",
        ops: [
          { op: "StepPlanned", id: "h1", name: "a" },
          { op: "StepPlanned", id: "h2", name: "b" },
        ],
      },
      "discover",
      anEnv(),
    );
    expect(result.run.forcePlan).toBe(true);
    expect(result.run.gen).toBe(1);
    expect(result.next).toBeUndefined();
  });

  it("a retry next to progress keeps the retry's time for the discovery", () => {
    const result = applyDriverResponse(
      aRun(),
      {
        type: "ops",
        ops: [
          { op: "StepRun", id: "h1", name: "a", data: 1 },
          { op: "StepError", id: "h2", name: "b", error: { name: "E", message: "e" } },
        ],
      },
      "discover",
      anEnv(),
    );
    expect(result.run.nextAt).toBe(NOW + 1000);
    expect(result.run.attempt).toBe(0);
    expect(result.next).toBeUndefined();
  });

  it("ops for steps already finished are ignored", () => {
    const run = aRun({ steps: { h1: aStep({ output: "kept" }) }, stack: ["h1"] });
    const result = applyDriverResponse(
      run,
      { type: "ops", ops: [{ op: "StepRun", id: "h1", name: "a", data: "new" }] },
      { step: "h1" },
      anEnv(),
    );
    expect(result.run.steps.h1?.output).toBe("kept");
    expect(result.next).toBeUndefined();
  });

  it("complete and error responses finish or retry the run", () => {
    const done = applyDriverResponse(
      aRun(),
      { type: "complete", output: { ok: true } },
      "discover",
      anEnv(),
    );
    expect(done.run).toMatchObject({ status: "completed", output: { ok: true } });
    const failed = applyDriverResponse(
      aRun(),
      { type: "error", retriable: false, error: { name: "E", message: "e" } },
      "discover",
      anEnv(),
    );
    expect(failed.run.status).toBe("failed");
  });
});
