import { describe, expect, it } from "vitest";
import { ManualClock } from "./clock.js";
import { TroupeError } from "./errors.js";
import { createWakeSignal } from "./wake-signal.js";

describe("createWakeSignal", () => {
  it("a wake between the consumer's check and its sleep is not lost", async () => {
    const clock = new ManualClock();
    const signal = createWakeSignal(clock);
    const seen = signal.generation;
    // The check: work arrives and its producer wakes, before the consumer sleeps.
    signal.wake();
    expect(await signal.wait(seen, 1000)).toBe("woken");
  });

  it("a sleeping waiter wakes on wake(), and its timer no longer matters", async () => {
    const clock = new ManualClock();
    const signal = createWakeSignal(clock);
    const outcomes: string[] = [];
    const waiting = signal.wait(signal.generation, 1000).then((outcome) => outcomes.push(outcome));
    await clock.advance(500);
    expect(outcomes).toEqual([]);
    signal.wake();
    await waiting;
    await clock.advance(1000);
    expect(outcomes).toEqual(["woken"]);
  });

  it("without a wake the wait ends after timeoutMs by the clock", async () => {
    const clock = new ManualClock();
    const signal = createWakeSignal(clock);
    let outcome: string | undefined;
    const waiting = signal.wait(signal.generation, 1000).then((result) => {
      outcome = result;
    });
    await clock.advance(999);
    expect(outcome).toBeUndefined();
    await clock.advance(1);
    await waiting;
    expect(outcome).toBe("timeout");
    // A wake after the timeout is kept for the next wait that started before it.
    const seen = signal.generation;
    signal.wake();
    expect(await signal.wait(seen, 1000)).toBe("woken");
  });

  it("one wake ends every wait; a wait begun after it sleeps again", async () => {
    const clock = new ManualClock();
    const signal = createWakeSignal(clock);
    const seen = signal.generation;
    const all = Promise.all([signal.wait(seen, 5000), signal.wait(seen, 10), signal.wait(seen, 0)]);
    signal.wake();
    expect(await all).toEqual(["woken", "woken", "woken"]);
    let later: string | undefined;
    void signal.wait(signal.generation, 100).then((result) => {
      later = result;
    });
    await clock.advance(100);
    expect(later).toBe("timeout");
  });

  it("rejects a bad timeout naming the field", async () => {
    const signal = createWakeSignal(new ManualClock());
    for (const bad of [-1, 1.5, Number.NaN]) {
      const error = await signal.wait(0, bad).catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "INVALID_ARGUMENT")).toBe(true);
      expect((error as Error).message).toMatch(/^timeoutMs/);
    }
  });
});
