import { describe, expect, it } from "vitest";
import { jsonBytes, takeWithinBytes } from "./list-bounds.js";

describe("takeWithinBytes", () => {
  const items = [1, 2, 3, 4, 5].map((n) => ({ id: n, text: "x".repeat(100) }));
  const one = jsonBytes(items[0]);

  it("keeps the items that fit, in order, and says when some were left out", () => {
    const page = takeWithinBytes(items, 2 + one * 3 + 2);
    expect(page.items.map((item) => item.id)).toEqual([1, 2, 3]);
    expect(page.truncated).toBe(true);
    expect(jsonBytes(page.items)).toBeLessThanOrEqual(2 + one * 3 + 2);
    expect(takeWithinBytes(items, 1_000_000)).toEqual({ items, truncated: false });
  });

  it("always keeps the first item, so paging makes progress", () => {
    expect(takeWithinBytes(items, 10)).toEqual({ items: [items[0]], truncated: true });
    expect(takeWithinBytes([], 10)).toEqual({ items: [], truncated: false });
  });

  it("counts UTF-8 bytes, not UTF-16 units", () => {
    expect(jsonBytes("é")).toBe(4);
    expect(jsonBytes("🎲")).toBe(6);
  });
});
