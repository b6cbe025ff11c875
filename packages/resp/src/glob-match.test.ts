import { describe, expect, it } from "vitest";
import { globMatch } from "./glob-match.js";

describe("Redis glob matching", () => {
  it.each([
    ["*", "anything", true],
    ["user:*", "user:1", true],
    ["user:*", "users:1", false],
    ["h?llo", "hello", true],
    ["h?llo", "hllo", false],
    ["h[ae]llo", "hallo", true],
    ["h[^e]llo", "hello", false],
    ["h[a-c]llo", "hbllo", true],
    ["h\\*llo", "h*llo", true],
    ["h\\*llo", "hello", false],
    ["a*b*c", "aXXbYYc", true],
    ["a*b*c", "aXXbYY", false],
  ])("%s against %s is %s", (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });

  it("answers a pattern that would take exponential time with naive backtracking", () => {
    expect(globMatch("a*a*a*a*a*a*a*a*a*b", "a".repeat(5000))).toBe(false);
  });
});
