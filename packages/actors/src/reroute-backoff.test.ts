import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FAILOVER_BASE_DELAY_MS,
  FAILOVER_MAX_DELAY_MS,
  failoverDelayMs,
} from "./reroute-backoff.js";

describe("failover re-route backoff", () => {
  it("doubles the window per failover up to the cap, jittered within its upper half", () => {
    expect([0, 1, 2, 3].map((n) => failoverDelayMs(n, () => 0))).toEqual([25, 50, 100, 200]);
    expect([0, 1, 2, 3].map((n) => failoverDelayMs(n, () => 0.999_999))).toEqual([
      50, 100, 200, 400,
    ]);
    expect(failoverDelayMs(30, () => 0.999_999)).toBe(FAILOVER_MAX_DELAY_MS);
  });

  it("stays within its window for any random draw, even a broken one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 100 }),
        fc.oneof(fc.double({ min: -10, max: 10 }), fc.constant(Number.NaN)),
        (failovers, drawn) => {
          const delay = failoverDelayMs(failovers, () => drawn);
          expect(delay).toBeGreaterThanOrEqual(FAILOVER_BASE_DELAY_MS / 2);
          expect(delay).toBeLessThanOrEqual(FAILOVER_MAX_DELAY_MS);
        },
      ),
    );
  });

  it("spreads callers that failed over together", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const delays = new Set(Array.from({ length: 50 }, () => failoverDelayMs(3, random)));
    expect(delays.size).toBeGreaterThan(20);
  });
});
