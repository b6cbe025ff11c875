import { describe, expect, it } from "vitest";
import { secretEquals, secretIn } from "./secret-compare.js";

describe("secretEquals / secretIn", () => {
  it("accepts only the exact secret, whatever the lengths", () => {
    expect(secretEquals("s3cret-token", "s3cret-token")).toBe(true);
    expect(secretEquals("s3cret-toke", "s3cret-token")).toBe(false);
    expect(secretEquals("s3cret-token-and-more", "s3cret-token")).toBe(false);
    expect(secretEquals("", "s3cret-token")).toBe(false);
    expect(secretEquals("S3CRET-TOKEN", "s3cret-token")).toBe(false);
  });

  it("matches any of several keys, and nothing against an empty list", () => {
    expect(secretIn("two", ["one", "two", "three"])).toBe(true);
    expect(secretIn("four", ["one", "two", "three"])).toBe(false);
    // a substring of a key is not the key (what `includes` on a joined string would get wrong)
    expect(secretIn("tw", ["one", "two"])).toBe(false);
    expect(secretIn("two", [])).toBe(false);
  });
});
