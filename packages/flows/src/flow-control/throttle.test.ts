import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseThrottle,
  type ThrottleDefinition,
  type ThrottleState,
  throttledCount,
  throttleStart,
} from "./throttle.js";

/** Start times of runs claimed at `arrivals` (sorted ms) through one throttle key. */
function schedule(config: ThrottleDefinition, arrivals: readonly number[]) {
  let state: ThrottleState | undefined;
  return arrivals.map((now) => {
    const next = throttleStart(config, state, now);
    state = { v: "", tat: next.tat };
    return next.start;
  });
}

describe("throttle (GCRA that queues)", () => {
  it("starts limit + burst at once, then one every period / limit", () => {
    const config = { limit: 2, periodMs: 6000, burst: 1 };
    expect(schedule(config, [0, 0, 0, 0, 0, 0])).toEqual([0, 0, 0, 3000, 6000, 9000]);
    expect(schedule({ limit: 3, periodMs: 60_000, burst: 0 }, [0, 0, 0, 0, 0])).toEqual([
      0, 0, 0, 20_000, 40_000,
    ]);
  });

  it("counts the runs still waiting from the stored TAT", () => {
    const config = { limit: 2, periodMs: 6000, burst: 1 };
    let state: ThrottleState | undefined;
    for (let run = 0; run < 6; run++) state = { v: "", tat: throttleStart(config, state, 0).tat };
    if (!state) throw new Error("no state");
    expect(throttledCount(config, state, 0)).toBe(3);
    expect(throttledCount(config, state, 3000)).toBe(2);
    expect(throttledCount(config, state, 8999)).toBe(1);
    expect(throttledCount(config, state, 9000)).toBe(0);
  });

  it("never starts a run before it arrived, keeps FIFO order, and holds the rate", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 1000, max: 120_000 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.integer({ min: 0, max: 600_000 }), { maxLength: 150 }),
        (limit, periodMs, burst, raw) => {
          const arrivals = [...raw].sort((a, b) => a - b);
          const config = { limit, periodMs, burst };
          const starts = schedule(config, arrivals);
          const interval = periodMs / limit;
          starts.forEach((start, index) => {
            expect(start).toBeGreaterThanOrEqual(arrivals[index] ?? 0);
            if (index > 0) expect(start).toBeGreaterThanOrEqual(starts[index - 1] ?? 0);
            // The k-th start after any start s_i comes no sooner than (k − limit − burst) × T.
            for (let earlier = 0; earlier < index; earlier++) {
              const gap = index - earlier - (limit + burst) + 1;
              if (gap > 0)
                expect(start - (starts[earlier] ?? 0)).toBeGreaterThanOrEqual(gap * interval - 1);
            }
          });
        },
      ),
    );
  });

  it("validates the option, naming the field", () => {
    expect(() => parseThrottle({ limit: 1, period: "0.5s" }, "throttle")).toThrow(
      /throttle\.period/,
    );
    expect(() => parseThrottle({ limit: 1, period: "1s", burst: -1 }, "throttle")).toThrow(
      /throttle\.burst/,
    );
    expect(() => parseThrottle({ limit: 1, period: "1s", extra: 1 }, "throttle")).toThrow(
      /throttle/,
    );
    expect(parseThrottle({ limit: 5, period: "1m", key: "event.data.user" }, "throttle")).toEqual({
      limit: 5,
      periodMs: 60_000,
      burst: 0,
      key: "event.data.user",
    });
  });
});
