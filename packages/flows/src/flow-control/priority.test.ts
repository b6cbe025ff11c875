import { describe, expect, it } from "vitest";
import { parsePriority, priorityFactor, priorityStartAt } from "./priority.js";

const event = (data: Record<string, unknown>) => ({ id: "e", name: "x", data, ts: 0 });

describe("priority", () => {
  it("evaluates seconds, clamped to [-600, 600], and 0 when the expression fails", () => {
    const config = { run: "event.data.factor" };
    expect(priorityFactor(config, event({ factor: 120 }))).toBe(120);
    expect(priorityFactor(config, event({ factor: 5000 }))).toBe(600);
    expect(priorityFactor(config, event({ factor: -5000 }))).toBe(-600);
    expect(priorityFactor(config, event({ factor: 1.9 }))).toBe(1);
    expect(priorityFactor(config, event({ factor: "high" }))).toBe(0);
    expect(priorityFactor(config, event({}))).toBe(0);
    expect(priorityFactor(undefined, event({ factor: 1 }))).toBe(0);
    expect(priorityFactor({ run: "event.data.vip ? 60 : -60" }, event({ vip: true }))).toBe(60);
  });

  it("moves the start item earlier by the factor, or later for a negative one", () => {
    expect(priorityStartAt(1_000_000, 120)).toBe(880_000);
    expect(priorityStartAt(1_000_000, -30)).toBe(1_030_000);
    expect(priorityStartAt(10_000, 600)).toBe(0);
  });

  it("validates the option, naming the field", () => {
    expect(() => parsePriority({ run: "1 +" }, "priority")).toThrow(/priority\.run/);
    expect(() => parsePriority({ run: 5 }, "priority")).toThrow(/priority\.run/);
    expect(parsePriority({ run: "event.data.p" }, "priority")).toEqual({ run: "event.data.p" });
  });
});
