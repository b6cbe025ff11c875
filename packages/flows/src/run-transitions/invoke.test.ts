import { describe, expect, it } from "vitest";
import { INTERNAL_EVENTS } from "../function.js";
import { anEnv, aRun, NOW } from "./fixtures.js";
import { invokeFunction } from "./invoke.js";

describe("invokeFunction (InvokeFunction)", () => {
  it("starts a child run in the same commit; the step waits for it until the timeout", () => {
    const outcome = invokeFunction(
      aRun(),
      {
        op: "InvokeFunction",
        id: "h1",
        name: "call",
        functionId: "child",
        data: { x: 1 },
        timeoutMs: 9000,
      },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({
      status: "invoking",
      at: NOW + 9000,
      input: [{ x: 1 }],
      child: { runId: "id2", functionId: "child", data: { x: 1 } },
    });
    expect(outcome.effects.children).toEqual([
      {
        runId: "id2",
        functionId: "child",
        parentHash: "h1",
        event: { id: "id1", name: INTERNAL_EVENTS.invoked, data: { x: 1 }, ts: NOW },
      },
    ]);
  });

  it("fails the step at once when the target is not registered", () => {
    const outcome = invokeFunction(
      aRun(),
      {
        op: "InvokeFunction",
        id: "h1",
        name: "call",
        functionId: "nobody",
        data: null,
        timeoutMs: 9000,
      },
      anEnv(),
    );
    expect(outcome.run.steps.h1).toMatchObject({
      status: "failed",
      error: { name: "FLOWS_FUNCTION_NOT_FOUND" },
    });
    expect(outcome.run.stack).toEqual(["h1"]);
    expect(outcome.effects.children).toEqual([]);
  });
});
