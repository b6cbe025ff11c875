import { describe, expect, it } from "vitest";
import { compileExpression, matches } from "./expression.js";

describe("CEL expressions", () => {
  it("evaluates the forms Inngest users write over event and async", () => {
    const event = { name: "a", data: { id: "x", min: 3, vip: true, tags: ["a", "b"] } };
    const candidate = { name: "b", data: { id: "x", amount: 5 } };
    expect(matches("event.data.id == async.data.id", { event, async: candidate })).toBe(true);
    expect(matches("async.data.amount > event.data.min", { event, async: candidate })).toBe(true);
    expect(matches("event.data.vip && size(event.data.tags) == 2", { event })).toBe(true);
    expect(matches("event.data.id == 'y' || has(event.data.nope)", { event })).toBe(false);
  });

  it("treats evaluation errors as no match, and rejects bad syntax naming the field", () => {
    expect(matches("event.data.missing == 1", { event: { data: {} } })).toBe(false);
    expect(() => compileExpression("event.data.x ==", "triggers[0].if")).toThrow(
      /triggers\[0\]\.if/,
    );
  });
});
