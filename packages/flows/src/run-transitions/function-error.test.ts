import { describe, expect, it } from "vitest";
import { anEnv, aRun, aStep, NOW } from "./fixtures.js";
import { functionError } from "./function-error.js";

const boom = { name: "Error", message: "boom" };

describe("functionError (error response)", () => {
  it("a retriable error retries the discovery after backoff", () => {
    const result = functionError(aRun(), { error: boom, retriable: true }, "discover", anEnv());
    expect(result.run).toMatchObject({
      status: "running",
      attempt: 1,
      nextAt: NOW + 1000,
      error: boom,
    });
    expect(result.next).toBeUndefined();
  });

  it("on a planned step, the step's own attempt is retried", () => {
    const run = aRun({
      steps: { h1: aStep({ status: "planned", attempts: 1, output: undefined }) },
    });
    const result = functionError(run, { error: boom, retriable: true }, { step: "h1" }, anEnv());
    expect(result.run.steps.h1).toMatchObject({
      status: "planned",
      attempts: 2,
      at: NOW + 2000,
      errors: [boom],
    });
    expect(result.run.nextAt).toBeUndefined();
  });

  it("fails the run when not retriable or out of attempts, removing its cancel rules", () => {
    const run = aRun({ cancelKeys: ["flows/w/x/run1/c0"] });
    for (const [retriable, attempt] of [
      [false, 0],
      [true, 2],
    ] as const) {
      const result = functionError(
        { ...run, attempt },
        { error: boom, retriable },
        "discover",
        anEnv(),
      );
      expect(result.run).toMatchObject({ status: "failed", error: boom, endedAt: NOW });
      expect(result.effects.ops).toEqual([{ type: "delete", key: "flows/w/x/run1/c0" }]);
    }
  });
});
