import { getPriority } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import { createStatsAggregator, type StatsAggregator } from "../src/index.js";
import { testActor } from "../src/test-actor.js";
import { lowerThreadPriority } from "../src/thread-priority.js";
import { priorityCombiner, subsystems } from "./priority-subsystems.js";

const MODULE = new URL("./priority-subsystems.ts", import.meta.url);
const open: StatsAggregator[] = [];

afterAll(async () => {
  await Promise.all(open.map((aggregator) => aggregator.close()));
});

/** The nice value each actor of a pooled batch was resolved at. */
async function niceOnWorkers(nice?: number): Promise<number[]> {
  const aggregator = createStatsAggregator({
    combiner: priorityCombiner,
    subsystems,
    workers: { module: MODULE, threads: 1, minBatch: 1, ...(nice === undefined ? {} : { nice }) },
  });
  open.push(aggregator);
  const actors = Array.from({ length: 300 }, (_, i) => testActor(`actor_${i}`, ["thread"], 1));
  const batch = await aggregator.resolveBatchCompact(actors);
  return Array.from({ length: batch.length }, (_, i) => batch.primary(i, "nice") as number);
}

describe("worker thread priority", () => {
  const here = getPriority(0);

  it.runIf(process.platform === "linux")(
    "runs the workers 5 nice steps below the calling thread by default, which keeps its own",
    async () => {
      const seen = await niceOnWorkers();
      expect(new Set(seen)).toEqual(new Set([Math.min(19, here + 5)]));
      expect(getPriority(0)).toBe(here);
    },
  );

  it.runIf(process.platform === "linux")("takes the steps from workers.nice", async () => {
    expect(new Set(await niceOnWorkers(3))).toEqual(new Set([Math.min(19, here + 3)]));
    expect(new Set(await niceOnWorkers(0))).toEqual(new Set([here]));
  });

  it("leaves the priority alone where nice is not per thread", () => {
    expect(lowerThreadPriority(10, "darwin")).toBe(false);
    expect(lowerThreadPriority(10, "win32")).toBe(false);
    expect(lowerThreadPriority(0, "linux")).toBe(false);
    expect(getPriority(0)).toBe(here);
  });

  it("rejects a nice outside 0–19, naming the field", () => {
    for (const nice of [-1, 20, 1.5]) {
      expect(() =>
        createStatsAggregator({ combiner: priorityCombiner, workers: { module: MODULE, nice } }),
      ).toThrow(/workers\.nice/);
    }
  });
});
