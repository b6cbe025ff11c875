import { createMemoryQueue, createMemoryStore, ManualClock, type Queue } from "@troupe/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createFlows, createFunction, type Flows } from "../src/index.js";

// The worker's idle timer comes from a ManualClock that never moves here: a worker that misses a
// wake-up sleeps forever, so every run below completes only if no wake-up is lost.

const echo = createFunction({ id: "echo", triggers: [{ event: "t/echo" }] }, async ({ step }) => {
  const a = await step.run("a", () => 1);
  return step.run("b", () => a + 1);
});

let flows: Flows | undefined;
afterEach(async () => {
  await flows?.stop();
  flows = undefined;
});

/** A queue whose next check answers from before `during` ran (as a slow round trip would). */
function racingQueue(inner: Queue, check: "nextAvailableAt" | "claim") {
  let during: (() => Promise<void>) | undefined;
  const queue: Queue = Object.create(inner) as Queue;
  queue.nextAvailableAt = async () => {
    const answer = await inner.nextAvailableAt();
    const hook = check === "nextAvailableAt" ? during : undefined;
    if (hook) {
      during = undefined;
      await hook();
    }
    return answer;
  };
  queue.claim = async (options) => {
    const leases = await inner.claim(options);
    const hook = check === "claim" && leases.length === 0 ? during : undefined;
    if (hook) {
      during = undefined;
      await hook();
    }
    return leases;
  };
  return { queue, armed: (fn: () => Promise<void>) => (during = fn) };
}

async function completed(engine: Flows) {
  const [run] = await engine.listRuns({ functionId: "echo" });
  if (!run) return undefined;
  return (await engine.getRun(run.id))?.status;
}

describe("worker wake-ups", () => {
  for (const check of ["nextAvailableAt", "claim"] as const) {
    it(`an event sent while the idle worker runs ${check} is picked up without a poll`, async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 1));
      const store = createMemoryStore();
      const raced = racingQueue(createMemoryQueue({ clock }), check);
      const engine = createFlows({
        store,
        queue: raced.queue,
        clock,
        functions: [echo],
        keepProcessAlive: false,
      });
      flows = engine;
      let sent = false;
      // The event lands inside the worker's check: the check's answer says "nothing to do".
      raced.armed(async () => {
        await engine.send({ name: "t/echo" });
        sent = true;
      });
      await engine.start();
      await vi.waitFor(() => expect(sent).toBe(true), { timeout: 5000 });
      await vi.waitFor(async () => expect(await completed(engine)).toBe("completed"), {
        timeout: 5000,
        interval: 20,
      });
    });
  }
});
