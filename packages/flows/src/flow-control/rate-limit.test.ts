import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { admitRateLimit, parseRateLimit, type RateLimitState } from "./rate-limit.js";

/** Admission times of a run of arrivals (sorted ms) through one key. */
function admitted(limit: number, periodMs: number, arrivals: readonly number[]): number[] {
  let state: RateLimitState | undefined;
  const out: number[] = [];
  for (const now of arrivals) {
    const decision = admitRateLimit({ limit, periodMs }, state, now);
    if (decision.admit) {
      state = { key: "", tat: decision.tat };
      out.push(now);
    }
  }
  return out;
}

describe("rate limit (GCRA, burst = limit)", () => {
  it("admits a full burst after a quiet period, then one per period / limit", () => {
    expect(admitted(3, 60_000, [0, 0, 0, 0, 19_999, 20_000, 20_000, 40_000])).toEqual([
      0, 0, 0, 20_000, 40_000,
    ]);
  });

  it("with limit 1 admits exactly one run per period", () => {
    expect(admitted(1, 4000, [0, 1, 3999, 4000, 7999, 8000])).toEqual([0, 4000, 8000]);
  });

  it("never admits more than 2 × limit − 1 in any window of one period, nor more than the rate allows", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1000, max: 60_000 }),
        fc.array(fc.integer({ min: 0, max: 300_000 }), { maxLength: 200 }),
        (limit, periodMs, raw) => {
          const times = admitted(
            limit,
            periodMs,
            [...raw].sort((a, b) => a - b),
          );
          for (const start of times) {
            const inWindow = times.filter((t) => t >= start && t < start + periodMs).length;
            expect(inWindow).toBeLessThanOrEqual(2 * limit - 1);
          }
          const first = times[0];
          const last = times[times.length - 1];
          if (first !== undefined && last !== undefined) {
            // Burst of `limit`, then at most one per emission interval.
            expect(times.length).toBeLessThanOrEqual(
              limit + Math.floor((last - first) / (periodMs / limit)) + 1,
            );
          }
        },
      ),
    );
  });

  it("validates the option, naming the field", () => {
    expect(parseRateLimit({ limit: 5, period: "1m", key: "event.data.id" }, "rateLimit")).toEqual({
      limit: 5,
      periodMs: 60_000,
      key: "event.data.id",
    });
    expect(() => parseRateLimit({ limit: 1.5, period: "1m" }, "rateLimit")).toThrow(
      /rateLimit\.limit/,
    );
    expect(() => parseRateLimit({ limit: 1, period: "soon" }, "rateLimit")).toThrow(
      /rateLimit\.period/,
    );
    expect(() => parseRateLimit({ limit: 1, period: "1m", extra: 1 }, "rateLimit")).toThrow(
      /rateLimit/,
    );
  });
});
