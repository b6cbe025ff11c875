import { ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import type { DriverRequest, DriverResponse } from "./driver.js";
import type { EventData } from "./event.js";
import { createFunction, type FlowFunction } from "./function.js";
import { createInProcessDriver } from "./in-process-driver.js";

const request: DriverRequest = {
  functionId: "f",
  runId: "run-1",
  event: { id: "e1", name: "go", data: {}, ts: 0 },
  events: [{ id: "e1", name: "go", data: {}, ts: 0 }],
  steps: {},
  stack: [],
  stepId: "discover",
  attempt: 0,
  maxAttempts: 1,
  disableImmediateExecution: false,
};

/** A driver for `handler`, and what `execute` resolved to once it has. */
function driverOf(handler: FlowFunction<unknown, EventData>["handler"]) {
  const fn = createFunction({ id: "f", triggers: [{ event: "go" }] }, handler);
  return createInProcessDriver(fn as unknown as FlowFunction<unknown, EventData>, {
    clock: new ManualClock(0),
    send: async () => ({ ids: [] }),
  });
}

/** Resolves after one macrotask turn (a setImmediate queued now has run). */
const oneTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("in-process driver: after the inline step", () => {
  it("answers as soon as the handler reaches its next step, without waiting for loop turns", async () => {
    // The handler does non-step work after step a, held until `release`: the answer must come
    // the moment it reaches step b, not after polling the event loop.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const driver = driverOf(async ({ step }) => {
      await step.run("a", () => 1);
      await held;
      await step.run("b", () => 2);
      return 3;
    });
    let answer: DriverResponse | undefined;
    const executing = driver.execute(request).then((response) => {
      answer = response;
    });
    // Step a has run and the handler waits on `held`: no answer however many turns pass.
    for (let turn = 0; turn < 5; turn++) await oneTurn();
    expect(answer).toBeUndefined();
    release();
    // Within the same turn (microtasks only): the old polling needed two more setImmediates.
    const turn = oneTurn();
    await Promise.race([executing, turn]);
    expect(answer).toMatchObject({ type: "ops", ops: [{ op: "StepRun", name: "a", data: 1 }] });
    expect(answer).not.toHaveProperty("after");
    await turn;
  });

  it("reports the run's end with the last step when the handler returns after it", async () => {
    const driver = driverOf(async ({ step }) => {
      const a = await step.run("a", () => 1);
      return a + 1;
    });
    const response = await driver.execute(request);
    expect(response).toMatchObject({
      type: "ops",
      ops: [{ op: "StepRun", name: "a", data: 1 }],
      after: { type: "complete", output: 2 },
    });
  });

  it("reports a throw after the last step as the run's failure, with the step", async () => {
    const driver = driverOf(async ({ step }) => {
      await step.run("a", () => 1);
      throw new Error("after a");
    });
    const response = await driver.execute(request);
    expect(response).toMatchObject({
      type: "ops",
      ops: [{ op: "StepRun", name: "a" }],
      after: { type: "error", retriable: true, error: { message: "after a" } },
    });
  });

  it("reports only the step that ran when the handler goes on to parallel steps", async () => {
    const driver = driverOf(async ({ step }) => {
      await step.run("a", () => 1);
      await Promise.all([step.run("b", () => 2), step.run("c", () => 3)]);
      return null;
    });
    const response = await driver.execute(request);
    expect(response).toEqual({
      type: "ops",
      ops: [expect.objectContaining({ op: "StepRun", name: "a" })],
    });
  });
});
