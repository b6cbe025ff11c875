import { TroupeError } from "@troupe/core";
import { afterAll, describe, expect, it } from "vitest";
import { createStatsAggregator, type StatsAggregator } from "../src/index.js";
import { testActor } from "../src/test-actor.js";
import { exitCombiner, subsystems } from "./exit-subsystems.js";

const MODULE = new URL("./exit-subsystems.ts", import.meta.url);
const open: StatsAggregator[] = [];

afterAll(async () => {
  await Promise.all(open.map((aggregator) => aggregator.close()));
});

function pooled(module: URL = MODULE): StatsAggregator {
  const aggregator = createStatsAggregator({
    combiner: exitCombiner,
    subsystems,
    workers: { module, threads: 1, minBatch: 1 },
  });
  open.push(aggregator);
  return aggregator;
}

const actors = (count: number, version: number, exitAt = -1) =>
  Array.from({ length: count }, (_, i) =>
    testActor(`hero_${i}`, ["level"], version, { level: i % 100, exit: i === exitAt }),
  );

describe("batch worker threads", () => {
  it("fails a batch whose thread ends mid-way, and starts another thread for the next", async () => {
    const aggregator = pooled();
    const failure = await aggregator
      .resolveBatchCompact(actors(600, 1, 300))
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(/batch worker thread exited with code 7/);
    const next = await aggregator.resolveBatchCompact(actors(600, 2));
    expect(next.length).toBe(600);
    expect(next.primary(599, "level")).toBe(99);
    const objects = await aggregator.resolveBatch(actors(300, 3));
    expect(objects.every((result) => result.error === undefined)).toBe(true);
  });

  it("refuses a workers module without subsystems, naming the option", async () => {
    const aggregator = pooled(new URL("./no-subsystems.ts", import.meta.url));
    const failure = await aggregator.resolveBatch(actors(10, 1)).catch((error: unknown) => error);
    expect(TroupeError.isInstance(failure, "INVALID_ARGUMENT")).toBe(true);
    expect((failure as Error).message).toContain("workers.module");
    // The thread survives a chunk it could not resolve: the same answer again, not a hang.
    const again = await aggregator.resolveBatch(actors(10, 2)).catch((error: unknown) => error);
    expect(TroupeError.isInstance(again, "INVALID_ARGUMENT")).toBe(true);
  });

  it("starts new threads for a batch after close", async () => {
    const aggregator = pooled();
    expect((await aggregator.resolveBatchCompact(actors(200, 1))).length).toBe(200);
    await aggregator.close();
    const after = await aggregator.resolveBatchCompact(actors(200, 2));
    expect(after.primary(150, "level")).toBe(50);
  });
});
