import { describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "./clock.js";

describe("ManualClock", () => {
  it("fires timers in time order, then creation order, as time advances", async () => {
    const clock = new ManualClock(1000);
    const fired: string[] = [];
    clock.setTimer(50, () => fired.push("b"));
    clock.setTimer(10, () => fired.push("a"));
    clock.setTimer(50, () => fired.push("c"));
    const cancelled = clock.setTimer(20, () => fired.push("never"));
    cancelled.cancel();
    await clock.advance(49);
    expect(fired).toEqual(["a"]);
    expect(clock.now()).toBe(1049);
    await clock.advance(1);
    expect(fired).toEqual(["a", "b", "c"]);
    expect(clock.pendingTimers).toBe(0);
  });

  it("lets code that sleeps in a loop run to completion within one advance", async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(100);
        seen.push(clock.now());
      }
    })();
    await clock.advance(300);
    await loop;
    expect(seen).toEqual([100, 200, 300]);
  });

  it("rejects a sleep when its signal aborts, and never fires it", async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    controller.abort(new Error("stopped"));
    await expect(sleeping).rejects.toThrow("stopped");
    expect(clock.pendingTimers).toBe(0);
  });

  it("reports the next timer and never goes backwards", async () => {
    const clock = new ManualClock(500);
    clock.setTimer(70, () => {});
    expect(clock.nextTimerAt()).toBe(570);
    await clock.advanceTo(100);
    expect(clock.now()).toBe(500);
  });
});

describe("systemClock", () => {
  it("reads wall time and resolves sleeps", async () => {
    const before = Date.now();
    await systemClock.sleep(1);
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
  });
});
