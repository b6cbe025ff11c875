import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMemoryMetrics,
  createMemoryStore,
  ManualClock,
  type Store,
  TroupeError,
  utf8,
} from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { createRedisStore } from "@troupe/redis";
import { createSqliteStore } from "@troupe/sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { createStatsAggregator, type StatsAggregatorOptions } from "./aggregator.js";
import type { Subsystem } from "./subsystems.js";
import { testActor } from "./test-actor.js";
import type { Actor, CombinerRegistry, SubsystemOutput } from "./types.js";

const combiner: CombinerRegistry = {
  dimensions: {
    strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } },
    hp: { use_pipeline: true, clamp_default: { min: 1, max: 10_000 } },
  },
};

function actor(id: string, version = 1, subsystems = ["race", "items"]): Actor {
  return testActor(id, subsystems, version);
}

/** race: strength = 10 × level (FLAT); items: +50% strength, hp 100. Counts its calls. */
function subsystems(calls = { race: 0, items: 0 }): Subsystem[] {
  return [
    {
      id: "race",
      contribute(target) {
        calls.race++;
        return {
          primary: [
            {
              dimension: "strength",
              bucket: "FLAT",
              value: 10 * Number(target.data.level),
              system: "race",
            },
          ],
          derived: [],
          caps: [],
          meta: { system: "race" },
        };
      },
    },
    {
      id: "items",
      priority: 10,
      async contribute() {
        calls.items++;
        return {
          primary: [{ dimension: "strength", bucket: "MULT", value: 0.5, system: "items" }],
          derived: [{ dimension: "hp", bucket: "FLAT", value: 100, system: "items" }],
          caps: [],
          meta: { system: "items" },
        };
      },
    },
  ];
}

function make(options: Partial<StatsAggregatorOptions> = {}) {
  const clock = new ManualClock();
  const metrics = createMemoryMetrics();
  const calls = { race: 0, items: 0 };
  const aggregator = createStatsAggregator({
    combiner,
    subsystems: subsystems(calls),
    clock,
    metrics,
    ...options,
  });
  return { aggregator, clock, metrics, calls };
}

describe("aggregator: resolve", () => {
  it("resolves an actor through its subsystems into a snapshot", async () => {
    const { aggregator, clock } = make();
    const snapshot = await aggregator.resolve(actor("hero", 3));
    // strength: 30 × 1.5 = 45; hp 100
    expect(snapshot).toEqual({
      actor_id: "hero",
      version: 3,
      epoch: 1,
      created_at: clock.now(),
      primary: { strength: 45 },
      derived: { hp: 100 },
      caps_used: { hp: { min: 1, max: 10_000 }, strength: { min: 0, max: 1000 } },
    });
  });

  it("runs only the subsystems the actor lists and rejects unknown or repeated ids", async () => {
    const { aggregator, calls } = make();
    const snapshot = await aggregator.resolve(actor("hero", 1, ["race"]));
    expect(snapshot.primary).toEqual({ strength: 10 });
    expect(calls).toEqual({ race: 1, items: 0 });
    await expect(aggregator.resolve(actor("x", 1, ["race", "wings"]))).rejects.toThrow(
      /actor\.subsystems\[1\]: no subsystem "wings" is registered/,
    );
    await expect(aggregator.resolve(actor("y", 1, ["race", "race"]))).rejects.toThrow(
      /listed twice/,
    );
  });

  it("rejects bad actors naming the field", async () => {
    const { aggregator } = make();
    await expect(aggregator.resolve({ ...actor("a"), version: -1 })).rejects.toThrow(
      /actor\.version/,
    );
    await expect(aggregator.resolve({ ...actor("a"), id: "" })).rejects.toThrow(/actor\.id/);
  });

  it("returns one result per actor in input order from resolveBatch, failures included", async () => {
    const { aggregator } = make();
    const results = await aggregator.resolveBatch([
      actor("a", 1),
      actor("b", 2, ["ghost"]),
      actor("c", 3),
    ]);
    expect(results.map((result) => result.actorId)).toEqual(["a", "b", "c"]);
    expect(results[0]?.snapshot?.primary.strength).toBe(15);
    expect(results[1]?.error?.message).toMatch(/ghost/);
    expect(results[2]?.snapshot?.primary.strength).toBe(45);
  });

  it("gives post_primary subsystems the final primary values", async () => {
    const seen: Record<string, number>[] = [];
    const derivedFromStrength: Subsystem = {
      id: "formulas",
      stage: "post_primary",
      contribute(_target, input) {
        seen.push({ ...input.primary });
        return {
          primary: [],
          derived: [
            {
              dimension: "hp",
              bucket: "FLAT",
              value: (input.primary.strength ?? 0) * 2,
              system: "formulas",
            },
          ],
          caps: [],
          meta: { system: "formulas" },
        };
      },
    };
    const { aggregator } = make();
    aggregator.subsystems.register(derivedFromStrength);
    const snapshot = await aggregator.resolve(actor("hero", 2, ["race", "items", "formulas"]));
    // strength 20 × 1.5 = 30; hp = 100 + 30 × 2 = 160
    expect(seen).toEqual([{ strength: 30 }]);
    expect(snapshot.derived.hp).toBe(160);
  });

  it("rejects a post_primary subsystem that caps a primary dimension", async () => {
    const { aggregator } = make();
    aggregator.subsystems.register({
      id: "sneaky",
      stage: "post_primary",
      contribute: () => ({
        primary: [],
        derived: [],
        caps: [
          {
            system: "sneaky",
            dimension: "strength",
            mode: "HARD_MAX",
            kind: "max",
            value: 1,
            scope: "TOTAL",
          },
        ],
        meta: { system: "sneaky" },
      }),
    });
    await expect(aggregator.resolve(actor("hero", 1, ["race", "sneaky"]))).rejects.toThrow(
      /subsystem "sneaky", dimension "strength", field caps\[0\]\.dimension/,
    );
  });
});

describe("aggregator: failure policy (R10)", () => {
  const broken: Subsystem = {
    id: "broken",
    contribute() {
      throw new Error("database down");
    },
  };
  const invalid: Subsystem = {
    id: "invalid",
    async contribute(): Promise<SubsystemOutput> {
      return {
        primary: [{ dimension: "strength", bucket: "FLAT", value: Number.NaN, system: "invalid" }],
        derived: [],
        caps: [],
        meta: { system: "invalid" },
      };
    },
  };

  it("fail_fast rejects the resolve naming the subsystem", async () => {
    const { aggregator, metrics } = make();
    aggregator.subsystems.register(broken);
    const error = await aggregator
      .resolve(actor("hero", 1, ["race", "broken"]))
      .catch((e: unknown) => e);
    expect(TroupeError.isInstance(error, "SUBSYSTEM_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(
      /subsystem "broken" failed for actor "hero": database down/,
    );
    expect(metrics.value("actor_core_errors_total", { reason: "resolve" })).toBe(1);
  });

  it("degrade leaves failed and invalid subsystems out, records them, and does not cache", async () => {
    const { aggregator } = make({ failurePolicy: "degrade" });
    aggregator.subsystems.register(broken);
    aggregator.subsystems.register(invalid);
    const hero = actor("hero", 1, ["race", "broken", "invalid", "items"]);
    const snapshot = await aggregator.resolve(hero);
    expect(snapshot.failed_systems).toEqual(["broken", "invalid"]);
    expect(snapshot.primary.strength).toBe(15);
    expect(aggregator.getCachedSnapshot("hero", 1)).toBeUndefined();
  });

  it("degrade leaves a subsystem that threw out of resolveSync too, as resolve does", async () => {
    const { aggregator } = make({ failurePolicy: "degrade" });
    aggregator.subsystems.register(broken);
    // Both synchronous ("items" answers with a promise, which resolveSync refuses).
    const hero = actor("hero", 1, ["race", "broken"]);
    const now = aggregator.resolveSync(hero);
    expect(now.failed_systems).toEqual(["broken"]);
    expect(now.primary.strength).toBe(10);
    const later = await aggregator.resolve(hero);
    expect(later.primary).toEqual(now.primary);
    expect(later.derived).toEqual(now.derived);
    expect(later.failed_systems).toEqual(now.failed_systems);
  });
});

describe("aggregator: L1 cache (R11)", () => {
  it("serves a cached snapshot for the same id, version and epoch, and counts hits and misses", async () => {
    const { aggregator, calls, metrics } = make();
    const first = await aggregator.resolve(actor("hero", 1));
    const second = await aggregator.resolve(actor("hero", 1));
    expect(second).toBe(first);
    expect(calls.race).toBe(1);
    expect(aggregator.getCachedSnapshot("hero", 1)).toBe(first);
    expect(aggregator.getCachedSnapshot("hero", 2)).toBeUndefined();
    // A new version is a miss and recomputes.
    const third = await aggregator.resolve(actor("hero", 2));
    expect(third.primary.strength).toBe(30);
    expect(calls.race).toBe(2);
    expect(aggregator.cacheStats()).toMatchObject({ hits: 2, misses: 3, entries: 1 });
    expect(metrics.value("actor_core_cache_hits_total", { tier: "l1" })).toBe(2);
    expect(metrics.value("actor_core_cache_misses_total", { tier: "l1" })).toBe(3);
    expect(metrics.value("actor_core_requests_total")).toBe(3);
    expect(metrics.value("actor_core_active_actors")).toBe(1);
    const histogram = metrics
      .series()
      .find((series) => series.name === "actor_core_request_duration_seconds");
    expect(histogram?.count).toBe(3);
  });

  it("evicts the least recently used actor when full", async () => {
    const { aggregator } = make({ cache: { maxEntries: 2 } });
    await aggregator.resolve(actor("a"));
    await aggregator.resolve(actor("b"));
    aggregator.getCachedSnapshot("a"); // a is now the most recent
    await aggregator.resolve(actor("c")); // evicts b
    expect(aggregator.getCachedSnapshot("a")).toBeDefined();
    expect(aggregator.getCachedSnapshot("b")).toBeUndefined();
    expect(aggregator.getCachedSnapshot("c")).toBeDefined();
    expect(aggregator.cacheStats()).toMatchObject({ evictions: 1, entries: 2 });
  });

  it("expires entries after the TTL on the injected clock", async () => {
    const { aggregator, clock, calls } = make({ cache: { ttlMs: 1000 } });
    await aggregator.resolve(actor("hero"));
    await clock.advance(999);
    expect(aggregator.getCachedSnapshot("hero", 1)).toBeDefined();
    await clock.advance(1);
    expect(aggregator.getCachedSnapshot("hero", 1)).toBeUndefined();
    await aggregator.resolve(actor("hero"));
    expect(calls.race).toBe(2);
    expect(aggregator.cacheStats().expirations).toBe(1);
  });

  it("invalidate drops the actor", async () => {
    const { aggregator, calls } = make();
    await aggregator.resolve(actor("hero"));
    await aggregator.invalidate("hero");
    expect(aggregator.getCachedSnapshot("hero")).toBeUndefined();
    await aggregator.resolve(actor("hero"));
    expect(calls.race).toBe(2);
  });
});

describe("aggregator: hot reload", () => {
  it("starts a new epoch, announces it, and never serves a snapshot of the old registries", async () => {
    const { aggregator } = make();
    const events: unknown[] = [];
    const unsubscribe = aggregator.onReload((event) => events.push(event));
    const before = await aggregator.resolve(actor("hero", 10));
    expect(before.primary.strength).toBe(150);
    const event = aggregator.reload({
      combiner: {
        dimensions: {
          ...combiner.dimensions,
          strength: { use_pipeline: true, clamp_default: { min: 0, max: 100 } },
        },
      },
    });
    expect(event).toMatchObject({ epoch: 2, previousEpoch: 1, reason: "registry" });
    expect(events).toEqual([event]);
    expect(aggregator.getCachedSnapshot("hero", 10)).toBeUndefined();
    const after = await aggregator.resolve(actor("hero", 10));
    expect(after.primary.strength).toBe(100);
    expect(after.epoch).toBe(2);
    unsubscribe();
    aggregator.reload({ layers: { order: ["TOTAL"], across_policy: "INTERSECT" } });
    expect(events).toHaveLength(1);
  });

  it("keeps the old registries when the new ones are invalid", async () => {
    const { aggregator } = make();
    expect(() =>
      aggregator.reload({
        combiner: {
          dimensions: { strength: { use_pipeline: true, clamp_default: { min: 5, max: 1 } } },
        },
      }),
    ).toThrow(/dimension "strength", field combiner\.dimensions\.strength\.clamp_default\.min/);
    expect(aggregator.epoch).toBe(1);
  });

  it("recomputes when a reload lands while subsystems are running", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { aggregator } = make({
      subsystems: [
        {
          id: "race",
          async contribute() {
            await gate;
            return {
              primary: [{ dimension: "strength", bucket: "FLAT", value: 500, system: "race" }],
              derived: [],
              caps: [],
              meta: { system: "race" },
            };
          },
        },
      ],
    });
    const pending = aggregator.resolve(actor("hero", 1, ["race"]));
    aggregator.reload({
      combiner: {
        dimensions: { strength: { use_pipeline: true, clamp_default: { min: 0, max: 200 } } },
      },
    });
    release();
    const snapshot = await pending;
    expect(snapshot.epoch).toBe(2);
    expect(snapshot.primary.strength).toBe(200);
  });

  it("starts a new epoch when subsystems change", async () => {
    const { aggregator } = make();
    await aggregator.resolve(actor("hero"));
    aggregator.subsystems.unregister("items");
    expect(aggregator.epoch).toBe(2);
    expect(aggregator.getCachedSnapshot("hero")).toBeUndefined();
    await expect(aggregator.resolve(actor("hero"))).rejects.toThrow(/no subsystem "items"/);
  });
});

describe("aggregator: explain (R12)", () => {
  it("explains a dimension of an actor with the same value resolve gives", async () => {
    const { aggregator } = make();
    const explanation = await aggregator.explain(actor("hero", 4), "strength");
    const snapshot = await aggregator.resolve(actor("hero", 4));
    expect(explanation.primary?.value).toBe(snapshot.primary.strength);
    // F = 40, M = 1.5, candidate 60
    expect(explanation.primary).toMatchObject({
      flat: 40,
      mult: 1.5,
      post: 0,
      candidate: 60,
      clampedBy: "none",
    });
    expect(explanation.across).toMatchObject({ min: 0, max: 1000, minFrom: "clamp_default" });
    await expect(aggregator.explain(actor("hero"), "Bad-Name")).rejects.toThrow(
      /dimension "Bad-Name"/,
    );
  });
});

interface OpenedTier {
  readonly store: Store;
  readonly reopen: () => Store;
  readonly cleanup: () => Promise<void> | void;
  readonly keyPrefix: string;
}

function storeTierSuite(name: string, open: () => OpenedTier) {
  describe(`aggregator: store tier on ${name}`, () => {
    let cleanup: () => Promise<void> | void = () => {};
    afterEach(async () => {
      await cleanup();
    });

    it("writes snapshots through, serves them to a fresh aggregator, and honours the format version", async () => {
      const opened = open();
      cleanup = opened.cleanup;
      const first = make({
        cache: { tiers: [{ store: opened.store, keyPrefix: opened.keyPrefix }] },
      });
      const snapshot = await first.aggregator.resolve(actor("hero", 7));
      const stored = await opened.store.get(`${opened.keyPrefix}hero`);
      expect(stored).toBeDefined();

      // A second process with the same registries: L1 is empty, the tier answers.
      const second = make({
        cache: { tiers: [{ store: opened.reopen(), keyPrefix: opened.keyPrefix }] },
      });
      const fromTier = await second.aggregator.resolve(actor("hero", 7));
      expect(second.calls.race).toBe(0);
      expect(fromTier).toEqual({ ...snapshot, epoch: second.aggregator.epoch });
      expect(second.metrics.value("actor_core_cache_hits_total", { tier: "l2" })).toBe(1);
      expect(second.aggregator.getCachedSnapshot("hero", 7)).toBeDefined();

      // Another actor version: a miss that recomputes.
      await second.aggregator.resolve(actor("hero", 8));
      expect(second.calls.race).toBe(1);

      // Other registries (another fingerprint): never served.
      const third = make({
        combiner: {
          dimensions: { strength: { use_pipeline: true, clamp_default: { min: 0, max: 5 } } },
        },
        cache: { tiers: [{ store: opened.reopen(), keyPrefix: opened.keyPrefix }] },
      });
      const recomputed = await third.aggregator.resolve(actor("hero", 8));
      expect(third.calls.race).toBe(1);
      expect(recomputed.primary.strength).toBe(5);

      // A record of another format version is a miss, not an error.
      await opened.store.commit([
        {
          type: "set",
          key: `${opened.keyPrefix}hero`,
          value: utf8(JSON.stringify({ format: 99, fingerprint: "x", snapshot: {} })),
        },
      ]);
      const fourth = make({
        cache: { tiers: [{ store: opened.reopen(), keyPrefix: opened.keyPrefix }] },
      });
      await fourth.aggregator.resolve(actor("hero", 8));
      expect(fourth.calls.race).toBe(1);

      // invalidate clears the tier too.
      await fourth.aggregator.invalidate("hero");
      expect(await opened.store.get(`${opened.keyPrefix}hero`)).toBeUndefined();
    });

    it("backfills a faster tier from a slower one (L3 → L2)", async () => {
      const opened = open();
      cleanup = opened.cleanup;
      const l2 = createMemoryStore();
      const first = make({
        cache: { tiers: [{ store: opened.store, name: "l3", keyPrefix: opened.keyPrefix }] },
      });
      await first.aggregator.resolve(actor("hero", 1));
      const second = make({
        cache: {
          tiers: [
            { store: l2 },
            { store: opened.reopen(), name: "l3", keyPrefix: opened.keyPrefix },
          ],
        },
      });
      await second.aggregator.resolve(actor("hero", 1));
      expect(second.calls.race).toBe(0);
      expect(second.metrics.value("actor_core_cache_misses_total", { tier: "l2" })).toBe(1);
      expect(second.metrics.value("actor_core_cache_hits_total", { tier: "l3" })).toBe(1);
      expect(await l2.get("stats/snapshot/hero")).toBeDefined();
      await second.aggregator.invalidate("hero");
    });
  });
}

storeTierSuite("memory", () => {
  const store = createMemoryStore();
  return { store, reopen: () => store, cleanup: () => {}, keyPrefix: "stats/snapshot/" };
});

storeTierSuite("SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-stats-"));
  const path = join(dir, "cache.db");
  const handles: Store[] = [];
  const openStore = () => {
    const store = createSqliteStore({ path });
    handles.push(store);
    return store;
  };
  return {
    store: openStore(),
    reopen: openStore,
    keyPrefix: "stats/snapshot/",
    cleanup: async () => {
      await Promise.all(handles.map((handle) => handle.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// Shared servers: a fixed schema/prefix for the adapter's own tables, a fresh key prefix per run
// so concurrent runs never meet; the tests delete what they write.
const runId = `${process.pid}_${Date.now().toString(36)}`;

storeTierSuite("PostgreSQL", () => {
  const connectionString =
    process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const handles: Store[] = [];
  const openStore = () => {
    const store = createPostgresStore({ connectionString, schema: "troupe_stats_test" });
    handles.push(store);
    return store;
  };
  return {
    store: openStore(),
    reopen: openStore,
    keyPrefix: `stats/${runId}/`,
    cleanup: async () => {
      await Promise.all(handles.map((handle) => handle.close()));
    },
  };
});

storeTierSuite("Redis", () => {
  const url = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const handles: Store[] = [];
  const openStore = () => {
    const store = createRedisStore({ url, prefix: "troupe_stats_test:" });
    handles.push(store);
    return store;
  };
  return {
    store: openStore(),
    reopen: openStore,
    keyPrefix: `stats/${runId}/`,
    cleanup: async () => {
      await Promise.all(handles.map((handle) => handle.close()));
    },
  };
});
