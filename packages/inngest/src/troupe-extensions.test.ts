import { describe, expect, it } from "vitest";
import { awaitedNamesOf, invokeOptionsOf, waitEventsOf } from "./troupe-extensions.js";

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

describe("waitEventsOf with a prefix wildcard", () => {
  const either = "async.name == 'order/paid' || 'order/cancelled' == async.name";

  it("files the wait under the names the if compares async.name with", () => {
    expect(waitEventsOf("order/*", either)).toEqual({
      event: "order/paid",
      anyOf: [{ event: "order/cancelled", if: either }],
    });
    const listed = `async.name in ["order/a", 'order/b'] && event.data.id == async.data.id`;
    expect(waitEventsOf("order/*", listed)).toEqual({
      event: "order/a",
      anyOf: [{ event: "order/b", if: listed }],
    });
    expect(waitEventsOf("*", "async.name == 'x'")).toEqual({ event: "x" });
  });

  it("reads escaped quotes in names", () => {
    expect(awaitedNamesOf(String.raw`async.name == 'it\'s' || async.name == "say \"hi\""`)).toEqual(
      ["it's", 'say "hi"'],
    );
  });

  it("refuses a wildcard that names no events, a name outside the prefix, or a bad pattern", () => {
    expect(waitEventsOf("order/*", undefined)).toEqual({
      error: expect.stringMatching(/needs the awaited event names in "if"/),
    });
    expect(waitEventsOf("order/*", "async.data.x == 1")).toHaveProperty("error");
    expect(waitEventsOf("order/*", "async.name == 'user/paid'")).toEqual({
      error: expect.stringMatching(/"user\/paid" in "if" does not start with .*"order\/"/),
    });
    expect(waitEventsOf("a|order/*", "async.name == 'order/x'")).toHaveProperty("error");
    expect(waitEventsOf("o*rder/*", "async.name == 'o*rder/x'")).toHaveProperty("error");
  });
});
