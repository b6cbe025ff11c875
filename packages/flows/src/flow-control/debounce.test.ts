import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { debounceDeadline, parseDebounce } from "./debounce.js";

describe("debounce deadline", () => {
  it("is a quiet period after the latest event, capped at timeout after the first", () => {
    const config = { periodMs: 10_000, timeoutMs: 25_000 };
    expect(debounceDeadline(config, 0, 0)).toBe(10_000);
    expect(debounceDeadline(config, 0, 12_000)).toBe(22_000);
    expect(debounceDeadline(config, 0, 20_000)).toBe(25_000);
    expect(debounceDeadline({ periodMs: 10_000 }, 0, 1_000_000)).toBe(1_010_000);
  });

  it("never moves backwards as events arrive, so one queue item per debounce suffices", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 100_000 }),
        fc.option(fc.integer({ min: 1000, max: 200_000 }), { nil: undefined }),
        fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 50 }),
        (periodMs, timeoutMs, gaps) => {
          const config = timeoutMs === undefined ? { periodMs } : { periodMs, timeoutMs };
          let now = 0;
          let deadline = debounceDeadline(config, 0, 0);
          for (const gap of gaps) {
            now += gap;
            if (now >= deadline) break; // the debounce ran; a new one would start
            const next = debounceDeadline(config, 0, now);
            expect(next).toBeGreaterThanOrEqual(deadline);
            deadline = next;
          }
        },
      ),
    );
  });

  it("validates the option, naming the field", () => {
    expect(parseDebounce({ period: "5m", timeout: "10m" }, "debounce")).toEqual({
      periodMs: 300_000,
      timeoutMs: 600_000,
    });
    expect(() => parseDebounce({ period: 10 }, "debounce")).toThrow(/debounce\.period/);
    expect(() => parseDebounce({ timeout: "1m" }, "debounce")).toThrow(/debounce\.period/);
  });
});
