import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstDueAt, nextPeriodicDueAt, nextPollAt, retryAt } from "./reminder-schedule.js";

const T0 = Date.UTC(2026, 0, 1);

describe("reminder scheduling", () => {
  it("fires first at the given time or after the delay", () => {
    expect(firstDueAt({ at: T0 + 5 }, T0)).toBe(T0 + 5);
    expect(firstDueAt({ afterMs: 250 }, T0)).toBe(T0 + 250);
  });

  it("polls at the next item's time, at once when overdue, and at least every pollMs", () => {
    expect(nextPollAt(undefined, T0, 5000)).toBe(T0 + 5000);
    expect(nextPollAt(T0 + 100, T0, 5000)).toBe(T0 + 100);
    expect(nextPollAt(T0 - 100, T0, 5000)).toBe(T0);
    expect(nextPollAt(T0 + 60_000, T0, 5000)).toBe(T0 + 5000);
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: T0 - 1e6, max: T0 + 1e6 }), { nil: undefined }),
        fc.integer({ min: 1, max: 1e6 }),
        (next, pollMs) => {
          const at = nextPollAt(next, T0, pollMs);
          expect(at).toBeGreaterThanOrEqual(T0);
          expect(at).toBeLessThanOrEqual(T0 + pollMs);
          if (next !== undefined && next >= T0 && next <= T0 + pollMs) expect(at).toBe(next);
        },
      ),
    );
  });

  it("retries a failed firing after 1 s, doubling up to 60 s", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((attempt) => retryAt(T0, attempt) - T0)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000,
    ]);
  });

  it("fires a periodic reminder at the first period boundary after the firing, skipping missed ones", () => {
    expect(nextPeriodicDueAt(T0, T0, 1000)).toBe(T0 + 1000);
    expect(nextPeriodicDueAt(T0, T0 + 999, 1000)).toBe(T0 + 1000);
    expect(nextPeriodicDueAt(T0, T0 + 3500, 1000)).toBe(T0 + 4000);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e7 }),
        fc.integer({ min: 1, max: 1e6 }),
        (late, periodMs) => {
          const next = nextPeriodicDueAt(T0, T0 + late, periodMs);
          expect(next).toBeGreaterThan(T0 + late);
          expect(next - (T0 + late)).toBeLessThanOrEqual(periodMs);
          expect((next - T0) % periodMs).toBe(0);
        },
      ),
    );
  });
});
