// The fold's memos against a fresh engine. The fold leaves a prepared output's rows in place while
// every output before it repeats the previous resolve's (`FoldRows.add`), and an emitting
// subsystem's rows likewise (`FoldEmit.endEmit`). One engine resolves a random sequence of actors
// whose subsystem lists differ (shorter, longer, another form of a system at a position), whose
// subsystems throw or write invalid rows, with registry reloads and explanations in between; every
// snapshot must equal, bit for bit, what an engine that never resolved before gives.
import { TroupeError } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createStatsAggregator } from "./aggregator.js";
import type { FailurePolicy } from "./aggregator-api.js";
import { prepareOutput } from "./prepared-output.js";
import type { Subsystem } from "./subsystems.js";
import { testActor } from "./test-actor.js";
import type {
  Actor,
  CapContribution,
  CombinerRegistry,
  Contribution,
  Snapshot,
  StatsWriter,
  SubsystemOutput,
} from "./types.js";

const DIMENSIONS = ["alpha", "beta", "gamma"] as const;
const SYSTEMS = ["s1", "s2", "s3"] as const;
// The forms of a system: returned prepared (`p`), returned plain (`c`), emitted (`e`).
const FORMS = ["p", "c", "e"] as const;
const IDS = SYSTEMS.flatMap((system) => FORMS.map((form) => `${system}${form}`));
// Per system, the outputs an actor picks from: few, so prepared outputs repeat at new positions.
const PICKS = 2;

// Two registries to reload between: the same dimensions under other rules.
const COMBINERS: readonly CombinerRegistry[] = [
  {
    dimensions: {
      alpha: { use_pipeline: true, clamp_default: { min: -1e6, max: 1e6 } },
      beta: { use_pipeline: false, operator: "MAX", clamp_default: { min: -1e6, max: 1e6 } },
      gamma: { use_pipeline: true, clamp_default: { min: 0, max: 500 } },
    },
  },
  {
    dimensions: {
      alpha: { use_pipeline: false, operator: "SUM", clamp_default: { min: -1e6, max: 1e6 } },
      beta: { use_pipeline: true, clamp_default: { min: -100, max: 100 } },
    },
  },
];

const value = fc.integer({ min: -50, max: 50 });
const priority = fc.option(fc.nat(2), { nil: undefined });

const contribution = fc
  .record({
    dimension: fc.constantFrom(...DIMENSIONS),
    bucket: fc.constantFrom("FLAT", "MULT", "POST_ADD", "OVERRIDE" as const),
    value,
    priority,
  })
  .map(
    ({ priority: p, ...rest }): Contribution => ({
      ...rest,
      value: rest.bucket === "MULT" ? rest.value / 50 : rest.value,
      system: "",
      ...(p === undefined ? {} : { priority: p }),
    }),
  );

const cap = fc
  .record({
    dimension: fc.constantFrom(...DIMENSIONS),
    mode: fc.constantFrom("HARD_MAX", "HARD_MIN", "SOFT_MAX" as const),
    value: fc.integer({ min: -200, max: 200 }),
    scope: fc.constantFrom("WORLD", "EVENT" as const),
  })
  .map(
    (rest): CapContribution => ({
      ...rest,
      kind: rest.mode === "HARD_MIN" ? "min" : "max",
      system: "",
    }),
  );

/** An output of 0–5 rows and 0–2 caps (empty ones too: they move nothing after them). */
const output: fc.Arbitrary<SubsystemOutput> = fc
  .record({
    primary: fc.array(contribution, { maxLength: 3 }),
    derived: fc.array(contribution, { maxLength: 2 }),
    caps: fc.array(cap, { maxLength: 2 }),
    context: fc.option(fc.constant({ fire: { additive_percent: 0.5, post_add: 1 } }), {
      nil: undefined,
    }),
  })
  .map(({ context, ...rest }) => ({
    ...rest,
    ...(context === undefined ? {} : { context }),
    meta: { system: "" },
  }));

/** What an actor asks of one subsystem: which output, and whether it fails (and how). */
const ask = fc.record({
  pick: fc.nat(PICKS - 1),
  fault: fc.oneof(
    { weight: 8, arbitrary: fc.constant("none" as const) },
    { weight: 1, arbitrary: fc.constantFrom("throw", "invalid" as const) },
  ),
});
type Ask = { readonly pick: number; readonly fault: "none" | "throw" | "invalid" };

// Prepared more often than not: prepared outputs are what repeats.
const form = fc.oneof(
  { weight: 3, arbitrary: fc.constant("p") },
  { weight: 1, arbitrary: fc.constantFrom("c", "e") },
);

/**
 * An actor's subsystems (each system at most once, in run order) and what it asks of each. A run
 * draws a few and resolves them again and again, whole or cut short, so the same outputs come
 * back at the same positions after resolves that put others there or did not get that far.
 */
const shape = fc.record({
  ids: fc
    .tuple(...SYSTEMS.map(() => fc.option(form, { nil: undefined, freq: 4 })))
    .map((forms) =>
      SYSTEMS.flatMap((system, i) => (forms[i] === undefined ? [] : [`${system}${forms[i]}`])),
    ),
  asks: fc.dictionary(fc.constantFrom(...IDS), ask),
});
type Shape = { readonly ids: readonly string[]; readonly asks: Readonly<Record<string, Ask>> };

const step = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("resolve" as const),
      shape: fc.nat(),
      // The first `cut` of the actor's subsystems in run order (all of them when undefined).
      cut: fc.option(fc.nat(SYSTEMS.length - 1), { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom("reload", "explain" as const) }) },
);

/** `output` with every contribution and cap (and its meta) attributed to `system`. */
function ownedBy(list: SubsystemOutput, system: string): SubsystemOutput {
  return {
    ...list,
    primary: list.primary.map((item) => ({ ...item, system })),
    derived: list.derived.map((item) => ({ ...item, system })),
    caps: list.caps.map((item) => ({ ...item, system })),
    meta: { system },
  };
}

/** New values in the same structure, so memos that keep rows in place must still read them. */
function jitter(list: SubsystemOutput, round: number): SubsystemOutput {
  const move = (item: Contribution) => ({
    ...item,
    value: item.value + (item.bucket === "MULT" ? 0.125 : 3) * (round % 4),
  });
  return {
    ...list,
    primary: list.primary.map(move),
    derived: list.derived.map(move),
    caps: list.caps.map((item) => ({ ...item, value: item.value + 5 * (round % 3) })),
  };
}

/** `list` with a NaN value after its primary rows: R0 rejects it after writing those. */
function spoiled(list: SubsystemOutput, system: string): SubsystemOutput {
  return {
    ...list,
    primary: [...list.primary, { dimension: "alpha", bucket: "FLAT", value: Number.NaN, system }],
  };
}

/** Writes `list` through `writer` in its order, as an emitting subsystem does. */
function replay(list: SubsystemOutput, writer: StatsWriter, spoil: boolean): void {
  for (const item of list.primary) {
    writer.primary(item.dimension, item.bucket, item.value, item.priority);
  }
  if (spoil) {
    // Caught, as a careless subsystem might: the fold rejects the emit all the same.
    try {
      writer.primary("alpha", "FLAT", Number.NaN);
    } catch {}
  }
  for (const item of list.derived) {
    writer.derived(item.dimension, item.bucket, item.value, item.priority);
  }
  for (const item of list.caps) {
    writer.cap(item.dimension, item.mode, item.kind, item.value, item.scope);
  }
  for (const [key, pack] of Object.entries(list.context ?? {})) writer.context(key, pack);
}

/** Every number as its exact bit pattern, so −0 ≠ +0 and no rounding hides a difference. */
function bits(snapshot: Snapshot): string {
  const { primary, derived, caps_used, context, failed_systems } = snapshot;
  const view = new DataView(new ArrayBuffer(8));
  return JSON.stringify({ primary, derived, caps_used, context, failed_systems }, (_key, item) => {
    if (typeof item !== "number") return item;
    view.setFloat64(0, item);
    return view.getBigUint64(0).toString(16);
  });
}

const outcome = (error: unknown) =>
  error instanceof TroupeError ? `${error.code}: ${error.message}` : String(error);

/**
 * The nine subsystems (three systems in three forms) reading what to do from the actor's data:
 * `asks[id]` (default: the first output, no fault) and `round` (the plain and emitted values).
 */
function subsystemsOver(pool: readonly (readonly SubsystemOutput[])[]): Subsystem[] {
  const prepared = new Map<string, SubsystemOutput>();
  const askOf = (actor: Actor, id: string): Ask =>
    (actor.data.asks as Record<string, Ask>)[id] ?? { pick: 0, fault: "none" };
  const base = (actor: Actor, index: number, id: string) =>
    ownedBy((pool[index] as SubsystemOutput[])[askOf(actor, id).pick] as SubsystemOutput, id);
  return SYSTEMS.flatMap((system, index): Subsystem[] => [
    {
      id: `${system}p`,
      contribute(actor) {
        const { pick, fault } = askOf(actor, `${system}p`);
        if (fault === "throw") throw new Error(`${system}p failed`);
        // The same prepared object for as long as the actor asks for it.
        const key = `${system}:${pick}:${fault}`;
        let ready = prepared.get(key);
        if (ready === undefined) {
          const list = base(actor, index, `${system}p`);
          ready = prepareOutput(fault === "invalid" ? spoiled(list, `${system}p`) : list);
          prepared.set(key, ready);
        }
        return ready;
      },
    },
    {
      id: `${system}c`,
      contribute(actor) {
        const { fault } = askOf(actor, `${system}c`);
        if (fault === "throw") throw new Error(`${system}c failed`);
        const list = jitter(base(actor, index, `${system}c`), actor.data.round as number);
        return fault === "invalid" ? spoiled(list, `${system}c`) : list;
      },
    },
    {
      id: `${system}e`,
      emit(actor, writer) {
        const { fault } = askOf(actor, `${system}e`);
        replay(
          jitter(base(actor, index, `${system}e`), actor.data.round as number),
          writer,
          fault === "invalid",
        );
        // After its rows are written: the fold must drop them.
        if (fault === "throw") throw new Error(`${system}e failed`);
      },
    },
  ]);
}

describe("the fold's memos", () => {
  it("leave a prepared output's rows in place only where the previous resolve put them", async () => {
    // Two actors share the engine: an elf with a sword, then a dwarf without one (or whose gear
    // failed and was left out), who then picks the sword up. The sword comes at the position it
    // had in the elf's resolves, but after another race: its rows are not where the elf's
    // resolves left them. (A prepared output's first resolve interns it; from its second on, the
    // fold may leave it in place: hence the pairs.)
    const prepared = (system: string, rows: [string, number][]) =>
      prepareOutput({
        primary: rows.map(([dimension, value]) => ({ dimension, bucket: "FLAT", value, system })),
        derived: [],
        caps: [],
        meta: { system },
      } as SubsystemOutput);
    const races = new Map([
      [
        "elf",
        prepared("race", [
          ["agility", 4],
          ["hp", 7],
        ]),
      ],
      ["dwarf", prepared("race", [["hp", 10]])],
    ]);
    const sword = prepared("gear", [["strength", 100]]);
    const subsystems: Subsystem[] = [
      // Higher priority: runs before gear.
      {
        id: "race",
        priority: 1,
        contribute: (actor) => races.get(actor.data.race as string) as SubsystemOutput,
      },
      {
        id: "gear",
        contribute(actor) {
          if (actor.data.broken === true) throw new Error("the gear service is down");
          return sword;
        },
      },
    ];
    const combiner: CombinerRegistry = {
      dimensions: Object.fromEntries(
        ["agility", "strength", "hp"].map((name) => [
          name,
          { use_pipeline: true, clamp_default: { min: 0, max: 1000 } },
        ]),
      ),
    };
    for (const between of [
      { name: "without gear", ids: ["race"], broken: false },
      { name: "gear left out", ids: ["race", "gear"], broken: true },
    ]) {
      const stats = createStatsAggregator({ combiner, subsystems, failurePolicy: "degrade" });
      let version = 0;
      const resolve = async (race: string, ids: readonly string[], broken = false) =>
        (await stats.resolve(testActor("hero", ids, ++version, { race, broken }))).primary;
      for (let i = 0; i < 2; i++) {
        expect(await resolve("elf", ["race", "gear"])).toEqual({
          agility: 4,
          hp: 7,
          strength: 100,
        });
      }
      for (let i = 0; i < 2; i++)
        expect(await resolve("dwarf", between.ids, between.broken)).toEqual({ hp: 10 });
      expect(await resolve("dwarf", ["race", "gear"]), between.name).toEqual({
        hp: 10,
        strength: 100,
      });
    }
  });

  it("give what a fresh engine gives, whatever the engine resolved before", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(output, { minLength: PICKS, maxLength: PICKS }), {
          minLength: SYSTEMS.length,
          maxLength: SYSTEMS.length,
        }),
        fc.constantFrom<FailurePolicy>("degrade", "fail_fast"),
        fc.array(shape, { minLength: 2, maxLength: 3 }),
        fc.array(step, { minLength: 8, maxLength: 24 }),
        async (pool, failurePolicy, shapes, steps) => {
          const subsystems = subsystemsOver(pool);
          let combiner = 0;
          const engine = createStatsAggregator({
            combiner: COMBINERS[combiner] as CombinerRegistry,
            subsystems,
            failurePolicy,
          });
          let version = 0;
          for (const [round, next] of steps.entries()) {
            if (next.kind === "reload") {
              combiner = 1 - combiner;
              engine.reload({ combiner: COMBINERS[combiner] as CombinerRegistry });
              continue;
            }
            const { ids, asks } =
              next.kind === "resolve"
                ? (shapes[next.shape % shapes.length] as Shape)
                : (shapes[0] as Shape);
            const listed =
              next.kind === "resolve" && next.cut !== undefined ? ids.slice(0, next.cut) : ids;
            // A fresh version every time: no snapshot comes from the cache.
            const actor = testActor("hero", listed, ++version, { round, asks });
            if (next.kind === "explain") {
              // Explaining folds the actor's outputs on the engine's fold, as a resolve does.
              await engine.explain(actor, "alpha").catch(() => undefined);
              continue;
            }
            const fresh = createStatsAggregator({
              combiner: COMBINERS[combiner] as CombinerRegistry,
              subsystems,
              failurePolicy,
            });
            const expected = await fresh.resolve(actor).then(bits, outcome);
            const actual = await engine.resolve(actor).then(bits, outcome);
            expect(actual, `step ${round}: ${listed.join(",")}`).toBe(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
