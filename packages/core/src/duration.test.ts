import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it.each([
    ["250ms", 250],
    ["1h30m", 5_400_000],
    ["1.5s", 1500],
    ["2d", 172_800_000],
    ["1w", 604_800_000],
    ["90 seconds", 90_000],
    ["1h 2m 3s", 3_723_000],
    ["1000", 1000],
    [0, 0],
    [42.4, 42],
  ])("reads %j as %d ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    "",
    "   ",
    "abc",
    "h",
    "1x",
    "-5s",
    "1h;drop",
    Number.NaN,
    -1,
    Number.POSITIVE_INFINITY,
  ])("rejects %j naming the field", (input) => {
    expect(() => parseDuration(input as string, "retry.delay")).toThrowError(/^retry\.delay: /);
  });
});

describe("formatDuration", () => {
  it("formats compactly and round-trips through parseDuration", () => {
    for (const ms of [0, 5, 999, 1000, 61_000, 5_400_000, 90_061_001]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
    expect(formatDuration(5_400_000)).toBe("1h30m");
  });
});
