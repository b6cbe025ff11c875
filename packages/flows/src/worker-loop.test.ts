import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { createFlows } from "./engine.js";
import { createFunction } from "./function.js";

const double = createFunction(
  { id: "double", triggers: [{ event: "t/double" }] },
  async ({ event, step }) => step.run("double", () => Number(event.data.n) * 2),
);

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

/**
 * Ports shared by a "crashed" worker and its successor: the crashed one is modelled by claiming
 * the run's item under its identity and never settling it, as a SIGKILLed process leaves it.
 */
async function crashedWorkerHolding(workerId: string) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = createMemoryStore();
  const queue = createMemoryQueue({ clock });
  const open = () => {
    const flows = createFlows({ store, queue, clock, functions: [double], leaseMs: 60_000 });
    stops.push(() => flows.stop());
    return flows;
  };
  const sender = open();
  const { ids } = await sender.send({ name: "t/double", data: { n: 21 } });
  const held = await queue.claim({ limit: 10, leaseMs: 60_000, owner: workerId });
  expect(held).toHaveLength(1);
  const [run] = (await sender.getEventRuns(ids[0] ?? "")).runs;
  if (!run) throw new Error("the event started no run");
  return { queue, open, runId: run.id };
}

describe("a worker restarted under its identity", () => {
  it("takes back the leases its crashed predecessor held and finishes the run with no time passing", async () => {
    const { queue, open, runId } = await crashedWorkerHolding("node-1");
    const flows = open();
    await flows.start({ workerId: "node-1" });
    const run = await flows.waitForRun(runId);
    expect(run).toMatchObject({ status: "completed", output: 42 });
    await flows.stop(); // the item in hand is acknowledged
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
  });

  it("leaves leases of another identity to lapse", async () => {
    const { queue, open, runId } = await crashedWorkerHolding("node-1");
    const flows = open();
    await flows.start({ workerId: "node-2" });
    // Only a due item can be processed; the crashed worker's lease has not lapsed.
    expect(await flows.runDue()).toBe(0);
    expect((await flows.getRun(runId))?.status).not.toBe("completed");
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 1 });
  });

  it("rejects a bad identity naming the field", async () => {
    const { open } = await crashedWorkerHolding("node-1");
    await expect(open().start({ workerId: "bad id" })).rejects.toThrow(/start\.workerId/);
  });
});

describe("a run's inline steps", () => {
  it("run its handler once: each discovery goes on from where the last step left it", async () => {
    const calls = { starts: 0, steps: 0 };
    const three = createFunction(
      { id: "three", triggers: [{ event: "t/three" }] },
      async ({ event, step }) => {
        calls.starts++;
        const counted = <T>(value: T) => {
          calls.steps++;
          return value;
        };
        const a = await step.run("a", () => counted(Number(event.data.n) + 1));
        const b = await step.run("b", () => counted(a * 2));
        return step.run("c", () => counted(b + 1));
      },
    );
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const flows = createFlows({
      store: createMemoryStore(),
      queue: createMemoryQueue({ clock }),
      clock,
      functions: [three],
    });
    stops.push(() => flows.stop());
    const { ids } = await flows.send({ name: "t/three", data: { n: 1 } });
    expect(await flows.runDue()).toBe(1);
    const [run] = (await flows.getEventRuns(ids[0] ?? "")).runs;
    expect(await flows.getRun(run?.id ?? "")).toMatchObject({ status: "completed", output: 5 });
    // Replaying from the top at each step would start it three times.
    expect(calls).toEqual({ starts: 1, steps: 3 });
  });
});
