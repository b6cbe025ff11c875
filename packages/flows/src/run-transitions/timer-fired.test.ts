import { describe, expect, it } from "vitest";
import { aRun, aStep, NOW } from "./fixtures.js";
import { timerFired } from "./timer-fired.js";

describe("timerFired", () => {
  const sleeping = aStep({
    name: "nap",
    op: "sleep",
    status: "sleeping",
    attempts: 0,
    at: NOW,
    output: undefined,
  });
  const invoking = aStep({
    name: "call",
    op: "invoke",
    status: "invoking",
    attempts: 0,
    at: NOW,
    output: undefined,
    child: { runId: "child1", functionId: "child", data: null },
  });

  it("wakes a sleep that is due, and not one that is not", () => {
    expect(
      timerFired(aRun({ steps: { h1: sleeping } }), "h1", undefined, NOW)?.run.steps.h1,
    ).toMatchObject({
      status: "completed",
      output: null,
    });
    expect(timerFired(aRun({ steps: { h1: sleeping } }), "h1", undefined, NOW - 1)).toBeUndefined();
  });

  it("an invocation times out, unless its child finished meanwhile", () => {
    const run = aRun({ steps: { h1: invoking } });
    expect(timerFired(run, "h1", undefined, NOW)?.run.steps.h1).toMatchObject({
      status: "failed",
      error: { name: "InvokeTimeoutError" },
    });
    const done = aRun({ id: "child1", status: "completed", output: 7 });
    expect(timerFired(run, "h1", done, NOW)?.run.steps.h1).toMatchObject({
      status: "completed",
      output: 7,
    });
    const failed = aRun({ id: "child1", status: "failed", error: { name: "E", message: "e" } });
    expect(timerFired(run, "h1", failed, NOW)?.run.steps.h1).toMatchObject({
      status: "failed",
      error: { name: "E" },
    });
  });

  it("leaves planned steps to their own items", () => {
    const planned = aStep({ status: "planned", attempts: 0, output: undefined });
    expect(timerFired(aRun({ steps: { h1: planned } }), "h1", undefined, NOW)).toBeUndefined();
  });
});
