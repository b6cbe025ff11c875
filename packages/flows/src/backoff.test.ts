import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, resolveBackoff } from "./backoff.js";

describe("backoffDelay", () => {
  it("stays within [capped × (1 − jitter), capped] and never exceeds maxMs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (baseMs, extra, jitter, retry, random) => {
          const backoff = resolveBackoff({ baseMs, maxMs: baseMs + extra, jitter });
          const capped = Math.min(backoff.maxMs, baseMs * 2 ** Math.min(retry, 40));
          const delay = backoffDelay(backoff, retry, () => random);
          expect(delay).toBeLessThanOrEqual(Math.round(capped));
          expect(delay).toBeGreaterThanOrEqual(Math.floor(capped * (1 - jitter)));
          expect(delay).toBeLessThanOrEqual(backoff.maxMs);
        },
      ),
    );
  });

  it("doubles per retry without jitter", () => {
    const backoff = resolveBackoff({ baseMs: 100, maxMs: 1000, jitter: 0 });
    expect([0, 1, 2, 3, 4, 5].map((retry) => backoffDelay(backoff, retry, Math.random))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("names the bad option", () => {
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(/backoff\.jitter/);
    expect(() => resolveBackoff({ baseMs: 0 })).toThrow(/backoff\.baseMs/);
    expect(() => resolveBackoff({ baseMs: 10, maxMs: 5 })).toThrow(/backoff\.maxMs/);
  });
});
