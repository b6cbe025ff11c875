import { describe, expect, it } from "vitest";
import { jitteredDue } from "./cron-jitter.js";

const MINUTE = 60_000;

describe("jitteredDue", () => {
  it("fires on the tick without jitter", () => {
    expect(jitteredDue(10 * MINUTE, 11 * MINUTE, undefined, () => 0.9)).toBe(10 * MINUTE);
    expect(jitteredDue(10 * MINUTE, 11 * MINUTE, 0, () => 0.9)).toBe(10 * MINUTE);
  });

  it("delays by random × jitter", () => {
    expect(jitteredDue(0, 10 * MINUTE, 30_000, () => 0.5)).toBe(15_000);
    expect(jitteredDue(0, 10 * MINUTE, 30_000, () => 0)).toBe(0);
  });

  it("caps the window at half the gap to the next tick, so ticks keep their order", () => {
    expect(jitteredDue(0, MINUTE, 10 * MINUTE, () => 0.5)).toBe(15_000);
    for (const random of [0, 0.25, 0.5, 0.999_999_9, 1]) {
      const first = jitteredDue(0, MINUTE, 10 * MINUTE, () => random);
      const second = jitteredDue(MINUTE, 2 * MINUTE, 10 * MINUTE, () => random);
      expect(first).toBeLessThan(MINUTE);
      expect(second).toBeGreaterThan(first);
    }
  });
});
