import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { createIdGenerator, isUlid, ulid, ulidTime, ulidTimePrefix } from "./ids.js";

describe("ids", () => {
  it("makes ULIDs that sort in creation order, even within one millisecond", () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 22));
    const next = createIdGenerator(clock);
    const ids = Array.from({ length: 1000 }, () => next());
    expect(new Set(ids).size).toBe(1000);
    expect([...ids].sort()).toEqual(ids);
    expect(ids.every(isUlid)).toBe(true);
    expect(ulidTime(ids[0] as string)).toBe(clock.now());
  });

  it("stamps ids with the clock's time", async () => {
    const clock = new ManualClock(1_000_000);
    const next = createIdGenerator(clock);
    const first = next();
    await clock.advance(5000);
    const second = next();
    expect(ulidTime(second) - ulidTime(first)).toBe(5000);
    expect(isUlid(ulid())).toBe(true);
    expect(isUlid("not-a-ulid")).toBe(false);
  });

  it("ulidTimePrefix bounds ULIDs by time: made at or after sorts at or after, earlier before", () => {
    const clock = new ManualClock(1_700_000_000_000);
    const next = createIdGenerator(clock);
    const before = next();
    clock.set(1_700_000_000_001);
    const at = next();
    const bound = ulidTimePrefix(1_700_000_000_001);
    expect(bound).toHaveLength(10);
    expect(ulidTime(`${bound}${"0".repeat(16)}`)).toBe(1_700_000_000_001);
    expect(before < bound).toBe(true);
    expect(at >= bound).toBe(true);
  });
});
