import {
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  ManualClock,
  type Store,
} from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows } from "../engine.js";
import { createFunction } from "../function.js";

const DAY = 86_400_000;

async function keysUnder(store: Store, prefix: string): Promise<string[]> {
  return (await store.list({ prefix })).map((entry) => entry.key.slice(prefix.length));
}

function setup(retention?: { events?: string; runs?: string; batchSize?: number } | false) {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
  const store = createMemoryStore();
  const queue = createMemoryQueue({ clock });
  const metrics = createMemoryMetrics();
  const quick = createFunction(
    { id: "quick", triggers: [{ event: "a/quick" }] },
    async ({ step }) => step.run("one", () => 1),
  );
  const sleeper = createFunction(
    { id: "sleeper", triggers: [{ event: "a/sleep" }] },
    async ({ step }) => {
      await step.sleep("long", "20d");
      return "woke";
    },
  );
  const flows = createFlows({
    store,
    queue,
    clock,
    metrics,
    prefix: "p/",
    functions: [quick, sleeper],
    ...(retention === undefined ? {} : { retention }),
  });
  return { clock, store, flows, metrics };
}

const removed = (metrics: ReturnType<typeof createMemoryMetrics>, kind: string) =>
  metrics.value("troupe_retention_removed_total", { kind });

describe("retention sweeper", () => {
  it("deletes finished runs, events and dedupe ids once expired, and never a sleeping run", async () => {
    const { clock, store, flows, metrics } = setup();
    await flows.send([
      { name: "a/quick", id: "d1" },
      { name: "a/quick", id: "d2" },
      { name: "a/quick" },
      { name: "a/sleep" },
    ]);
    await flows.runDue();
    const quickRuns = await flows.listRuns({ functionId: "quick" });
    expect(quickRuns.map((run) => run.status)).toEqual(["completed", "completed", "completed"]);
    const [sleeping] = await flows.listRuns({ functionId: "sleeper" });
    if (!sleeping) throw new Error("no sleeper run");

    // Nothing is due before its time.
    await clock.advance(6 * DAY);
    await flows.sweep();
    expect(await flows.listRuns()).toHaveLength(4);
    expect(await flows.listEvents()).toHaveLength(4);

    await clock.advance(2 * DAY);
    await flows.sweep();
    expect(await flows.listRuns({ functionId: "quick" })).toEqual([]);
    for (const run of quickRuns) expect(await flows.getRun(run.id)).toBeUndefined();
    expect(await flows.listEvents()).toEqual([]);
    expect((await flows.getRun(sleeping.id))?.status).toBe("running");
    expect(removed(metrics, "run")).toBe(3);
    expect(removed(metrics, "event")).toBe(4);
    expect(removed(metrics, "dedupe")).toBe(2);
    expect(removed(metrics, "runs_by_event")).toBe(3);

    // The sleeper finishes after 20 days and is kept 7 more.
    await clock.advance(13 * DAY);
    await flows.runDue();
    expect((await flows.getRun(sleeping.id))?.output).toBe("woke");
    await clock.advance(6 * DAY);
    await flows.sweep();
    expect((await flows.getRun(sleeping.id))?.status).toBe("completed");
    await clock.advance(2 * DAY);
    await flows.sweep();
    expect(await flows.getRun(sleeping.id)).toBeUndefined();
    expect(removed(metrics, "run")).toBe(4);
    expect(await keysUnder(store, "p/")).toEqual([]);
    await flows.close();
  });

  it("a dedupe id still dedupes within its window, and is gone after", async () => {
    const { clock, store, flows } = setup();
    await flows.send({ name: "a/quick", id: "same" });
    await clock.advance(DAY / 2);
    await flows.sweep();
    await flows.send({ name: "a/quick", id: "same" });
    await flows.runDue();
    expect(await flows.listRuns({ functionId: "quick" })).toHaveLength(1);
    await clock.advance(DAY);
    await flows.sweep();
    expect(await keysUnder(store, "p/dd/")).toEqual([]);
    await flows.close();
  });

  it("works through a backlog in bounded passes", async () => {
    const { clock, flows, metrics } = setup({ batchSize: 7 });
    await flows.send(Array.from({ length: 40 }, () => ({ name: "a/quick" })));
    await flows.runDue();
    await clock.advance(8 * DAY);
    await flows.sweep();
    expect(await flows.listRuns()).toEqual([]);
    expect(await flows.listEvents()).toEqual([]);
    // 40 events and 40 runs: 80 index entries, 7 a pass.
    expect(metrics.value("troupe_retention_passes_total")).toBe(Math.ceil(80 / 7));
    await flows.close();
  });

  it("two engines sweeping one Store at once delete and count each record once", async () => {
    const first = setup({ batchSize: 5 });
    const quick = createFunction({ id: "quick", triggers: [{ event: "a/quick" }] }, async () => 1);
    const otherMetrics = createMemoryMetrics();
    const second = createFlows({
      store: first.store,
      queue: createMemoryQueue({ clock: first.clock }),
      clock: first.clock,
      metrics: otherMetrics,
      prefix: "p/",
      functions: [quick],
      retention: { batchSize: 5 },
    });
    await first.flows.send(Array.from({ length: 30 }, () => ({ name: "a/quick" })));
    await first.flows.runDue();
    await first.clock.advance(8 * DAY);
    await Promise.all([first.flows.sweep(), second.sweep(), first.flows.sweep()]);
    expect(await keysUnder(first.store, "p/")).toEqual([]);
    for (const kind of ["event", "run"]) {
      expect(removed(first.metrics, kind) + removed(otherMetrics, kind)).toBe(30);
    }
    await first.flows.close();
    await second.close();
  });

  it("keeps everything when off", async () => {
    const { clock, store, flows, metrics } = setup(false);
    await flows.send({ name: "a/quick" });
    await flows.runDue();
    await clock.advance(30 * DAY);
    await flows.sweep();
    expect(await flows.listRuns()).toHaveLength(1);
    expect(await keysUnder(store, "p/x/")).toEqual([]);
    expect(removed(metrics, "run")).toBe(0);
    await flows.close();
  });
});
