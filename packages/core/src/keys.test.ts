import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TroupeError } from "./errors.js";
import { compareKeys, keySuccessor, prefixEnd, validateKey } from "./keys.js";

const utf8Compare = (a: string, b: string) =>
  Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
// Full Unicode strings without lone surrogates (what a Store accepts).
const unicodeKey = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });

describe("compareKeys", () => {
  it("orders keys exactly as their UTF-8 bytes, for any Unicode strings", () => {
    fc.assert(
      fc.property(unicodeKey, unicodeKey, (a, b) => {
        expect(Math.sign(compareKeys(a, b))).toBe(Math.sign(utf8Compare(a, b)));
      }),
      { numRuns: 2000 },
    );
  });

  it("puts astral characters after U+E000..U+FFFF, unlike JavaScript's < operator", () => {
    const astral = "\u{1F600}";
    const privateUse = "\uE000";
    expect("\u{1F600}" < "\uE000").toBe(true); // UTF-16 code unit order
    expect(compareKeys(astral, privateUse)).toBeGreaterThan(0); // byte order
    expect(compareKeys("a", "ab")).toBeLessThan(0);
    expect(compareKeys("ab", "ab")).toBe(0);
  });
});

describe("prefixEnd", () => {
  it("bounds exactly the keys that start with the prefix", () => {
    fc.assert(
      fc.property(unicodeKey, unicodeKey, (prefix, other) => {
        const end = prefixEnd(prefix);
        const inRange =
          compareKeys(other, prefix) >= 0 && (end === undefined || compareKeys(other, end) < 0);
        expect(inRange).toBe(other.startsWith(prefix));
      }),
      { numRuns: 2000 },
    );
  });

  it("skips the surrogate block and gives up on an all-maximum prefix", () => {
    expect(prefixEnd("a\uD7FF")).toBe("a\uE000");
    expect(prefixEnd("user/")).toBe("user0");
    expect(prefixEnd("\u{10FFFF}")).toBeUndefined();
    expect(prefixEnd("a\u{10FFFF}")).toBe("b");
  });
});

describe("keySuccessor", () => {
  it("is the next key in order, with nothing between", () => {
    expect(compareKeys(keySuccessor("a"), "a")).toBeGreaterThan(0);
    expect(compareKeys(keySuccessor("a"), "a\u0001")).toBeLessThan(0);
  });
});

describe("validateKey", () => {
  it.each([
    ["", "must not be empty"],
    ["a\uD800b", "lone UTF-16 surrogate"],
    ["\uDC00", "lone UTF-16 surrogate"],
    ["x".repeat(1025), "longer than 1024"],
    [42, "expected a string"],
  ])("rejects %j, naming the field", (key, message) => {
    expect(() => validateKey(key, "ops[0].key")).toThrowError(message);
    try {
      validateKey(key, "ops[0].key");
    } catch (error) {
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as TroupeError).message).toMatch(/^ops\[0\]\.key: /);
    }
  });

  it("accepts NUL, control characters, astral characters and exactly 1024 bytes", () => {
    for (const key of ["\u0000", "\u0001\u007f\u0080", "\u{1F600}", "é".repeat(512)]) {
      expect(() => validateKey(key)).not.toThrow();
    }
  });
});
