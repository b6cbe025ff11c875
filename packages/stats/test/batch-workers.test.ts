import { ManualClock, TroupeError } from "@troupe/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  createStatsAggregator,
  type FailurePolicy,
  PooledSnapshot,
  plainSnapshot,
  type StatsAggregator,
} from "../src/index.js";
import { testActor } from "../src/test-actor.js";
import { actorBatch } from "./batch-arbitraries.js";
import { exact } from "./batch-exact.js";
import { batchCombiner, subsystems } from "./batch-subsystems.js";

const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const open: StatsAggregator[] = [];

function make(
  policy: FailurePolicy,
  pooled: boolean,
  extra = subsystems,
  snapshots: "objects" | "lazy" = "objects",
): StatsAggregator {
  const aggregator = createStatsAggregator({
    combiner: batchCombiner,
    subsystems: extra,
    failurePolicy: policy,
    clock: new ManualClock(1000),
    ...(pooled ? { workers: { module: MODULE, threads: 2, minBatch: 1, snapshots } } : {}),
  });
  open.push(aggregator);
  return aggregator;
}

afterAll(async () => {
  await Promise.all(open.map((aggregator) => aggregator.close()));
});

describe("resolveBatch on worker threads", () => {
  for (const policy of ["fail_fast", "degrade"] as const) {
    for (const form of ["objects", "lazy"] as const) {
      it(`gives every actor bit for bit what the calling thread gives (${policy}, ${form})`, async () => {
        const here = make(policy, false);
        const pooled = make(policy, true, subsystems, form);
        await fc.assert(
          fc.asyncProperty(actorBatch, async (actors) => {
            const [expected, actual] = await Promise.all([
              here.resolveBatch(actors),
              pooled.resolveBatch(actors),
            ]);
            expect(actual.map(exact)).toEqual(expected.map(exact));
            // The same text too: keys, their order, context and failed systems.
            expect(actual.map((result) => JSON.stringify(result.snapshot))).toEqual(
              expected.map((result) => JSON.stringify(result.snapshot)),
            );
          }),
          { numRuns: 20 },
        );
      });
    }
  }

  it("lazy snapshots are small objects over their chunk, cached in L1, built on first read", async () => {
    const here = make("fail_fast", false);
    const pooled = make("fail_fast", true, subsystems, "lazy");
    const actors = Array.from({ length: 300 }, (_, index) =>
      testActor(`lazy_${index}`, ["race", "gear"], 1, { a: index, b: 2, context: index % 2 === 0 }),
    );
    const [expected, actual] = await Promise.all([
      here.resolveBatch(actors),
      pooled.resolveBatch(actors),
    ]);
    const first = actual[5]?.snapshot;
    expect(first).toBeInstanceOf(PooledSnapshot);
    expect(Object.keys(first as object)).toEqual(["actor_id", "version", "epoch", "created_at"]);
    expect(pooled.getCachedSnapshot("lazy_5", 1)).toBe(first);
    expect(first?.primary).toBe(first?.primary); // built once, then kept
    expect(actual.map((result) => plainSnapshot(result.snapshot as never))).toEqual(
      expected.map((result) => result.snapshot),
    );
    const again = await pooled.resolveBatch(actors);
    expect(again.every((result, index) => result.snapshot === actual[index]?.snapshot)).toBe(true);
  });

  it("refuses an unknown snapshots form, naming the field", () => {
    expect(() =>
      createStatsAggregator({
        combiner: batchCombiner,
        workers: { module: MODULE, snapshots: "arrays" as never },
      }),
    ).toThrow(/workers\.snapshots/);
  });

  it("serves cached actors from L1 and caches what the workers computed", async () => {
    const pooled = make("fail_fast", true);
    const actors = Array.from({ length: 400 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear"], 1, { a: index, b: 1 }),
    );
    const first = await pooled.resolveBatch(actors);
    expect(pooled.cacheStats().entries).toBe(400);
    const again = await pooled.resolveBatch(actors);
    expect(again.map((result) => result.snapshot)).toEqual(first.map((result) => result.snapshot));
    expect(again.every((result, index) => result.snapshot === first[index]?.snapshot)).toBe(true);
    expect(pooled.getCachedSnapshot("hero_7", 1)).toBe(first[7]?.snapshot);
  });

  it("recomputes on the calling thread what a reload overtook", async () => {
    const pooled = make("fail_fast", true);
    const actors = Array.from({ length: 600 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear", "buffs"], 1, { a: index, b: 2, c: 3 }),
    );
    const running = pooled.resolveBatch(actors);
    const reloaded = {
      dimensions: {
        ...batchCombiner.dimensions,
        strength: { use_pipeline: true, clamp_default: { min: 0, max: 10 } },
      },
    };
    const event = pooled.reload({ combiner: reloaded });
    const results = await running;
    const reference = createStatsAggregator({
      combiner: reloaded,
      subsystems,
      clock: new ManualClock(1000),
    });
    const expected = await reference.resolveBatch(actors);
    expect(results.every((result) => result.snapshot?.epoch === event.epoch)).toBe(true);
    expect(results.map((result) => result.snapshot?.primary)).toEqual(
      expected.map((result) => result.snapshot?.primary),
    );
  });

  it("resolves on the calling thread an actor that cannot be cloned", async () => {
    const here = make("fail_fast", false);
    const pooled = make("fail_fast", true);
    const actors = Array.from({ length: 300 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear"], 1, {
        a: index,
        b: 1,
        ...(index === 150 ? { callback: () => index } : {}),
      }),
    );
    const [expected, actual] = await Promise.all([
      here.resolveBatch(actors),
      pooled.resolveBatch(actors),
    ]);
    expect(actual.every((result) => result.error === undefined)).toBe(true);
    expect(actual.map(exact)).toEqual(expected.map(exact));
  });

  it("refuses a batch when the workers' module holds other subsystems", async () => {
    const pooled = make("fail_fast", true, [
      ...subsystems,
      {
        id: "extra",
        contribute: () => ({ primary: [], derived: [], caps: [], meta: { system: "extra" } }),
      },
    ]);
    const actors = [testActor("hero", ["race"], 1)];
    const failure = await pooled.resolveBatch(actors).catch((error: unknown) => error);
    expect(TroupeError.isInstance(failure, "INVALID_ARGUMENT")).toBe(true);
    expect((failure as Error).message).toContain("workers.module");
    expect((failure as Error).message).toContain('"extra"');
  });

  it("rejects bad worker options by field", () => {
    const attempt = (workers: unknown) => () =>
      createStatsAggregator({
        combiner: batchCombiner,
        workers: workers as { module: string },
      });
    expect(attempt({ module: "relative.js" })).toThrow(/workers\.module/);
    expect(attempt({ module: MODULE, threads: 0 })).toThrow(/workers\.threads/);
    expect(attempt({ module: MODULE, minBatch: -1 })).toThrow(/workers\.minBatch/);
  });
});
