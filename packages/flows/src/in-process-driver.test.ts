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
    expect(response).toMatchObject({ type: "ops" });
    expect(response.type === "ops" && response.ops).toEqual([
      expect.objectContaining({ op: "StepRun", name: "a" }),
    ]);
    expect(response).not.toHaveProperty("after");
  });
});

/** The discovery after `asked` was answered with `first` (its inline step's result committed). */
function nextDiscovery(first: DriverResponse, asked: DriverRequest = request): DriverRequest {
  if (first.type !== "ops") throw new Error(`expected ops, got ${first.type}`);
  const [op] = first.ops;
  if (op?.op !== "StepRun") throw new Error("expected the inline step's result");
  const { resume: _, ...base } = asked;
  return {
    ...base,
    steps: { ...asked.steps, [op.id]: { data: op.data } },
    stack: [...asked.stack, op.id],
    ...(first.resume === undefined ? {} : { resume: first.resume }),
  };
}

describe("in-process driver: resuming the handler at the next discovery", () => {
  const threeSteps = () => {
    const calls = { starts: 0, a: 0, b: 0, c: 0 };
    const driver = driverOf(async ({ step }) => {
      calls.starts++;
      const a = await step.run("a", () => ++calls.a);
      const b = await step.run("b", () => a + ++calls.b * 10);
      return step.run("c", () => b + ++calls.c * 100);
    });
    return { driver, calls };
  };

  it("goes on from where the handler waits instead of replaying it from the top", async () => {
    const { driver, calls } = threeSteps();
    const first = await driver.execute(request);
    expect(first).toHaveProperty("resume");
    const secondAsked = nextDiscovery(first);
    const second = await driver.execute(secondAsked);
    expect(second).toMatchObject({ type: "ops", ops: [{ op: "StepRun", name: "b", data: 11 }] });
    const third = await driver.execute(nextDiscovery(second, secondAsked));
    expect(third).toMatchObject({
      type: "ops",
      ops: [{ op: "StepRun", name: "c", data: 111 }],
      after: { type: "complete", output: 111 },
    });
    // The handler started once; each step ran once.
    expect(calls).toEqual({ starts: 1, a: 1, b: 1, c: 1 });
  });

  it("replays as usual when the resume does not fit the request, and uses a resume once", async () => {
    const { driver, calls } = threeSteps();
    const first = await driver.execute(request);
    const fitting = nextDiscovery(first);
    // Another stack (say, the run moved on elsewhere): replay from the top.
    const other = await driver.execute({ ...fitting, attempt: 1 });
    expect(other).toMatchObject({ type: "ops", ops: [{ op: "StepRun", name: "b" }] });
    expect(calls.starts).toBe(2);
    // Already used once (by the request that did not fit): replay again.
    await driver.execute(fitting);
    expect(calls.starts).toBe(3);
    // A resume from another driver is not taken either.
    const { driver: stranger, calls: strangerCalls } = threeSteps();
    await stranger.execute(nextDiscovery(await driver.execute(request)));
    expect(strangerCalls.starts).toBe(1);
  });

  it("never resumes a planned-step request or one that must plan", async () => {
    const { driver, calls } = threeSteps();
    const first = await driver.execute(request);
    const planned = await driver.execute({
      ...nextDiscovery(first),
      disableImmediateExecution: true,
    });
    expect(planned).toMatchObject({ type: "ops", ops: [{ op: "StepPlanned", name: "b" }] });
    expect(calls).toMatchObject({ starts: 2, b: 0 });
  });
});
