import { describe, expect, it } from "vitest";
import { createSuiteContext, createTestClock, waitFor } from "./suite-context.js";

describe("createSuiteContext", () => {
  it("gives each test a distinct id that is safe as a table, schema, file or queue name", () => {
    const contexts = Array.from({ length: 50 }, () => createSuiteContext());
    const ids = contexts.map((context) => context.id);
    expect(new Set(ids).size).toBe(50);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-z0-9_]{0,39}$/);
  });

  it("gives each test its own manual clock", async () => {
    const first = createSuiteContext();
    const second = createSuiteContext();
    await first.clock.advance(1000);
    expect(first.clock.now() - second.clock.now()).toBe(1000);
  });
});

describe("createTestClock", () => {
  it("starts at 2026-01-01 by default, or at the given time, and moves only when told", async () => {
    expect(createTestClock().now()).toBe(Date.UTC(2026, 0, 1));
    const clock = createTestClock(5000);
    expect(clock.now()).toBe(5000);
    let fired = false;
    clock.setTimer(100, () => {
      fired = true;
    });
    await clock.advance(99);
    expect(fired).toBe(false);
    await clock.advance(1);
    expect(fired).toBe(true);
  });
});

describe("waitFor", () => {
  it("resolves once the condition holds, sync or async", async () => {
    let polls = 0;
    await waitFor(() => ++polls >= 3);
    expect(polls).toBe(3);
    await waitFor(async () => true);
  });

  it("fails after timeoutMs naming what it waited for", async () => {
    await expect(waitFor(() => false, { timeoutMs: 30, what: "the reply" })).rejects.toThrow(
      "timed out after 30 ms waiting for the reply",
    );
  });
});
