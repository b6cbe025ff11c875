import { describe, expect, it } from "vitest";
import { invokeOptionsOf, waitEventsOf } from "./troupe-extensions.js";

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

describe("waitEventsOf", () => {
  it("leaves a single event name alone", () => {
    expect(waitEventsOf("order/paid", "x")).toEqual({ event: "order/paid" });
  });

  it("splits names on |, the condition applying to each", () => {
    expect(waitEventsOf("order/paid | order/cancelled", "c")).toEqual({
      event: "order/paid",
      anyOf: [{ event: "order/cancelled", if: "c" }],
    });
    expect(waitEventsOf("a|b|a", undefined)).toEqual({ event: "a", anyOf: [{ event: "b" }] });
  });

  it("refuses an empty part or too many parts", () => {
    expect(waitEventsOf("a||b", undefined)).toHaveProperty("error");
    expect(
      waitEventsOf(Array.from({ length: 17 }, (_, n) => `e${n}`).join("|"), undefined),
    ).toHaveProperty("error");
  });
});
