import { createMemoryStore, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import {
  type WorkloadMode,
  workloadActor,
  workloadRegistry,
  workloadSubsystems,
} from "../bench/workload.js";
import { createStatsAggregator, type StatsAggregatorOptions } from "./aggregator.js";
import type { Subsystem } from "./subsystems.js";
import { testActor } from "./test-actor.js";
import type { Actor, CapMode, CombinerRegistry, StatsWriter } from "./types.js";

const combiner: CombinerRegistry = {
  dimensions: {
    strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } },
    hp: { use_pipeline: true, clamp_default: { min: 1, max: 10_000 } },
  },
};

const actor = testActor;

/** race: strength FLAT 10 × level; items: strength MULT +50 %, hp FLAT 100, hp capped at 120. */
const race: Subsystem = {
  id: "race",
  emit(target, writer) {
    writer.primary("strength", "FLAT", 10 * Number(target.data.level));
  },
};
const items: Subsystem = {
  id: "items",
  priority: 10,
  emit(_target, writer) {
    writer.primary("strength", "MULT", 0.5);
    writer.derived("hp", "FLAT", 100);
    writer.cap("hp", "HARD_MAX", "max", 120, "WORLD");
  },
};

function make(extra: Subsystem[] = [], options: Partial<StatsAggregatorOptions> = {}) {
  return createStatsAggregator({ combiner, subsystems: [race, items, ...extra], ...options });
}

describe("emitting subsystems", () => {
  it("resolve what they write, as contribute subsystems returning the same output would", async () => {
    const stats = make();
    const snapshot = await stats.resolve(actor("hero", ["race", "items"], 4));
    // strength: F = 40, M = 1.5 → 60; hp: 100, bounds [1, 120] from the WORLD cap
    expect(snapshot.primary).toEqual({ strength: 60 });
    expect(snapshot.derived).toEqual({ hp: 100 });
    expect(snapshot.caps_used.hp).toEqual({ min: 1, max: 120 });
    expect(stats.getCachedSnapshot("hero", 4)).toBe(snapshot);
  });

  it("give the standard workload's snapshots bit for bit, version after version", async () => {
    // The bench's emitting subsystems write what its plain ones return: the two must agree.
    const engines = (["emit-fresh", "plain-fresh", "mixed"] as WorkloadMode[]).map((mode) =>
      createStatsAggregator({ combiner: workloadRegistry(), subsystems: workloadSubsystems(mode) }),
    );
    for (let version = 0; version < 140; version++) {
      const hero = workloadActor(`actor_${version % 3}`, version);
      const [emitted, plain, mixed] = await Promise.all(
        engines.map((engine) => engine.resolve(hero)),
      );
      const strip = (snapshot: typeof emitted) => ({ ...snapshot, created_at: 0 });
      expect(strip(emitted)).toStrictEqual(strip(plain));
      expect(strip(emitted)).toStrictEqual(strip(mixed));
    }
  });

  it("mix with contribute subsystems, sync and async, in run order", async () => {
    const asyncBuff: Subsystem = {
      id: "buff",
      priority: 5,
      async contribute() {
        return {
          primary: [{ dimension: "strength", bucket: "POST_ADD", value: 7, system: "buff" }],
          derived: [],
          caps: [],
          meta: { system: "buff" },
        };
      },
    };
    const stats = make([asyncBuff]);
    const snapshot = await stats.resolve(actor("hero", ["race", "items", "buff"], 2));
    // F = 20, M = 1.5, P = 7 → 37
    expect(snapshot.primary.strength).toBe(37);
  });

  it("merge context packs written through the writer", async () => {
    const aura: Subsystem = {
      id: "aura",
      emit(_target, writer) {
        writer.context("vs_undead", { additive_percent: 0.1, multipliers: [2] });
        writer.context("vs_undead", { post_add: 3 });
      },
    };
    const snapshot = await make([aura]).resolve(actor("hero", ["race", "aura"]));
    expect(snapshot.context).toEqual({
      vs_undead: { additive_percent: 0.1, multipliers: [2], post_add: 3 },
    });
  });

  it("reuse a row's checks only while its dimension, bucket, section and priority repeat", async () => {
    // The writer remembers what each row held in the previous resolve and then checks only the
    // value: every step here changes one of the remembered things at the same rows, and the
    // emitting engine must still fold exactly what the contribute engine folds.
    type Write = ["primary" | "derived", string, "FLAT" | "MULT" | "OVERRIDE", number, number?];
    const steps: Write[][] = [
      [
        ["primary", "hp", "OVERRIDE", 50, 1],
        ["primary", "hp", "OVERRIDE", 70],
      ],
      [
        ["primary", "hp", "OVERRIDE", 50, 1],
        ["primary", "hp", "OVERRIDE", 70, 2],
      ],
      [
        ["primary", "hp", "OVERRIDE", 50],
        ["primary", "hp", "OVERRIDE", 70, 2],
      ],
      [
        ["derived", "hp", "OVERRIDE", 50],
        ["primary", "hp", "OVERRIDE", 70, 2],
      ],
      [
        ["primary", "hp", "OVERRIDE", 50],
        ["derived", "hp", "OVERRIDE", 70, 2],
      ],
      [
        ["primary", "strength", "MULT", -0.5],
        ["primary", "strength", "FLAT", 40],
      ],
      [
        ["primary", "strength", "FLAT", -0.5],
        ["primary", "strength", "MULT", 40],
      ],
      [
        ["derived", "strength", "FLAT", -0.5],
        ["derived", "hp", "FLAT", 40, 3],
      ],
    ];
    const script = (target: Actor) => steps[Number(target.data.step)] as Write[];
    const emitting = make([], { subsystems: [] });
    emitting.subsystems.register({
      id: "script",
      emit(target, writer) {
        for (const [section, dimension, bucket, value, priority] of script(target)) {
          writer[section](dimension, bucket, value, priority);
        }
      },
    });
    const plain = make([], { subsystems: [] });
    plain.subsystems.register({
      id: "script",
      contribute(target) {
        const output = { primary: [] as unknown[], derived: [] as unknown[] };
        for (const [section, dimension, bucket, value, priority] of script(target)) {
          const item = { dimension, bucket, value, system: "script" };
          output[section].push(priority === undefined ? item : { ...item, priority });
        }
        return { ...output, caps: [], meta: { system: "script" } } as never;
      },
    });
    let version = 0;
    for (let round = 0; round < 3; round++) {
      for (let step = 0; step < steps.length; step++) {
        const hero = actor("hero", ["script"], ++version, { step });
        const strip = (snapshot: { created_at: number }) => ({ ...snapshot, created_at: 0 });
        expect(strip(emitting.resolveSync(hero))).toStrictEqual(strip(plain.resolveSync(hero)));
      }
    }
    // The same for caps: each step changes one remembered argument of the caps at rows 0 and 1.
    type Bound = [string, CapMode, "max" | "min", number, string];
    type Cap = Bound | [...Bound, string | undefined] | [...Bound, string | undefined, number];
    const capSteps: Cap[][] = [
      [
        ["hp", "HARD_MAX", "max", 90, "WORLD"],
        ["strength", "HARD_MAX", "max", 30, "EVENT"],
      ],
      // mode (same kind): a soft cap instead of a hard one
      [
        ["hp", "SOFT_MAX", "max", 90, "WORLD"],
        ["strength", "HARD_MAX", "max", 30, "EVENT"],
      ],
      // scope: two additive caps in one layer add up, in two layers they intersect
      [
        ["hp", "ADDITIVE", "max", 40, "EVENT"],
        ["hp", "ADDITIVE", "max", 40, "EVENT"],
      ],
      [
        ["hp", "ADDITIVE", "max", 40, "WORLD"],
        ["hp", "ADDITIVE", "max", 40, "EVENT"],
      ],
      // priority: the override of the highest priority decides
      [
        ["hp", "OVERRIDE", "max", 40, "EVENT", undefined, 1],
        ["hp", "OVERRIDE", "max", 60, "EVENT", undefined, 2],
      ],
      [
        ["hp", "OVERRIDE", "max", 40, "EVENT", undefined, 3],
        ["hp", "OVERRIDE", "max", 60, "EVENT", undefined, 2],
      ],
      [
        ["hp", "HARD_MIN", "min", 70, "REALM", "r1"],
        ["strength", "HARD_MAX", "max", 20, "REALM", "r2"],
      ],
    ];
    const caps = (target: Actor) => capSteps[Number(target.data.step) % capSteps.length] as Cap[];
    const capping = make([], { subsystems: [] });
    capping.subsystems.register({
      id: "caps",
      emit(target, writer) {
        writer.primary("hp", "FLAT", 100);
        writer.primary("strength", "FLAT", 100);
        for (const [dimension, mode, kind, value, scope, realm, priority] of caps(target)) {
          writer.cap(dimension, mode, kind, value, scope, realm, priority);
        }
      },
    });
    const plainCaps = make([], { subsystems: [] });
    plainCaps.subsystems.register({
      id: "caps",
      contribute(target) {
        const primary = ["hp", "strength"].map((dimension) => ({
          dimension,
          bucket: "FLAT",
          value: 100,
          system: "caps",
        }));
        const list = caps(target).map(([dimension, mode, kind, value, scope, realm, priority]) => {
          const cap: Record<string, unknown> = {
            system: "caps",
            dimension,
            mode,
            kind,
            value,
            scope,
          };
          if (realm !== undefined) cap.realm = realm;
          if (priority !== undefined) cap.priority = priority;
          return cap;
        });
        return { primary, derived: [], caps: list, meta: { system: "caps" } } as never;
      },
    });
    for (let step = 0; step < 3 * capSteps.length; step++) {
      const hero = actor("hero", ["caps"], ++version, { step });
      const strip = (snapshot: { created_at: number }) => ({ ...snapshot, created_at: 0 });
      expect(strip(capping.resolveSync(hero))).toStrictEqual(strip(plainCaps.resolveSync(hero)));
    }
    // An argument that makes a remembered cap invalid is still rejected.
    capSteps.push([["hp", "HARD_MIN", "min", 70, "REALM", ""]]);
    capSteps.push([["hp", "HARD_MIN", "min", 70, "REALM", "r1", -1]]);
    capSteps.push([["hp", "HARD_MIN", "min", 70, "REAL"]]);
    capSteps.push([["hp", "HARD_MIN", "max", 70, "REALM", "r1"]]);
    for (const [step, field] of [
      [7, "realm"],
      [8, "priority"],
      [9, "scope"],
      [10, "kind"],
    ] as const) {
      capping.resolveSync(actor("hero", ["caps"], ++version, { step: 6 }));
      expect(() => capping.resolveSync(actor("hero", ["caps"], ++version, { step }))).toThrow(
        `field caps[0].${field}`,
      );
    }
    // A MULT below -1 at a row whose MULT was accepted before is still rejected.
    const mult: Subsystem = {
      id: "mult",
      emit(target, writer) {
        writer.primary("strength", "MULT", Number(target.data.factor));
      },
    };
    const stats = make([mult]);
    stats.resolveSync(actor("hero", ["mult"], 1, { factor: 0.5 }));
    expect(() => stats.resolveSync(actor("hero", ["mult"], 2, { factor: -2 }))).toThrow(
      /subsystem "mult", dimension "strength", field primary\[0\]\.value/,
    );
    expect(stats.resolveSync(actor("hero", ["mult"], 3, { factor: -1 })).primary).toEqual({
      strength: 0,
    });
  });

  it("name the field of a bad call, as R0 names it in an output", async () => {
    const bad: Subsystem = {
      id: "bad",
      emit(_target, writer) {
        writer.primary("strength", "FLAT", 1);
        writer.primary("strength", "FLAT", Number.NaN);
      },
    };
    await expect(make([bad]).resolve(actor("hero", ["race", "bad"]))).rejects.toThrow(
      'subsystem "bad", dimension "strength", field primary[1].value: expected a finite number, got NaN',
    );
    const badCap: Subsystem = {
      id: "bad",
      emit(_target, writer) {
        writer.cap("hp", "HARD_MAX", "min", 5, "WORLD");
      },
    };
    await expect(make([badCap]).resolve(actor("hero", ["race", "bad"]))).rejects.toThrow(
      /subsystem "bad", dimension "hp", field caps\[0\]\.kind: mode HARD_MAX implies kind "max"/,
    );
    const noRealm: Subsystem = {
      id: "bad",
      emit(_target, writer) {
        writer.derived("hp", "FLAT", 1);
        writer.cap("hp", "BASELINE", "min", 5, "REALM");
      },
    };
    await expect(make([noRealm]).resolve(actor("hero", ["race", "bad"]))).rejects.toThrow(
      /field caps\[0\]\.realm: a REALM cap needs a realm/,
    );
    const badKey: Subsystem = {
      id: "bad",
      emit(_target, writer) {
        writer.context(7 as unknown as string, { post_add: 1 });
      },
    };
    await expect(make([badKey]).resolve(actor("hero", ["race", "bad"]))).rejects.toThrow(
      'subsystem "bad", field context: expected a context key string, got 7',
    );
    const badPack: Subsystem = {
      id: "bad",
      emit(_target, writer) {
        writer.context("fire", { multipliers: [-1] });
      },
    };
    await expect(make([badPack]).resolve(actor("hero", ["race", "bad"]))).rejects.toThrow(
      /field context\.fire\.multipliers\[0\]: expected a finite multiplier ≥ 0, got -1/,
    );
  });

  it("add nothing of a rejected subsystem under degrade, even when it caught the error", async () => {
    const swallowing: Subsystem = {
      id: "swallow",
      emit(_target, writer) {
        writer.primary("strength", "FLAT", 1000);
        try {
          writer.primary("strength", "MULT", -2);
        } catch {
          // A subsystem that ignores the writer's error is still rejected as a whole.
        }
        writer.derived("hp", "FLAT", 5);
      },
    };
    const throwing: Subsystem = {
      id: "throwing",
      emit(_target, writer) {
        writer.primary("strength", "FLAT", 500);
        throw new Error("inventory unavailable");
      },
    };
    const stats = make([swallowing, throwing], { failurePolicy: "degrade" });
    const snapshot = await stats.resolve(
      actor("hero", ["race", "items", "swallow", "throwing"], 2),
    );
    expect(snapshot.failed_systems).toEqual(["swallow", "throwing"]);
    expect(snapshot.primary.strength).toBe(30);
    expect(snapshot.derived.hp).toBe(100);
    expect(stats.getCachedSnapshot("hero", 2)).toBeUndefined();
    // The fold is clean for the next resolve.
    expect((await stats.resolve(actor("hero", ["race", "items"], 3))).primary.strength).toBe(45);
  });

  it("fail fast with SUBSYSTEM_FAILED when emit throws", async () => {
    const throwing: Subsystem = {
      id: "throwing",
      emit() {
        throw new Error("inventory unavailable");
      },
    };
    const error = await make([throwing])
      .resolve(actor("hero", ["race", "throwing"]))
      .catch((caught: unknown) => caught);
    expect(TroupeError.isInstance(error, "SUBSYSTEM_FAILED")).toBe(true);
    expect((error as Error).message).toMatch(
      /subsystem "throwing" failed for actor "hero": inventory unavailable/,
    );
  });

  it("close the writer when emit returns, and reject an emit that returns a promise", async () => {
    let kept: StatsWriter | undefined;
    const leaky: Subsystem = {
      id: "leaky",
      emit(_target, writer) {
        kept = writer;
        writer.primary("strength", "FLAT", 1);
      },
    };
    const stats = make([leaky]);
    await stats.resolve(actor("hero", ["leaky"]));
    expect(() => kept?.primary("strength", "FLAT", 2)).toThrow(/the stats writer is closed/);
    // Closed even at a row whose call it remembers from a longer resolve before.
    const leakyCaps: Subsystem = {
      id: "caps",
      emit(target, writer) {
        kept = writer;
        for (let i = 0; i < Number(target.data.caps); i++) {
          writer.primary("strength", "FLAT", 1);
          writer.cap("hp", "HARD_MAX", "max", 100 + i, "WORLD");
        }
      },
    };
    const capping = make([leakyCaps]);
    capping.resolveSync(actor("hero", ["caps"], 1, { caps: 2 }));
    capping.resolveSync(actor("hero", ["caps"], 2, { caps: 1 }));
    expect(() => kept?.cap("hp", "HARD_MAX", "max", 101, "WORLD")).toThrow(/writer is closed/);
    expect(() => kept?.primary("strength", "FLAT", 1)).toThrow(/writer is closed/);
    const asyncEmit = {
      id: "async",
      async emit(_target: Actor, writer: StatsWriter) {
        writer.primary("strength", "FLAT", 1);
      },
    } as unknown as Subsystem;
    stats.subsystems.register(asyncEmit);
    await expect(stats.resolve(actor("hero", ["async"]))).rejects.toThrow(
      /subsystem "async": emit returned a promise/,
    );
    // explain records emitting subsystems through another writer, closed the same way.
    await stats.explain(actor("hero", ["leaky"]), "strength");
    expect(() => kept?.primary("strength", "FLAT", 2)).toThrow(/the stats writer is closed/);
  });

  it("are explained with the values resolve gives", async () => {
    const stats = make();
    const hero = actor("hero", ["race", "items"], 4);
    const explanation = await stats.explain(hero, "strength");
    expect(explanation.primary).toMatchObject({ flat: 40, mult: 1.5, post: 0, candidate: 60 });
    expect(explanation.primary?.value).toBe((await stats.resolve(hero)).primary.strength);
  });

  it("may run after the primary stage and read the final primary values", async () => {
    const formulas: Subsystem = {
      id: "formulas",
      stage: "post_primary",
      emit(_target, writer, input) {
        writer.derived("hp", "FLAT", (input.primary.strength ?? 0) * 2);
      },
    };
    const snapshot = await make([formulas]).resolve(
      actor("hero", ["race", "items", "formulas"], 2),
    );
    // strength 20 × 1.5 = 30; hp = 100 + 60, capped at 120
    expect(snapshot.derived.hp).toBe(120);
  });

  it("may resolve another actor from inside emit", async () => {
    let stats: ReturnType<typeof make> | undefined;
    const party: Subsystem = {
      id: "party",
      emit(target, writer) {
        writer.primary("strength", "FLAT", 1);
        if (target.id === "hero") {
          // Resolving the leader folds in a fold of its own; the hero's rows stay as written.
          void stats?.resolve(actor("leader", ["race", "items"], 6));
        }
        writer.primary("strength", "FLAT", 2);
      },
    };
    stats = make([party]);
    const hero = await stats.resolve(actor("hero", ["race", "party"], 1));
    expect(hero.primary.strength).toBe(13);
    expect(stats.getCachedSnapshot("leader", 6)?.primary.strength).toBe(90);
  });

  it("resolve synchronously through resolveSync, which refuses asynchronous work", async () => {
    const stats = make();
    const snapshot = stats.resolveSync(actor("hero", ["race", "items"], 4));
    expect(snapshot.primary).toEqual({ strength: 60 });
    expect(stats.getCachedSnapshot("hero", 4)).toBe(snapshot);
    expect(await stats.resolve(actor("hero", ["race", "items"], 4))).toBe(snapshot);
    stats.subsystems.register({
      id: "slow",
      async contribute() {
        return { primary: [], derived: [], caps: [], meta: { system: "slow" } };
      },
    });
    expect(() => stats.resolveSync(actor("hero", ["race", "slow"], 5))).toThrow(
      /resolveSync: actor "hero" needs asynchronous work/,
    );
    const tiered = make([], {
      cache: { tiers: [{ name: "l2", store: createMemoryStore() }] },
    });
    expect(() => tiered.resolveSync(actor("hero", ["race"]))).toThrow(
      /resolveSync: store tiers are configured/,
    );
  });

  it("are checked at registration: contribute or emit, exactly one", () => {
    const stats = make();
    expect(() => stats.subsystems.register({ id: "none" } as Subsystem)).toThrow(
      /subsystem "none"\.contribute.*expected a contribute or an emit function/,
    );
    expect(() =>
      stats.subsystems.register({
        id: "both",
        contribute: () => ({ primary: [], derived: [], caps: [], meta: { system: "both" } }),
        emit: () => {},
      }),
    ).toThrow(/either contribute or emit, not both/);
    expect(() => stats.subsystems.register({ id: "odd", emit: 5 } as unknown as Subsystem)).toThrow(
      /subsystem "odd"\.emit.*expected a function/,
    );
  });
});
