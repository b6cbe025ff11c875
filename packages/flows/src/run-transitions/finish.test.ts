import { describe, expect, it } from "vitest";
import { completeRun, finishRun, startRun } from "./finish.js";
import { aRun, aStep, NOW, snapshot } from "./fixtures.js";

describe("finishing and starting a run", () => {
  it("a finished run drops its cancel rules and open waits, and its retry time", () => {
    const run = aRun({
      nextAt: NOW + 5,
      cancelKeys: ["k/c0"],
      steps: { h1: aStep({ status: "waiting", wait: { event: "e", key: "k/w1" } }) },
    });
    const before = snapshot(run);
    const finished = finishRun(run, "cancelled", { error: { name: "X", message: "x" } }, NOW);
    expect(finished.run).toMatchObject({ status: "cancelled", endedAt: NOW, error: { name: "X" } });
    expect(finished.run.nextAt).toBeUndefined();
    expect(finished.ops).toEqual([
      { type: "delete", key: "k/c0" },
      { type: "delete", key: "k/w1" },
    ]);
    expect(run).toEqual(before);
  });

  it("a completed handler's undefined result is stored as null", () => {
    expect(completeRun(aRun(), undefined, NOW).run).toMatchObject({
      status: "completed",
      output: null,
    });
  });

  it("a queued run starts with its finish deadline; a running one is left as is", () => {
    const queued = aRun({ status: "queued" });
    expect(startRun(queued, NOW, 60_000)).toMatchObject({
      status: "running",
      startedAt: NOW,
      finishBy: NOW + 60_000,
    });
    expect(startRun(queued, NOW, undefined).finishBy).toBeUndefined();
    const running = aRun();
    expect(startRun(running, NOW, 60_000)).toBe(running);
  });
});
