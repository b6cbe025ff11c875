import { describe, expect, it } from "vitest";
import { type Effect, formatEffect, parseEffects, tornEffects } from "./crash-function.js";

const killed: Effect = {
  runId: "01JEKILLEDRUN0000000000000",
  step: "step-2",
  nonce: "0b8f5c3e-1d2a-4c7b-9e6f-5a4b3c2d1e0f",
  pid: "4242",
  startedAt: 1765017600123.25,
  endedAt: 1765017600125.5,
};
const next: Effect = {
  runId: "01JENEXTRUN000000000000000",
  step: "step-4",
  nonce: "7c6b5a49-3827-4165-a4b3-c2d1e0f9a8b7",
  pid: "4343",
  startedAt: 1765017601000.75,
  endedAt: 1765017601002,
};

describe("the crash tests' effects log", () => {
  it("reads back what it wrote", () => {
    const log = formatEffect(killed) + formatEffect(next);
    expect(parseEffects(log)).toEqual([killed, next]);
    expect(tornEffects(log)).toEqual([]);
  });

  it("keeps the next process's record whole after a write a SIGKILL cut short, wherever it was cut", () => {
    const whole = formatEffect(killed);
    for (let cut = 0; cut < whole.length; cut++) {
      const log = whole.slice(0, cut) + formatEffect(next);
      const effects = parseEffects(log);
      // The record written after the torn one is read back exactly, as its own record.
      expect(
        effects.filter((effect) => effect.runId === next.runId),
        `cut at ${cut}`,
      ).toEqual([next]);
      // The torn record counts only if its nonce made it out whole (then the step did run).
      for (const effect of effects.filter((effect) => effect.runId !== next.runId)) {
        expect(effect.nonce, `cut at ${cut}`).toBe(killed.nonce);
      }
    }
  });
});
