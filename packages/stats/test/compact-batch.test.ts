import { ManualClock, TroupeError } from "@troupe/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type Actor,
  type BatchResult,
  CompactBatch,
  type CompactBatchOptions,
  createStatsAggregator,
  type FailurePolicy,
  PooledSnapshot,
  type StatsAggregator,
} from "../src/index.js";
import { testActor } from "../src/test-actor.js";
import { actorBatch } from "./batch-arbitraries.js";
import { bits, exact } from "./batch-exact.js";
import { batchCombiner, subsystems } from "./batch-subsystems.js";

const MODULE = new URL("./batch-subsystems.ts", import.meta.url);
const open: StatsAggregator[] = [];

function make(policy: FailurePolicy, pooled: boolean): StatsAggregator {
  const aggregator = createStatsAggregator({
    combiner: batchCombiner,
    subsystems,
    failurePolicy: policy,
    clock: new ManualClock(1000),
    ...(pooled ? { workers: { module: MODULE, threads: 2, minBatch: 1 } } : {}),
  });
  open.push(aggregator);
  return aggregator;
}

afterAll(async () => {
  await Promise.all(open.map((aggregator) => aggregator.close()));
});

/** One `resolve` per actor, in order, on the calling thread: the reference. */
async function resolveEach(engine: StatsAggregator, actors: readonly Actor[]) {
  const results: BatchResult[] = [];
  for (const actor of actors) {
    try {
      results.push({ actorId: actor.id, snapshot: await engine.resolve(actor) });
    } catch (error) {
      results.push({ actorId: actor.id, error: error as Error });
    }
  }
  return results;
}

/** Every accessor of `compact` against the reference results. */
function expectSame(compact: CompactBatch, expected: readonly BatchResult[]) {
  expect(compact).toBeInstanceOf(CompactBatch);
  expect(compact.length).toBe(expected.length);
  const results = compact.toResults();
  expect(results.map(exact)).toEqual(expected.map(exact));
  expect(results.map((result) => JSON.stringify(result.snapshot))).toEqual(
    expected.map((result) => JSON.stringify(result.snapshot)),
  );
  expected.forEach((reference, i) => {
    expect(compact.actorId(i)).toBe(reference.actorId);
    expect(compact.error(i)?.message).toBe(reference.error?.message);
    for (const dimension of ["strength", "agility", "crit", "hp", "absent"]) {
      const primary = compact.primary(i, dimension);
      const derived = compact.derived(i, dimension);
      const wantPrimary = reference.snapshot?.primary[dimension];
      const wantDerived = reference.snapshot?.derived[dimension];
      expect(primary === undefined ? undefined : bits(primary)).toBe(
        wantPrimary === undefined ? undefined : bits(wantPrimary),
      );
      expect(derived === undefined ? undefined : bits(derived)).toBe(
        wantDerived === undefined ? undefined : bits(wantDerived),
      );
    }
  });
}

describe("resolveBatchCompact", () => {
  const forms: [string, boolean, CompactBatchOptions][] = [
    ["on worker threads", true, {}],
    ["on worker threads, cached", true, { cache: true }],
    ["on the calling thread", false, {}],
  ];
  for (const policy of ["fail_fast", "degrade"] as const) {
    for (const [label, pooled, options] of forms) {
      it(`gives every actor bit for bit what resolve gives (${policy}, ${label})`, async () => {
        const reference = make(policy, false);
        const engine = make(policy, pooled);
        await fc.assert(
          fc.asyncProperty(actorBatch, async (actors) => {
            const compact = await engine.resolveBatchCompact(actors, options);
            expectSame(compact, await resolveEach(reference, actors));
          }),
          { numRuns: pooled ? 15 : 30 },
        );
      });
    }
  }

  it("puts nothing in L1 unless asked, and serves what L1 holds", async () => {
    const engine = make("fail_fast", true);
    const actors = Array.from({ length: 400 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear"], 1, { a: index, b: 1 }),
    );
    const first = await engine.resolveBatchCompact(actors);
    expect(engine.cacheStats().entries).toBe(0);
    expect(engine.getCachedSnapshot("hero_7", 1)).toBeUndefined();
    // New snapshot objects on every read, equal in value.
    expect(first.snapshot(7)).not.toBe(first.snapshot(7));
    expect(first.snapshot(7)).toEqual(first.snapshot(7));

    const cached = await engine.resolveBatchCompact(actors, { cache: true });
    expect(engine.cacheStats().entries).toBe(400);
    expect(cached.snapshot(7)).toBeInstanceOf(PooledSnapshot);
    expect(engine.getCachedSnapshot("hero_7", 1)).toBe(cached.snapshot(7));

    // The next batch finds them all in L1, and returns those snapshots.
    const hits = engine.cacheStats().hits;
    const again = await engine.resolveBatchCompact(actors);
    expect(engine.cacheStats().hits - hits).toBe(400);
    expect(again.snapshot(123)).toBe(cached.snapshot(123));
    expect(again.toResults().map(exact)).toEqual(first.toResults().map(exact));
  });

  it("recomputes what a reload overtook under the new epoch", async () => {
    const engine = make("fail_fast", true);
    const actors = Array.from({ length: 600 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear", "buffs"], 1, { a: index, b: 2, c: 3 }),
    );
    const running = engine.resolveBatchCompact(actors);
    const reloaded = {
      dimensions: {
        ...batchCombiner.dimensions,
        strength: { use_pipeline: true, clamp_default: { min: 0, max: 10 } },
      },
    };
    const event = engine.reload({ combiner: reloaded });
    const compact = await running;
    const reference = createStatsAggregator({
      combiner: reloaded,
      subsystems,
      clock: new ManualClock(1000),
    });
    const expected = await resolveEach(reference, actors);
    const results = compact.toResults();
    expect(results.every((result) => result.snapshot?.epoch === event.epoch)).toBe(true);
    expect(results.map((result) => result.snapshot?.primary)).toEqual(
      expected.map((result) => result.snapshot?.primary),
    );
  });

  it("resolves on the calling thread an actor that cannot be cloned, and reports a bad actor", async () => {
    const reference = make("fail_fast", false);
    const engine = make("fail_fast", true);
    const actors = Array.from({ length: 300 }, (_, index) =>
      testActor(`hero_${index}`, ["race", "gear"], 1, {
        a: index,
        b: 1,
        ...(index === 150 ? { callback: () => index } : {}),
      }),
    );
    actors[42] = { ...(actors[42] as Actor), version: -1 };
    const compact = await engine.resolveBatchCompact(actors);
    expect(compact.snapshot(150)?.primary).toEqual(
      (await reference.resolve(actors[150] as Actor)).primary,
    );
    expect(TroupeError.isInstance(compact.error(42), "INVALID_ARGUMENT")).toBe(true);
    expect(compact.snapshot(42)).toBeUndefined();
  });

  it("refuses a bad index or option, naming it", async () => {
    const engine = make("fail_fast", true);
    const compact = await engine.resolveBatchCompact([testActor("hero", ["race"], 1)]);
    expect(() => compact.snapshot(1)).toThrow(/index/);
    expect(() => compact.primary(-1, "strength")).toThrow(/index/);
    expect(() => compact.actorId(0.5)).toThrow(/index/);
    await expect(
      engine.resolveBatchCompact([], { cache: "yes" as unknown as boolean }),
    ).rejects.toThrow(/options\.cache/);
    await expect(engine.resolveBatchCompact("actors" as never)).rejects.toThrow(/actors/);
    // A method that does not depend on `this`, as the aggregator's others.
    const { resolveBatchCompact } = make("fail_fast", false);
    expect((await resolveBatchCompact([testActor("hero", ["race"], 1)])).length).toBe(1);
  });

  it("moves a chunk's packed values out of the worker, or shares them, instead of copying them", async () => {
    const { default: resolveChunk, transferListOf } = await import("../src/batch-worker.js");
    const engine = make("fail_fast", false);
    const registry = engine.registry;
    const { serialize } = await import("node:v8");
    const { subsystemSignature } = await import("../src/batch-protocol.js");
    const chunk = {
      module: MODULE.href,
      registryKey: "test",
      registry: new Uint8Array(serialize({ combiner: registry.combiner, layers: registry.layers })),
      signature: subsystemSignature(engine.subsystems.list()),
      failurePolicy: "fail_fast" as const,
      actors: [testActor("hero", ["race", "gear"], 1, { a: 2, b: 1 })],
    };
    const shared = await resolveChunk({ ...chunk, shared: true });
    expect(shared.outcomes?.values.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shared.outcomes?.layout.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(transferListOf(shared)).toEqual([]);
    const answer = await resolveChunk(chunk);
    const moved = transferListOf(answer);
    expect(moved).toHaveLength(2);
    expect(moved[0]).toBe(answer.outcomes?.values.buffer);
    expect(moved[1]).toBe(answer.outcomes?.layout.buffer);
  });
});
