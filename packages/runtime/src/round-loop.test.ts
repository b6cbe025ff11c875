import { ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createRoundLoop } from "./round-loop.js";

/** A loop every 1,000 ms on a manual clock whose rounds only count themselves. */
function countingLoop(again?: (rounds: number) => boolean) {
  const clock = new ManualClock();
  let rounds = 0;
  const loop = createRoundLoop({
    round: async () => {
      rounds++;
    },
    intervalMs: 1000,
    clock,
    ...(again === undefined ? {} : { again: () => again(rounds) }),
  });
  return { clock, loop, rounds: () => rounds };
}

describe("createRoundLoop", () => {
  it("runs a round at start and one each interval after, until stopped", async () => {
    const { clock, loop, rounds } = countingLoop();
    await loop.start();
    expect(rounds()).toBe(1);
    await clock.advance(999);
    expect(rounds()).toBe(1);
    await clock.advance(1);
    await clock.advance(1000);
    expect(rounds()).toBe(3);
    await loop.stop();
    await clock.advance(5000);
    expect(rounds()).toBe(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it("schedules no further round once `again` says none is due", async () => {
    const { clock, loop, rounds } = countingLoop((count) => count < 2);
    await loop.start();
    await clock.advance(1000);
    await clock.advance(1000);
    expect(rounds()).toBe(2);
    expect(clock.pendingTimers).toBe(0);
    await loop.stop();
  });

  it("stop waits for a running round", async () => {
    const clock = new ManualClock();
    let finish: (() => void) | undefined;
    let finished = false;
    const loop = createRoundLoop({
      round: () =>
        new Promise<void>((resolve) => {
          finish = () => {
            finished = true;
            resolve();
          };
        }),
      intervalMs: 1000,
      clock,
    });
    const started = loop.start();
    const stopped = loop.stop().then(() => finished);
    finish?.();
    await started;
    expect(await stopped).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });
});
