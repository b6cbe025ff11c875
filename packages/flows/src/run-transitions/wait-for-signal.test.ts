import { describe, expect, it } from "vitest";
import type { WaitForSignalOp } from "../driver.js";
import { decodeSignalEntry, type SignalHolder } from "../signal-entry.js";
import { anEnv, aRun, NOW, snapshot } from "./fixtures.js";
import { waitForSignal } from "./wait-for-signal.js";

const op = (fields: Partial<WaitForSignalOp> = {}): WaitForSignalOp => ({
  op: "WaitForSignal",
  id: "h1",
  name: "approval",
  signal: "order/1",
  timeoutMs: 5000,
  onConflict: "fail",
  ...fields,
});

const holders = (holder: SignalHolder) => new Map([["order/1", holder]]);
const key = "flows/sg/order%2F1";

describe("waitForSignal (WaitForSignal)", () => {
  it("takes a free signal, guarded on it being absent, and waits until the timeout", () => {
    const run = aRun();
    const before = snapshot(run);
    const outcome = waitForSignal(
      run,
      op(),
      anEnv({ signalHolders: holders({ live: false, expect: "absent" }) }),
    );
    expect(run).toEqual(before);
    expect(outcome.run.steps.h1).toMatchObject({
      op: "waitForSignal",
      status: "waiting",
      at: NOW + 5000,
      signal: { name: "order/1", key },
    });
    const [set] = outcome.effects.ops;
    expect(set).toMatchObject({ type: "set", key, expect: "absent" });
    if (set?.type !== "set") return;
    expect(decodeSignalEntry(set.value)).toEqual({
      runId: "run1",
      hash: "h1",
      expiresAt: NOW + 5000,
    });
    expect(outcome.progressed).toBe(true);
  });

  it('"fail" with another run\'s live wait fails the step and writes nothing', () => {
    const outcome = waitForSignal(
      aRun(),
      op(),
      anEnv({
        signalHolders: holders({
          live: true,
          expect: 7,
          entry: { runId: "other", hash: "h9", expiresAt: NOW + 1000 },
        }),
      }),
    );
    expect(outcome.run.steps.h1).toMatchObject({
      status: "failed",
      error: { name: "SignalConflictError" },
    });
    expect(outcome.run.stack).toEqual(["h1"]);
    expect(outcome.effects.ops).toEqual([]);
  });

  it('"replace" takes a live signal over, guarded on the version it read', () => {
    const outcome = waitForSignal(
      aRun(),
      op({ onConflict: "replace" }),
      anEnv({
        signalHolders: holders({
          live: true,
          expect: 7,
          entry: { runId: "other", hash: "h9", expiresAt: NOW + 1000 },
        }),
      }),
    );
    expect(outcome.run.steps.h1?.status).toBe("waiting");
    expect(outcome.effects.ops[0]).toMatchObject({ type: "set", key, expect: 7 });
  });

  it('"fail" takes a signal whose holder is no longer live (timed out, finished)', () => {
    const outcome = waitForSignal(
      aRun(),
      op(),
      anEnv({
        signalHolders: holders({
          live: false,
          expect: 3,
          entry: { runId: "other", hash: "h9", expiresAt: NOW - 1 },
        }),
      }),
    );
    expect(outcome.run.steps.h1?.status).toBe("waiting");
    expect(outcome.effects.ops[0]).toMatchObject({ type: "set", key, expect: 3 });
  });
});
