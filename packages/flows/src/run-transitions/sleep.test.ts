import { describe, expect, it } from "vitest";
import { anEnv, aRun, NOW } from "./fixtures.js";
import { sleep } from "./sleep.js";

describe("sleep (Sleep)", () => {
  it("puts the step to sleep until its wake time, off the stack", () => {
    const outcome = sleep(
      aRun(),
      { op: "Sleep", id: "h1", name: "nap", until: NOW + 60_000 },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toEqual({
      name: "nap",
      op: "sleep",
      status: "sleeping",
      attempts: 0,
      startedAt: NOW,
      at: NOW + 60_000,
    });
    expect(outcome.run.stack).toEqual([]);
    expect(outcome.progressed).toBe(true);
  });
});
