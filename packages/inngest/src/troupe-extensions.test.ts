import { describe, expect, it } from "vitest";
import { invokeOptionsOf } from "./troupe-extensions.js";

describe("invokeOptionsOf", () => {
  it("leaves data without the key alone", () => {
    const data = { x: 1 };
    expect(invokeOptionsOf(data)).toEqual({ data });
    expect(invokeOptionsOf(null)).toEqual({ data: null });
  });

  it("takes cascadeCancel: false off the data", () => {
    expect(invokeOptionsOf({ x: 1, _troupe: { cascadeCancel: false } })).toEqual({
      data: { x: 1 },
      cascadeCancel: false,
    });
  });

  it("removes the key even when it asks for nothing", () => {
    expect(invokeOptionsOf({ x: 1, _troupe: { cascadeCancel: true } })).toEqual({
      data: { x: 1 },
    });
  });
});
