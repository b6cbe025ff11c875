// The emitting writer's remembered rows: what a row's call passed in the previous resolve lets
// the writer check only the value, and lets the fold leave a subsystem's rows in place; these
// tests change what those shortcuts rely on and compare with what R0 and a contribute engine give.
import { describe, expect, it } from "vitest";
import { createStatsAggregator, type StatsAggregatorOptions } from "./aggregator.js";
import { prepareOutput } from "./prepared-output.js";
import type { Subsystem } from "./subsystems.js";
import { testActor } from "./test-actor.js";
import type { CombinerRegistry, SubsystemOutput } from "./types.js";

const combiner: CombinerRegistry = {
  dimensions: {
    strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } },
    hp: { use_pipeline: true, clamp_default: { min: 1, max: 10_000 } },
  },
};

const actor = testActor;

function make(extra: Subsystem[] = [], options: Partial<StatsAggregatorOptions> = {}) {
  return createStatsAggregator({ combiner, subsystems: extra, ...options });
}

describe("emitting subsystems' remembered rows", () => {
  it("fold the right rows when actors with different subsystems share the engine", () => {
    // The fold keeps an emitting subsystem's rows in place while every output before it and its
    // own calls repeat the previous resolve's; actors whose subsystems differ (fewer, others in
    // between, plain outputs at the same rows, the same calls from another subsystem) must
    // still fold what a contribute engine folds.
    type Call = ["primary" | "derived", string, "FLAT" | "MULT" | "OVERRIDE", number, number?];
    const calls: Record<string, (version: number) => Call[]> = {
      x: (v) => [
        ["primary", "strength", "FLAT", 10 + (v % 3)],
        ["primary", "hp", "OVERRIDE", 50 + v, 1],
      ],
      // The same calls as x, other values: only the rows' system tells them apart.
      y: (v) => [
        ["primary", "strength", "FLAT", 20 + (v % 5)],
        ["primary", "hp", "OVERRIDE", 60 + v, 1],
      ],
      z: (v) => [
        ["derived", "hp", "FLAT", v % 7],
        ["primary", "strength", "MULT", 0.5],
        ["primary", "hp", "FLAT", 5],
      ],
    };
    const capOf = (id: string, v: number) =>
      id === "z"
        ? undefined
        : ([id === "x" ? 900 + v : 800 + v, id === "x" ? "WORLD" : "EVENT"] as const);
    const emitting = make([], { subsystems: [] });
    const plain = make([], { subsystems: [] });
    for (const id of Object.keys(calls)) {
      const script = calls[id] as (version: number) => Call[];
      emitting.subsystems.register({
        id,
        emit(target, writer) {
          for (const [section, dimension, bucket, value, priority] of script(target.version)) {
            writer[section](dimension, bucket, value, priority);
          }
          const cap = capOf(id, target.version);
          if (cap !== undefined) writer.cap("hp", "HARD_MAX", "max", cap[0], cap[1]);
        },
      });
      plain.subsystems.register({
        id,
        contribute(target) {
          const output = { primary: [] as unknown[], derived: [] as unknown[] };
          for (const [section, dimension, bucket, value, priority] of script(target.version)) {
            const item = { dimension, bucket, value, system: id };
            output[section].push(priority === undefined ? item : { ...item, priority });
          }
          const cap = capOf(id, target.version);
          const caps =
            cap === undefined
              ? []
              : [
                  {
                    system: id,
                    dimension: "hp",
                    mode: "HARD_MAX",
                    kind: "max",
                    value: cap[0],
                    scope: cap[1],
                  },
                ];
          return { ...output, caps, meta: { system: id } } as never;
        },
      });
    }
    // A plain subsystem in both engines: its rows overwrite emitted rows in between.
    const other: Subsystem = {
      id: "other",
      contribute: (target) =>
        ({
          primary: [
            { dimension: "hp", bucket: "MULT", value: 0.25, system: "other" },
            { dimension: "strength", bucket: "OVERRIDE", value: target.version, system: "other" },
          ],
          derived: [],
          caps: [
            {
              system: "other",
              dimension: "strength",
              mode: "HARD_MAX",
              kind: "max",
              value: 700,
              scope: "WORLD",
            },
          ],
          meta: { system: "other" },
        }) as never,
    };
    emitting.subsystems.register(other);
    plain.subsystems.register(other);
    const sets = [
      ["x", "z"],
      ["other"],
      ["x"],
      ["x", "z"],
      ["x", "z"],
      ["y", "z"],
      ["x", "z"],
      ["y"],
      ["x", "y", "z"],
      ["x", "y", "z"],
      ["y", "x"],
      ["x", "other", "z"],
      ["x", "z"],
      ["z"],
      ["x", "z"],
    ];
    const strip = (snapshot: { created_at: number }) => ({ ...snapshot, created_at: 0 });
    let version = 0;
    for (let round = 0; round < 3; round++) {
      for (const set of sets) {
        const hero = actor(`hero${version % 4}`, set, ++version);
        expect(strip(emitting.resolveSync(hero)), set.join(",")).toStrictEqual(
          strip(plain.resolveSync(hero)),
        );
      }
    }
  });

  it("fold an emitting subsystem's rows afresh when an output before it moved or overwrote them", () => {
    // An emitting subsystem that makes the same calls as in the previous resolve, ending at the
    // same row, may still find other rows under its own when the outputs before it changed: it
    // must then not keep its rows in place.
    const gearOf = new Map(
      [
        ["none", []],
        ["sword", [{ dimension: "strength", bucket: "FLAT", value: 5, system: "gear" }]],
        // Rejected (degrade leaves gear out), but only after its first row was written.
        [
          "broken",
          [
            { dimension: "strength", bucket: "FLAT", value: 5, system: "gear" },
            { dimension: "hp", bucket: "FLAT", value: Number.NaN, system: "gear" },
          ],
        ],
      ].map(([name, primary]) => [
        name,
        prepareOutput({ primary, derived: [], caps: [], meta: { system: "gear" } } as never),
      ]),
    );
    const gear: Subsystem = {
      id: "gear",
      priority: 1,
      contribute: (target) => gearOf.get(target.data.gear as string) as SubsystemOutput,
    };
    // One hp row per stack, at the same rows whenever the outputs before it keep their rows.
    const buffs: Subsystem = {
      id: "buffs",
      emit(target, writer) {
        for (let stack = 0; stack < (target.data.stacks as number); stack++) {
          writer.derived("hp", "FLAT", target.data.hp as number);
        }
      },
    };
    const stats = make([gear, buffs], { failurePolicy: "degrade" });
    let version = 0;
    const resolve = (gearName: string, stacks: number, hp: number) => {
      const { primary, derived, failed_systems } = stats.resolveSync(
        actor("hero", ["gear", "buffs"], ++version, { gear: gearName, stacks, hp }),
      );
      return { primary, derived, failed: failed_systems ?? [] };
    };
    // The sword moves buffs one row down, and buffs writes one stack less: it ends where it ended.
    // Taking the sword off moves its rows back over the sword's row, which held strength.
    expect(resolve("none", 2, 11)).toEqual({ primary: {}, derived: { hp: 22 }, failed: [] });
    expect(resolve("sword", 1, 12)).toEqual({
      primary: { strength: 5 },
      derived: { hp: 12 },
      failed: [],
    });
    expect(resolve("none", 2, 13)).toEqual({ primary: {}, derived: { hp: 26 }, failed: [] });
    // Broken gear writes its first row over buffs' row before it is rejected, every resolve.
    expect(resolve("broken", 1, 14)).toEqual({
      primary: {},
      derived: { hp: 14 },
      failed: ["gear"],
    });
    expect(resolve("broken", 1, 15)).toEqual({
      primary: {},
      derived: { hp: 15 },
      failed: ["gear"],
    });
  });

  it("check the value at a row whose other arguments repeat: finite numbers only", () => {
    // Once a row's dimension, bucket and priority (a cap's other arguments) repeat, the value is
    // all the writer checks: each bad value here comes after a resolve that wrote good ones at
    // the same rows, and must be rejected as a first call's would be.
    const values: Subsystem = {
      id: "values",
      emit(target, writer) {
        const value = target.data.value as number;
        writer.primary("strength", "FLAT", target.data.field === "primary" ? value : 1);
        writer.derived("hp", "FLAT", target.data.field === "derived" ? value : 1);
        writer.cap("hp", "HARD_MAX", "max", target.data.field === "cap" ? value : 900, "WORLD");
      },
    };
    const stats = make([values]);
    let version = 0;
    const resolve = (field: string, value: unknown) =>
      stats.resolveSync(actor("hero", ["values"], ++version, { field, value }));
    const bad = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      "5",
      null,
      undefined,
      5n,
      { valueOf: () => 5 },
    ];
    for (const [field, path] of [
      ["primary", "primary[0]"],
      ["derived", "derived[0]"],
      ["cap", "caps[0]"],
    ] as const) {
      for (const value of bad) {
        resolve(field, 7);
        resolve(field, 8);
        expect(() => resolve(field, value), `${field} ${String(value)}`).toThrow(
          `field ${path}.value`,
        );
      }
      // The largest finite numbers are values like any other.
      for (const value of [Number.MAX_VALUE, -Number.MAX_VALUE]) {
        resolve(field, 7);
        const snapshot = resolve(field, value);
        if (field === "primary")
          expect(snapshot.primary).toEqual({ strength: value > 0 ? 1000 : 0 });
        // hp: capped at 900 by the HARD_MAX cap, and clamped at 1 by its dimension.
        if (field === "derived") expect(snapshot.derived).toEqual({ hp: value > 0 ? 900 : 1 });
      }
    }
  });
});
