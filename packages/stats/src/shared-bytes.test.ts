import { describe, expect, it } from "vitest";
import { SharedBytes } from "./shared-bytes.js";

describe("SharedBytes", () => {
  it("allows shared memory until the batches hold the budget, and again once they are released", () => {
    const budget = new SharedBytes(1000);
    expect(budget.available).toBe(true);
    budget.charge(600);
    expect(budget.available).toBe(true);
    budget.charge(400);
    expect(budget.bytes).toBe(1000);
    expect(budget.available).toBe(false);
    budget.release(400);
    expect(budget.available).toBe(true);
    budget.release(5000);
    expect(budget.bytes).toBe(0);
  });
});
