import { describe, expect, it } from "vitest";
import {
  backoffStepId,
  compensationOrder,
  compensationStepId,
  forwardStepId,
  idempotencyKey,
  retryDelayMs,
} from "./saga-plan.js";

describe("saga plan (pure)", () => {
  it("names each attempt's flow step; the first attempt keeps the bare name", () => {
    expect([0, 1, 2].map((n) => forwardStepId("pay", n))).toEqual([
      "step:pay",
      "step:pay@1",
      "step:pay@2",
    ]);
    expect(compensationStepId("pay", 0)).toBe("compensate:pay");
    expect(compensationStepId("pay", 3)).toBe("compensate:pay@3");
    expect(backoffStepId("step:pay@1")).toBe("step:pay@1:backoff");
  });

  it("doubles the retry delay from baseMs up to maxMs, the same on every replay", () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => retryDelayMs(100, 1_000, n))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect(retryDelayMs(0, 1_000, 7)).toBe(0);
    expect(retryDelayMs(1_000, 60_000, 10_000)).toBe(60_000); // no overflow
  });

  it("compensates the completed steps that have a compensation, newest first", () => {
    const steps = [
      { name: "a", compensate: 1 },
      { name: "b" },
      { name: "c", compensate: 1 },
      { name: "d", compensate: 1 },
    ];
    const names = (done: string[]) =>
      compensationOrder(steps, new Set(done)).map((step) => step.name);
    expect(names([])).toEqual([]);
    expect(names(["a", "b", "c"])).toEqual(["c", "a"]);
    expect(names(["a", "b", "c", "d"])).toEqual(["d", "c", "a"]);
  });

  it("keys a step by saga, instance and step", () => {
    expect(idempotencyKey("order", "01J", "pay")).toBe("order/01J/pay");
    expect(idempotencyKey("order", "01J", "pay")).not.toBe(idempotencyKey("order", "01K", "pay"));
  });
});
