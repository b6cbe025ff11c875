import { describe, expect, it } from "vitest";
import { holdWritesForTurn } from "./write-batch.js";

describe("holdWritesForTurn", () => {
  it("corks a socket once per turn and uncorks it in the check phase", async () => {
    const calls: string[] = [];
    const socket = { cork: () => calls.push("cork"), uncork: () => calls.push("uncork") };
    for (let i = 0; i < 5; i++) holdWritesForTurn(socket);
    expect(calls).toEqual(["cork"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(["cork", "uncork"]);
    holdWritesForTurn(socket);
    expect(calls).toEqual(["cork", "uncork", "cork"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(["cork", "uncork", "cork", "uncork"]);
  });
});
