import { describe, expect, it } from "vitest";
import { aRun, aStep, NOW, snapshot } from "./fixtures.js";
import { resolveStep } from "./resolve-step.js";

describe("resolveStep", () => {
  const waiting = aStep({
    name: "paid",
    op: "waitForEvent",
    status: "waiting",
    attempts: 0,
    at: NOW + 5000,
    output: undefined,
    wait: { event: "order/paid", key: "k/w" },
  });

  it("memoizes a wait's event, removes its registration and makes a discovery due", () => {
    const run = aRun({ steps: { h1: waiting } });
    const before = snapshot(run);
    const resolved = resolveStep(run, "h1", { data: { name: "order/paid" } }, NOW);
    expect(resolved?.run.steps.h1).toMatchObject({
      status: "completed",
      output: { name: "order/paid" },
      attempts: 1,
      endedAt: NOW,
    });
    expect(resolved?.run.steps.h1?.at).toBeUndefined();
    expect(resolved?.run.stack).toEqual(["h1"]);
    expect(resolved?.effects.ops).toEqual([{ type: "delete", key: "k/w" }]);
    expect(resolved?.next).toEqual({ kind: "discover", runId: "run1", gen: 2 });
    expect(run).toEqual(before);
  });

  it("an error fails the step; no discovery while another step is pending", () => {
    const run = aRun({
      steps: { h1: waiting, h2: { ...waiting, wait: { event: "x", key: "k/x" } } },
    });
    const resolved = resolveStep(run, "h1", { error: { name: "E", message: "e" } }, NOW);
    expect(resolved?.run.steps.h1).toMatchObject({ status: "failed", error: { name: "E" } });
    expect(resolved?.next).toBeUndefined();
  });

  it("does nothing for a step that is no longer pending", () => {
    expect(resolveStep(aRun({ steps: { h1: aStep() } }), "h1", { data: 1 }, NOW)).toBeUndefined();
    expect(resolveStep(aRun(), "h1", { data: 1 }, NOW)).toBeUndefined();
  });
});
