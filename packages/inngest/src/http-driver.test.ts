import { describe, expect, it } from "vitest";
import { mapOp, parseRetryAfter, toSerializedError } from "./http-driver.js";

const context = { now: 1_000_000, noRetry: false, retryAt: undefined, index: 0 };

describe("opcode mapping", () => {
  it("reads a sleep's duration or date from opts.duration ?? name; empty is now", () => {
    expect(mapOp({ id: "h", op: "Sleep", name: "1h30m" }, context)).toMatchObject({
      until: 1_000_000 + 5_400_000,
    });
    expect(
      mapOp({ id: "h", op: "Sleep", name: "x", opts: { duration: "2s" } }, context),
    ).toMatchObject({
      until: 1_002_000,
    });
    expect(
      mapOp({ id: "h", op: "Sleep", name: "2030-01-01T00:00:00.000Z" }, context),
    ).toMatchObject({
      until: Date.UTC(2030, 0, 1),
    });
    expect(mapOp({ id: "h", op: "Sleep", name: "" }, context)).toMatchObject({ until: 1_000_000 });
  });

  it("reads a wait's event from opts.event ?? name, with its condition and timeout", () => {
    expect(
      mapOp(
        {
          id: "h",
          op: "WaitForEvent",
          name: "demo/approve",
          displayName: "approval",
          opts: { timeout: "3d", if: "a == b" },
        },
        context,
      ),
    ).toEqual({
      op: "WaitForEvent",
      id: "h",
      name: "approval",
      event: "demo/approve",
      timeoutMs: 259_200_000,
      if: "a == b",
    });
  });

  it("turns a StepError into StepFailed when the SDK says no retry", () => {
    const op = { id: "h", op: "StepError", name: "s", error: { name: "Error", message: "boom" } };
    expect(mapOp(op, context)).toMatchObject({ op: "StepError" });
    expect(mapOp(op, { ...context, noRetry: true })).toMatchObject({
      op: "StepFailed",
      error: { message: "boom" },
    });
    expect(mapOp(op, { ...context, retryAt: 5 })).toMatchObject({ op: "StepError", retryAt: 5 });
  });

  it("maps invoke, names unsupported ops, and ignores lazy ones", () => {
    expect(
      mapOp(
        {
          id: "h",
          op: "InvokeFunction",
          opts: { function_id: "app-child", payload: { data: { x: 1 } }, timeout: "1h" },
        },
        context,
      ),
    ).toMatchObject({
      op: "InvokeFunction",
      functionId: "app-child",
      data: { x: 1 },
      timeoutMs: 3_600_000,
    });
    expect(mapOp({ id: "h", op: "NoSuchOp" }, context)).toContain("not supported");
    expect(
      mapOp(
        {
          id: "h",
          op: "WaitForSignal",
          name: "s",
          opts: { signal: "s", timeout: "1h", conflict: "fail" },
        },
        context,
      ),
    ).toEqual({
      op: "WaitForSignal",
      id: "h",
      name: "s",
      signal: "s",
      timeoutMs: 3_600_000,
      onConflict: "fail",
    });
    expect(mapOp({ id: "h", op: "WaitForSignal" }, context)).toContain("ops[0].opts.signal");
    expect(
      mapOp({ id: "h", op: "WaitForSignal", opts: { signal: "s", conflict: "x" } }, context),
    ).toContain("ops[0].opts.conflict");
    expect(mapOp({ id: "h", op: "DeferAdd" }, context)).toBeUndefined();
    expect(mapOp({ id: "h", op: "RunComplete", data: 1 }, context)).toBe("complete");
  });

  it("parses Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("30", 1000)).toBe(31_000);
    expect(parseRetryAfter("2030-01-01T00:00:00Z", 0)).toBe(Date.UTC(2030, 0, 1));
    expect(parseRetryAfter(null, 0)).toBeUndefined();
  });

  it("reads serialized errors and falls back to a message", () => {
    expect(
      toSerializedError({ name: "NonRetriableError", message: "nope", __serialized: true }, "x"),
    ).toEqual({
      name: "NonRetriableError",
      message: "nope",
    });
    expect(toSerializedError({ error: "Could not find step" }, "x")).toEqual({
      name: "Error",
      message: "Could not find step",
    });
    expect(toSerializedError("<html>", "HTTP 502")).toEqual({ name: "Error", message: "HTTP 502" });
  });
});
