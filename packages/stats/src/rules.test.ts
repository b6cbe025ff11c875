import { describe, expect, it } from "vitest";
import { aggregateOutputs, applyModifierPack } from "./aggregate.js";
import { compileRegistry } from "./registry.js";
import type {
  CapContribution,
  CombinerRegistry,
  Contribution,
  LayerRegistry,
  MergeRule,
  SubsystemOutput,
} from "./types.js";

// Worked examples for rules R2–R9, each computed by hand in the comment above its assertion.
// Numbers are chosen to be exact in binary floating point, so equality is exact.

const pipeline = (min = 0, max = 1e6, extra: Partial<MergeRule> = {}): MergeRule => ({
  use_pipeline: true,
  clamp_default: { min, max },
  ...extra,
});

function run(
  outputs: SubsystemOutput[],
  dimensions: CombinerRegistry["dimensions"] = {},
  layers?: LayerRegistry,
) {
  return aggregateOutputs(compileRegistry({ dimensions }, layers), outputs);
}

function output(
  system: string,
  parts: {
    primary?: Contribution[];
    derived?: Contribution[];
    caps?: CapContribution[];
    context?: SubsystemOutput["context"];
  },
): SubsystemOutput {
  return {
    primary: parts.primary ?? [],
    derived: parts.derived ?? [],
    caps: parts.caps ?? [],
    ...(parts.context ? { context: parts.context } : {}),
    meta: { system },
  };
}

const c = (
  dimension: string,
  bucket: Contribution["bucket"],
  value: number,
  system: string,
  priority?: number,
): Contribution => ({
  dimension,
  bucket,
  value,
  system,
  ...(priority === undefined ? {} : { priority }),
});

const cap = (
  dimension: string,
  mode: CapContribution["mode"],
  kind: CapContribution["kind"],
  value: number,
  scope: string,
  extra: Partial<CapContribution> = {},
): CapContribution => ({
  system: extra.system ?? "sys",
  dimension,
  mode,
  kind,
  value,
  scope,
  ...(scope === "REALM" ? { realm: "realm:1" } : {}),
  ...extra,
});

describe("R2 pipeline mode", () => {
  it("computes ΣFLAT × Π(1 + MULT) + ΣPOST_ADD with MULT as a delta", () => {
    // F = 100 + 50 = 150; M = (1 + 0.5) × (1 − 0.25) = 1.5 × 0.75 = 1.125; P = 10
    // 150 × 1.125 + 10 = 168.75 + 10 = 178.75
    const values = run(
      [
        output("race", { primary: [c("attack", "FLAT", 100, "race")] }),
        output("items", {
          primary: [
            c("attack", "FLAT", 50, "items"),
            c("attack", "MULT", 0.5, "items"),
            c("attack", "POST_ADD", 10, "items"),
          ],
        }),
        output("curse", { primary: [c("attack", "MULT", -0.25, "curse")] }),
      ],
      { attack: pipeline() },
    );
    expect(values.primary.attack).toBe(178.75);
  });

  it("starts from a base of 0: MULT alone gives 0, POST_ADD alone gives its sum", () => {
    // F = 0 → 0 × 1.5 + 0 = 0 for `a`; for `b`: 0 × 1 + (3 + 4) = 7
    const values = run([
      output("s", {
        primary: [c("a", "MULT", 0.5, "s"), c("b", "POST_ADD", 3, "s"), c("b", "POST_ADD", 4, "s")],
      }),
    ]);
    expect(values.primary).toEqual({ a: 0, b: 7 });
  });

  it("lets the highest-priority OVERRIDE win, then system asc, then the lower value", () => {
    // x: OVERRIDE 7 (p5, talent) beats OVERRIDE 9 (p1): 7, whatever FLATs say.
    // y: both priority 2 → system "alpha" < "beta" → 3.
    // z: same priority and system → the lower value, 4.
    const values = run([
      output("talent", {
        primary: [
          c("x", "FLAT", 1000, "items"),
          c("x", "OVERRIDE", 7, "talent", 5),
          c("x", "OVERRIDE", 9, "effects", 1),
          c("y", "OVERRIDE", 8, "beta", 2),
          c("y", "OVERRIDE", 3, "alpha", 2),
          c("z", "OVERRIDE", 6, "same"),
          c("z", "OVERRIDE", 4, "same"),
        ],
      }),
    ]);
    expect(values.primary).toEqual({ x: 7, y: 3, z: 4 });
  });

  it("treats MULT −1 as a factor of 0", () => {
    // 80 × (1 − 1) + 5 = 5
    const values = run([
      output("s", {
        primary: [c("a", "FLAT", 80, "s"), c("a", "MULT", -1, "s"), c("a", "POST_ADD", 5, "s")],
      }),
    ]);
    expect(values.primary.a).toBe(5);
  });
});

describe("R3 operator mode", () => {
  const dims = {
    total: { use_pipeline: false, operator: "SUM", clamp_default: { min: -100, max: 1000 } },
    best: { use_pipeline: false, operator: "MAX", clamp_default: { min: 0, max: 1000 } },
    worst: { use_pipeline: false, operator: "MIN", clamp_default: { min: 0, max: 1000 } },
    forced: { use_pipeline: false, operator: "MAX", clamp_default: { min: 0, max: 1000 } },
  } as const;

  it("applies SUM, MAX or MIN to every non-OVERRIDE value, whatever its bucket", () => {
    // total: 10 + 0.5 + 2 = 12.5 (the MULT 0.5 counts as a plain value)
    // best: max(300, 120, 500) = 500; worst: min(300, 120, 500) = 120
    // forced: OVERRIDE 42 wins over MAX(900) as in R2.
    const values = run(
      [
        output("s", {
          primary: [
            c("total", "FLAT", 10, "s"),
            c("total", "MULT", 0.5, "s"),
            c("total", "POST_ADD", 2, "s"),
            c("best", "FLAT", 300, "s"),
            c("best", "MULT", 120, "s"),
            c("best", "POST_ADD", 500, "s"),
            c("worst", "FLAT", 300, "s"),
            c("worst", "MULT", 120, "s"),
            c("worst", "POST_ADD", 500, "s"),
            c("forced", "FLAT", 900, "s"),
            c("forced", "OVERRIDE", 42, "s"),
          ],
        }),
      ],
      dims,
    );
    expect(values.primary).toEqual({ best: 500, forced: 42, total: 12.5, worst: 120 });
  });
});

describe("R4 caps within a layer", () => {
  it("sums BASELINE and ADDITIVE, then applies HARD_MAX and clamp_default", () => {
    // max side: B = 100, A = 30 + 20 = 50 → 150; HARD_MAX 120 → Max_L = min(150, 120, 1000) = 120
    // min side: B = 10, A = 5 → 15; HARD_MIN 12 → Min_L = max(15, 12, 0) = 15
    const values = run(
      [
        output("s", {
          primary: [c("str", "FLAT", 500, "s")],
          caps: [
            cap("str", "BASELINE", "max", 100, "TOTAL"),
            cap("str", "ADDITIVE", "max", 30, "TOTAL"),
            cap("str", "ADDITIVE", "max", 20, "TOTAL"),
            cap("str", "HARD_MAX", "max", 120, "TOTAL"),
            cap("str", "BASELINE", "min", 10, "TOTAL"),
            cap("str", "ADDITIVE", "min", 5, "TOTAL"),
            cap("str", "HARD_MIN", "min", 12, "TOTAL"),
          ],
        }),
      ],
      { str: pipeline(0, 1000) },
    );
    expect(values.caps_used.str).toEqual({ min: 15, max: 120 });
    expect(values.primary.str).toBe(120);
  });

  it("uses the first OVERRIDE of a side instead of the sums, still under HARD_MAX", () => {
    // max side: OVERRIDE 80 (p3) beats OVERRIDE 90 (p1) and replaces B + A = 300 → 80
    // min side: OVERRIDE 7 → 7. HARD_MAX 200 does not bind. Value 500 → 80.
    const values = run([
      output("s", {
        primary: [c("str", "FLAT", 500, "s")],
        caps: [
          cap("str", "BASELINE", "max", 300, "WORLD"),
          cap("str", "OVERRIDE", "max", 90, "WORLD", { priority: 1 }),
          cap("str", "OVERRIDE", "max", 80, "WORLD", { priority: 3 }),
          cap("str", "HARD_MAX", "max", 200, "WORLD"),
          cap("str", "OVERRIDE", "min", 7, "WORLD"),
        ],
      }),
    ]);
    expect(values.caps_used.str).toEqual({ min: 7, max: 80 });
    expect(values.primary.str).toBe(80);
  });

  it("lowers Min_L to Max_L when they cross", () => {
    // HARD_MIN 50 > HARD_MAX 30 → Min_L := Max_L = 30; value 10 → 30
    const values = run([
      output("s", {
        primary: [c("def", "FLAT", 10, "s")],
        caps: [
          cap("def", "HARD_MAX", "max", 30, "EVENT"),
          cap("def", "HARD_MIN", "min", 50, "EVENT"),
        ],
      }),
    ]);
    expect(values.caps_used.def).toEqual({ min: 30, max: 30 });
    expect(values.primary.def).toBe(30);
  });
});

describe("R5 across layers", () => {
  it("INTERSECT takes the tightest bounds of the present layers", () => {
    // REALM [10, 500], WORLD [20, 800], TOTAL only a SOFT_MAX (not present)
    // → Min = max(10, 20) = 20, Max = min(500, 800) = 500
    const values = run([
      output("s", {
        primary: [c("str", "FLAT", 5, "s")],
        caps: [
          cap("str", "HARD_MIN", "min", 10, "REALM"),
          cap("str", "HARD_MAX", "max", 500, "REALM"),
          cap("str", "HARD_MIN", "min", 20, "WORLD"),
          cap("str", "HARD_MAX", "max", 800, "WORLD"),
          cap("str", "SOFT_MAX", "max", 1e5, "TOTAL"),
        ],
      }),
    ]);
    expect(values.caps_used.str).toEqual({ min: 20, max: 500 });
    expect(values.primary.str).toBe(20);
  });

  it("PRIORITIZED_OVERRIDE lets the first layer in order with an OVERRIDE set that side alone", () => {
    // order [REALM, WORLD, TOTAL]. Max side: WORLD has OVERRIDE 900 and comes before TOTAL's
    // OVERRIDE 700, so Max = 900 and REALM's HARD_MAX 500 is ignored for that side.
    // Min side: no OVERRIDE anywhere → intersect: max(REALM 10, WORLD 0, TOTAL 0) = 10.
    const layers: LayerRegistry = {
      order: ["REALM", "WORLD", "TOTAL"],
      across_policy: "PRIORITIZED_OVERRIDE",
    };
    const values = run(
      [
        output("s", {
          primary: [c("str", "FLAT", 2000, "s")],
          caps: [
            cap("str", "HARD_MAX", "max", 500, "REALM"),
            cap("str", "HARD_MIN", "min", 10, "REALM"),
            cap("str", "OVERRIDE", "max", 900, "WORLD"),
            cap("str", "OVERRIDE", "max", 700, "TOTAL"),
          ],
        }),
      ],
      { str: pipeline(0, 5000) },
      layers,
    );
    expect(values.caps_used.str).toEqual({ min: 10, max: 900 });
    expect(values.primary.str).toBe(900);
  });

  it("intersects with clamp_default last and gives uncapped dimensions clamp_default", () => {
    // caps allow [−50, 5000] but clamp_default is [0, 100] → [0, 100]; `free` has no caps → [0, 1e6]
    const values = run(
      [
        output("s", {
          primary: [c("str", "FLAT", 150, "s"), c("free", "FLAT", 3, "s")],
          caps: [
            cap("str", "HARD_MIN", "min", -50, "TOTAL"),
            cap("str", "HARD_MAX", "max", 5000, "TOTAL"),
          ],
        }),
      ],
      { str: pipeline(0, 100) },
    );
    expect(values.caps_used).toEqual({ free: { min: 0, max: 1e6 }, str: { min: 0, max: 100 } });
    expect(values.primary.str).toBe(100);
  });
});

describe("R6 final value", () => {
  it("clamps into [Min, Max]", () => {
    // low: −20 → Min 0; high: 2e6 → Max 1e6; mid: 42 stays 42
    const values = run([
      output("s", {
        primary: [
          c("low", "FLAT", -20, "s"),
          c("high", "FLAT", 2e6, "s"),
          c("mid", "FLAT", 42, "s"),
        ],
      }),
    ]);
    expect(values.primary).toEqual({ high: 1e6, low: 0, mid: 42 });
  });
});

describe("R7 SOFT_MAX", () => {
  it("bends values above the smallest knee by ρ, then applies hard bounds", () => {
    // knees 100 (TOTAL) and 80 (WORLD) → k = 80, ρ = 0.5 default.
    // a: 120 → 80 + (120 − 80) × 0.5 = 100
    // b: 60 ≤ 80 → 60 (unchanged)
    // The SOFT_MAX caps are not hard bounds: caps_used stays at clamp_default [0, 1e6].
    const values = run([
      output("s", {
        primary: [c("a", "FLAT", 120, "s"), c("b", "FLAT", 60, "s")],
        caps: [
          cap("a", "SOFT_MAX", "max", 100, "TOTAL"),
          cap("a", "SOFT_MAX", "max", 80, "WORLD"),
          cap("b", "SOFT_MAX", "max", 80, "WORLD"),
        ],
      }),
    ]);
    expect(values.primary).toEqual({ a: 100, b: 60 });
    expect(values.caps_used.a).toEqual({ min: 0, max: 1e6 });
  });

  it("uses soft_ratio from the merge rule and still applies HARD_MAX afterwards", () => {
    // ρ = 0.25, k = 80: 200 → 80 + 120 × 0.25 = 110; HARD_MAX 100 → 100
    // c: ρ = 0.25, 120 → 80 + 40 × 0.25 = 90 (no hard cap)
    const values = run(
      [
        output("s", {
          primary: [c("a", "FLAT", 200, "s"), c("c", "FLAT", 120, "s")],
          caps: [
            cap("a", "SOFT_MAX", "max", 80, "TOTAL"),
            cap("a", "HARD_MAX", "max", 100, "TOTAL"),
            cap("c", "SOFT_MAX", "max", 80, "TOTAL"),
          ],
        }),
      ],
      { a: pipeline(0, 1e6, { soft_ratio: 0.25 }), c: pipeline(0, 1e6, { soft_ratio: 0.25 }) },
    );
    expect(values.primary).toEqual({ a: 100, c: 90 });
  });
});

describe("R8 primary and derived", () => {
  it("aggregates each section separately under the same caps", () => {
    // primary hp: 100 + 20 = 120 → HARD_MAX 110 → 110; derived hp: 50 × 1.5 = 75 (under 110)
    const values = run([
      output("s", {
        primary: [c("hp", "FLAT", 100, "s"), c("hp", "FLAT", 20, "t")],
        derived: [c("hp", "FLAT", 50, "s"), c("hp", "MULT", 0.5, "s")],
        caps: [cap("hp", "HARD_MAX", "max", 110, "TOTAL")],
      }),
    ]);
    expect(values.primary.hp).toBe(110);
    expect(values.derived.hp).toBe(75);
    expect(values.caps_used.hp).toEqual({ min: 0, max: 110 });
  });
});

describe("R9 context modifiers", () => {
  it("merges packs per key in subsystem order and applies base × (1 + ap) × Π m + post", () => {
    // fire: ap = 0.1 + 0.1 = 0.2, multipliers [1.5] then [1.2] (alpha before beta), post 20 + 30 = 50
    // apply(100) = 100 × 1.2 × 1.5 × 1.2 + 50 = 216 + 50 = 266
    const values = run([
      output("beta", {
        context: { fire: { additive_percent: 0.1, multipliers: [1.2], post_add: 30 } },
      }),
      output("alpha", {
        context: { fire: { additive_percent: 0.1, multipliers: [1.5], post_add: 20 } },
      }),
    ]);
    const fire = values.context?.fire;
    expect(fire).toEqual({ additive_percent: 0.2, multipliers: [1.5, 1.2], post_add: 50 });
    expect(fire && applyModifierPack(fire, 100)).toBe(266);
  });

  it("leaves context off the result when no subsystem emits any", () => {
    const values = run([output("s", { primary: [c("a", "FLAT", 1, "s")] })]);
    expect(values).not.toHaveProperty("context");
  });
});

describe("prepared outputs", () => {
  it("fold exactly like plain outputs, are deeply frozen, and are still validated", async () => {
    const { prepareOutput } = await import("./prepared-output.js");
    const plain = output("items", {
      primary: [c("atk", "FLAT", 40, "items"), c("atk", "MULT", 0.25, "items")],
      caps: [cap("atk", "HARD_MAX", "max", 45, "WORLD")],
    });
    const prepared = prepareOutput(plain);
    expect(Object.isFrozen(prepared)).toBe(true);
    expect(Object.isFrozen(prepared.primary[0])).toBe(true);
    const registry = compileRegistry({ dimensions: {} });
    // 40 × 1.25 = 50 → HARD_MAX 45
    for (let round = 0; round < 2; round++) {
      expect(aggregateOutputs(registry, [prepared])).toEqual(aggregateOutputs(registry, [plain]));
      expect(aggregateOutputs(registry, [prepared]).primary.atk).toBe(45);
    }
    const invalid = prepareOutput(output("bad", { primary: [c("atk", "MULT", -3, "bad")] }));
    for (let round = 0; round < 2; round++) {
      expect(() => aggregateOutputs(registry, [invalid])).toThrow(/field primary\[0\]\.value/);
    }
    // A scope valid in one registry is checked again against another.
    const layered = prepareOutput(
      output("w", { caps: [cap("atk", "HARD_MAX", "max", 1, "WORLD")] }),
    );
    expect(() => aggregateOutputs(registry, [layered])).not.toThrow();
    const other = compileRegistry(
      { dimensions: {} },
      { order: ["TOTAL"], across_policy: "INTERSECT" },
    );
    expect(() => aggregateOutputs(other, [layered])).toThrow(/field caps\[0\]\.scope/);
  });

  it("are deep, frozen copies, independent of the object they were made from", async () => {
    const { prepareOutput } = await import("./prepared-output.js");
    const source = {
      primary: [{ ...c("atk", "FLAT", 40, "items"), priority: 2 }],
      derived: [],
      caps: [{ ...cap("atk", "HARD_MAX", "max", 45, "WORLD"), tags: ["gear"] }],
      context: { vs_undead: { additive_percent: 0.1, multipliers: [1.5] } },
      meta: { system: "items", version: 3 },
    };
    const prepared = prepareOutput(source);
    expect(prepared).toEqual(source);
    expect(JSON.stringify(prepared)).toBe(JSON.stringify(source));
    for (const part of [
      prepared.primary,
      prepared.primary[0],
      prepared.caps[0]?.tags,
      prepared.context?.vs_undead?.multipliers,
      prepared.meta,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    source.primary[0] = { ...c("atk", "FLAT", 1, "items"), priority: 0 };
    source.meta.version = 4;
    expect(prepared.primary[0]?.value).toBe(40);
    expect(prepared.meta.version).toBe(3);
    // Data that is not plain (here a Date in meta) is still copied as structuredClone copies it.
    const dated = prepareOutput({ ...source, meta: { system: "items", at: new Date(5) } as never });
    expect((dated.meta as unknown as { at: Date }).at).toEqual(new Date(5));
    expect(Object.isFrozen(dated.meta)).toBe(true);
    // And what structuredClone refuses is still refused.
    expect(() =>
      prepareOutput({ ...source, meta: { system: "items", hook: () => 1 } as never }),
    ).toThrow();
  });

  it("fold right under each of several registries used in turn", async () => {
    const { prepareOutput } = await import("./prepared-output.js");
    const plain = output("items", {
      primary: [c("atk", "FLAT", 40, "items"), c("atk", "MULT", 0.25, "items")],
      caps: [cap("atk", "HARD_MAX", "max", 45, "WORLD")],
    });
    const prepared = prepareOutput(plain);
    // atk has another interned index and another clamp in each registry: 40 × 1.25 = 50, then
    // HARD_MAX 45 in the first, clamp_default max 30 in the second.
    const first = compileRegistry({ dimensions: { atk: pipeline(0, 100) } });
    const second = compileRegistry({ dimensions: { aaa: pipeline(0, 1), atk: pipeline(0, 30) } });
    for (let round = 0; round < 3; round++) {
      for (const [registry, expected] of [
        [first, 45],
        [second, 30],
      ] as const) {
        const values = aggregateOutputs(registry, [prepared]);
        expect(values).toEqual(aggregateOutputs(registry, [plain]));
        expect(values.primary.atk).toBe(expected);
      }
    }
  });
});

describe("caps_used bounds", () => {
  it("stay as computed when the next resolves change or repeat them", () => {
    const registry = compileRegistry({ dimensions: { atk: pipeline(0, 100) } });
    const fold = (max: number) =>
      aggregateOutputs(registry, [
        output("s", {
          primary: [c("atk", "FLAT", 60, "s")],
          caps: [cap("atk", "HARD_MAX", "max", max, "WORLD")],
        }),
      ]);
    // 50, 50, 50 (shared from the second on), then 40 and 55: earlier results keep their bounds.
    const results = [50, 50, 50, 40, 55].map(fold);
    expect(results.map((values) => values.caps_used.atk)).toEqual([
      { min: 0, max: 50 },
      { min: 0, max: 50 },
      { min: 0, max: 50 },
      { min: 0, max: 40 },
      { min: 0, max: 55 },
    ]);
    expect(results.map((values) => values.primary.atk)).toEqual([50, 50, 50, 40, 55]);
    // Bounds shared between snapshots are frozen, so no snapshot can change another's.
    expect(results[2]?.caps_used.atk).toBe(results[1]?.caps_used.atk);
    expect(Object.isFrozen(results[1]?.caps_used.atk)).toBe(true);
  });
});

describe("dimensions missing from the registry", () => {
  it("get the default rule and still come out in name order, however they arrive", () => {
    const registry = compileRegistry({ dimensions: { mid: pipeline(0, 10) } });
    const first = aggregateOutputs(registry, [
      output("s", {
        primary: [c("zeta", "FLAT", 1, "s"), c("alpha", "FLAT", 2, "s"), c("mid", "FLAT", 50, "s")],
      }),
    ]);
    expect(Object.keys(first.primary)).toEqual(["alpha", "mid", "zeta"]);
    // mid is capped by its registry rule [0, 10]; alpha and zeta use the default [0, 1e6].
    expect(first.primary).toEqual({ alpha: 2, mid: 10, zeta: 1 });
    const second = aggregateOutputs(registry, [
      output("s", {
        primary: [c("beta", "FLAT", 3, "s"), c("zeta", "FLAT", 1, "s"), c("aaa", "FLAT", 4, "s")],
      }),
    ]);
    expect(Object.keys(second.primary)).toEqual(["aaa", "beta", "zeta"]);
    expect(Object.keys(second.caps_used)).toEqual(["aaa", "beta", "zeta"]);
  });

  it("are bounded, so hostile input cannot grow the registry forever", async () => {
    const { MAX_DIMENSIONS } = await import("./registry.js");
    const registry = compileRegistry({ dimensions: {} });
    const many = Array.from({ length: MAX_DIMENSIONS }, (_, index) =>
      c(`d${index}`, "FLAT", 1, "s"),
    );
    expect(
      Object.keys(aggregateOutputs(registry, [output("s", { primary: many })]).primary),
    ).toHaveLength(MAX_DIMENSIONS);
    expect(() =>
      aggregateOutputs(registry, [output("s", { primary: [c("one_more", "FLAT", 1, "s")] })]),
    ).toThrow(
      /dimension "one_more", field primary\[0\]\.dimension: unknown dimension, and the registry already holds 4096/,
    );
  });
});
