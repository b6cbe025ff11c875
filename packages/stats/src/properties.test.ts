import { TroupeError } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aggregateOutputs, foldFor } from "./aggregate.js";
import { createStatsAggregator } from "./aggregator.js";
import { explainOutputs } from "./explain.js";
import { prepareOutput } from "./prepared-output.js";
import { compileRegistry } from "./registry.js";
import type { Subsystem } from "./subsystems.js";
import { testActor } from "./test-actor.js";
import { replay } from "./test-replay.js";
import type {
  Actor,
  CapContribution,
  CombinerRegistry,
  Contribution,
  LayerRegistry,
  MergeRule,
  StatsWriter,
  StatValues,
  SubsystemOutput,
} from "./types.js";

const DIMENSIONS = ["alpha", "beta", "gamma", "delta"] as const;
const SYSTEMS = ["items", "race", "talent", "buff"] as const;
const LAYERS = ["REALM", "WORLD", "EVENT", "TOTAL"] as const;

const value = fc.double({ min: -1000, max: 1000, noNaN: true });
const priority = fc.option(fc.nat(3), { nil: undefined });

const contribution: fc.Arbitrary<Contribution> = fc
  .record({
    dimension: fc.constantFrom(...DIMENSIONS),
    bucket: fc.constantFrom("FLAT", "MULT", "POST_ADD", "OVERRIDE" as const),
    value,
    mult: fc.double({ min: -1, max: 2, noNaN: true }),
    system: fc.constantFrom(...SYSTEMS),
    priority,
  })
  .map(({ mult, priority: p, ...rest }) => ({
    ...rest,
    value: rest.bucket === "MULT" ? mult : rest.value,
    ...(p === undefined ? {} : { priority: p }),
  }));

const capContribution: fc.Arbitrary<CapContribution> = fc
  .record({
    dimension: fc.constantFrom(...DIMENSIONS),
    mode: fc.constantFrom(
      "BASELINE",
      "ADDITIVE",
      "HARD_MAX",
      "HARD_MIN",
      "OVERRIDE",
      "SOFT_MAX" as const,
    ),
    kind: fc.constantFrom("max", "min" as const),
    value,
    system: fc.constantFrom(...SYSTEMS),
    priority,
    scope: fc.constantFrom(...LAYERS),
  })
  .map(({ priority: p, ...rest }) => ({
    ...rest,
    kind:
      rest.mode === "HARD_MAX" || rest.mode === "SOFT_MAX"
        ? "max"
        : rest.mode === "HARD_MIN"
          ? "min"
          : rest.kind,
    ...(rest.scope === "REALM" ? { realm: "realm:1" } : {}),
    ...(p === undefined ? {} : { priority: p }),
  }));

const mergeRule: fc.Arbitrary<MergeRule> = fc
  .record({
    use_pipeline: fc.boolean(),
    operator: fc.constantFrom("SUM", "MAX", "MIN" as const),
    a: fc.double({ min: -500, max: 500, noNaN: true }),
    b: fc.double({ min: -500, max: 2000, noNaN: true }),
    soft_ratio: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  })
  .map(({ a, b, soft_ratio, ...rest }) => ({
    ...rest,
    clamp_default: { min: Math.min(a, b), max: Math.max(a, b) },
    ...(soft_ratio === undefined ? {} : { soft_ratio }),
  }));

const combiner: fc.Arbitrary<CombinerRegistry> = fc
  .tuple(...DIMENSIONS.map(() => fc.option(mergeRule, { nil: undefined })))
  .map((rules) => {
    const dimensions: Record<string, MergeRule> = {};
    rules.forEach((rule, index) => {
      if (rule) dimensions[DIMENSIONS[index] as string] = rule;
    });
    return { dimensions };
  });

const layers: fc.Arbitrary<LayerRegistry> = fc
  .constantFrom("INTERSECT", "PRIORITIZED_OVERRIDE" as const)
  .map((across_policy) => ({ order: [...LAYERS], across_policy }));

const contextPack = fc.record(
  {
    additive_percent: fc.double({ min: -1, max: 1, noNaN: true }),
    multipliers: fc.array(fc.double({ min: 0, max: 3, noNaN: true }), { maxLength: 2 }),
    post_add: value,
  },
  { requiredKeys: [] },
);

/** Up to four outputs with distinct systems; contributions and caps spread among them. */
const outputs: fc.Arbitrary<SubsystemOutput[]> = fc
  .uniqueArray(fc.constantFrom("s1", "s2", "s3", "s4"), { minLength: 1, maxLength: 4 })
  .chain((systems) =>
    fc.tuple(
      ...systems.map((system) =>
        fc
          .record({
            primary: fc.array(contribution, { maxLength: 6 }),
            derived: fc.array(contribution, { maxLength: 4 }),
            caps: fc.array(capContribution, { maxLength: 5 }),
            context: fc.option(fc.dictionary(fc.constantFrom("fire", "ice"), contextPack), {
              nil: undefined,
            }),
          })
          .map(({ context, ...rest }) => ({
            ...rest,
            ...(context === undefined ? {} : { context }),
            meta: { system },
          })),
      ),
    ),
  );

/** Every number as its exact bit pattern, so −0 ≠ +0 and no rounding hides a difference. */
function bits(values: StatValues): string {
  const view = new DataView(new ArrayBuffer(8));
  return JSON.stringify(values, (_key, item: unknown) => {
    if (typeof item !== "number") return item;
    view.setFloat64(0, item);
    return view.getBigUint64(0).toString(16);
  });
}

/** Re-deals every contribution and cap of `list` among the outputs in the order of `seeds`. */
function permute(list: readonly SubsystemOutput[], seeds: readonly number[]): SubsystemOutput[] {
  let cursor = 0;
  const next = () => seeds[cursor++ % seeds.length] ?? 0;
  const shuffle = <T>(items: readonly T[]): T[] => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  };
  const primary = shuffle(list.flatMap((output) => output.primary));
  const derived = shuffle(list.flatMap((output) => output.derived));
  const caps = shuffle(list.flatMap((output) => output.caps));
  const shells = shuffle(list).map((output) => ({
    ...output,
    primary: [] as Contribution[],
    derived: [] as Contribution[],
    caps: [] as CapContribution[],
  }));
  for (const item of primary) shells[next() % shells.length]?.primary.push(item);
  for (const item of derived) shells[next() % shells.length]?.derived.push(item);
  for (const item of caps) shells[next() % shells.length]?.caps.push(item);
  return shells;
}

/** `output` with every contribution and cap (and its meta) attributed to `system`. */
function ownedBy(output: SubsystemOutput, system: string): SubsystemOutput {
  return {
    ...output,
    primary: output.primary.map((item) => ({ ...item, system })),
    derived: output.derived.map((item) => ({ ...item, system })),
    caps: output.caps.map((cap) => ({ ...cap, system })),
    meta: { system },
  };
}

/** `output` with new values in the same structure: round `r` moves every value by a step of r. */
function jitter(output: SubsystemOutput, round: number): SubsystemOutput {
  const move = (item: Contribution) => ({
    ...item,
    value: item.value + (item.bucket === "MULT" ? 0.125 : 3.5) * round,
  });
  return {
    ...output,
    primary: output.primary.map(move),
    derived: output.derived.map(move),
    caps: output.caps.map((cap) => ({ ...cap, value: cap.value + 7.25 * round })),
  };
}

const seeds = fc.array(fc.nat(1000), { minLength: 1, maxLength: 20 });

describe("properties", () => {
  it("gives a bit-identical result for any permutation of subsystems, contributions and caps", () => {
    fc.assert(
      fc.property(combiner, layers, outputs, seeds, (registry, layerRegistry, list, order) => {
        const compiled = compileRegistry(registry, layerRegistry);
        const first = bits(aggregateOutputs(compiled, list));
        const second = bits(aggregateOutputs(compiled, permute(list, order)));
        expect(second).toBe(first);
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same values on a reused fold as on a fresh one, whatever came before", () => {
    // The fold keeps rows, links and name order between calls and reuses them when the prepared
    // outputs or the cell structure repeat; prepared, plain and rejected outputs in any sequence
    // must never let one call see another's leftovers.
    const step = fc.tuple(fc.nat(5), fc.nat(3));
    fc.assert(
      fc.property(
        combiner,
        layers,
        fc.array(outputs, { minLength: 1, maxLength: 3 }),
        fc.array(step, { minLength: 1, maxLength: 12 }),
        (registry, layerRegistry, pool, steps) => {
          const shared = compileRegistry(registry, layerRegistry);
          const prepared = pool.map((list) => list.map((output) => prepareOutput(output)));
          const expected = (list: SubsystemOutput[]) => {
            try {
              return bits(aggregateOutputs(compileRegistry(registry, layerRegistry), list));
            } catch (error) {
              return error instanceof TroupeError ? error.message : String(error);
            }
          };
          const actual = (list: SubsystemOutput[]) => {
            try {
              return bits(aggregateOutputs(shared, list));
            } catch (error) {
              return error instanceof TroupeError ? error.message : String(error);
            }
          };
          for (const [which, mode] of steps) {
            const plain = pool[which % pool.length] as SubsystemOutput[];
            const ready = prepared[which % pool.length] as SubsystemOutput[];
            if (mode === 3) {
              // A rejected output that sorts first and writes rows over everyone else's.
              const rejected: SubsystemOutput = {
                primary: [
                  ...plain.flatMap((output) => [...output.primary, ...output.derived]),
                  { dimension: "alpha", bucket: "FLAT", value: Number.NaN, system: "s0" },
                ],
                derived: [],
                caps: [],
                meta: { system: "s0" },
              };
              expect(actual([rejected, ...ready])).toMatch(/primary\[\d+\]\.value/);
              continue;
            }
            const list =
              mode === 0
                ? ready
                : mode === 1
                  ? plain
                  : ready.map((o, i) => (i % 2 ? (plain[i] ?? o) : o));
            expect(actual(list)).toBe(expected(plain));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("gives the same values when a repeated plan runs as compiled code as on a fresh fold", () => {
    // A plan that repeats (the same cells and capped dimensions, new values) is compiled into a
    // function from its third resolve on; every value it computes must match a fresh fold.
    fc.assert(
      fc.property(
        combiner,
        layers,
        outputs,
        fc.integer({ min: 3, max: 6 }),
        (registry, layerRegistry, list, repeats) => {
          const shared = compileRegistry(registry, layerRegistry);
          for (let round = 0; round < repeats; round++) {
            const jittered = list.map((output) => jitter(output, round));
            const fresh = (() => {
              try {
                return bits(aggregateOutputs(compileRegistry(registry, layerRegistry), jittered));
              } catch (error) {
                return error instanceof TroupeError ? error.message : String(error);
              }
            })();
            let reused: string;
            try {
              reused = bits(aggregateOutputs(shared, jittered));
            } catch (error) {
              reused = error instanceof TroupeError ? error.message : String(error);
            }
            expect(reused).toBe(fresh);
          }
          // The compiled path did run (unless a value overflowed, which ends every plan early).
          const compiled = (foldFor(shared) as unknown as { compiledPlan?: unknown }).compiledPlan;
          expect(compiled === undefined ? "generic" : "compiled").toBe("compiled");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives the same values whether subsystems emit or return outputs, resolve after resolve", async () => {
    // Every system is registered three times: emitting its output through the writer (`<s>e`),
    // returning it (`<s>c`), returning it prepared (`<s>p`). Each resolve picks one form per
    // system at random, and one aggregator (one reused fold) runs the whole sequence, so emitted
    // rows meet plain and prepared ones before and after them. The ids keep the systems' order.
    const step = fc.tuple(
      fc.nat(5),
      fc.array(fc.constantFrom("e", "c", "p"), { minLength: 4, maxLength: 4 }),
    );
    await fc.assert(
      fc.asyncProperty(
        combiner,
        layers,
        fc.array(outputs, { minLength: 1, maxLength: 3 }),
        fc.array(step, { minLength: 1, maxLength: 8 }),
        async (registry, layerRegistry, pool, steps) => {
          const compiled = compileRegistry(registry, layerRegistry);
          let current: SubsystemOutput[] = [];
          const find = (system: string) =>
            current.find((output) => output.meta.system === system) as SubsystemOutput;
          const prepared = new Map<SubsystemOutput, SubsystemOutput>();
          const subsystems: Subsystem[] = ["s1", "s2", "s3", "s4"].flatMap((system) => [
            {
              id: `${system}e`,
              emit: (_target: Actor, writer: StatsWriter) =>
                replay(ownedBy(find(system), `${system}e`), writer),
            },
            { id: `${system}c`, contribute: () => ownedBy(find(system), `${system}c`) },
            {
              id: `${system}p`,
              contribute: () => {
                const output = find(system);
                let ready = prepared.get(output);
                if (ready === undefined) {
                  ready = prepareOutput(ownedBy(output, `${system}p`));
                  prepared.set(output, ready);
                }
                return ready;
              },
            },
          ]);
          const stats = createStatsAggregator({
            combiner: registry,
            layers: layerRegistry,
            subsystems,
          });
          let version = 0;
          for (const [which, how] of steps) {
            current = pool[which % pool.length] as SubsystemOutput[];
            const expected = bits(
              aggregateOutputs(
                compiled,
                current.map((output) => ownedBy(output, output.meta.system)),
              ),
            );
            const snapshot = await stats.resolve(
              testActor(
                "hero",
                current.map((output, index) => `${output.meta.system}${how[index]}`),
                version++,
              ),
            );
            const { primary, derived, caps_used, context } = snapshot;
            expect(
              bits({ primary, derived, caps_used, ...(context === undefined ? {} : { context }) }),
            ).toBe(expected);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("gives the same snapshot whatever order subsystems are registered and listed in", async () => {
    await fc.assert(
      fc.asyncProperty(combiner, outputs, seeds, async (registry, list, order) => {
        const subsystems = list.map((output) => ({
          id: output.meta.system,
          contribute: () => output,
        }));
        const actor = (ids: string[]): Actor => testActor("hero", ids);
        const ids = subsystems.map((subsystem) => subsystem.id);
        const shuffled = permute(list, order).map((output) => output.meta.system);
        const a = createStatsAggregator({ combiner: registry, subsystems });
        const b = createStatsAggregator({
          combiner: registry,
          subsystems: [...subsystems].reverse(),
        });
        const left = await a.resolve(actor(ids));
        const right = await b.resolve(actor(shuffled));
        expect(bits({ ...right, created_at: 0 } as unknown as StatValues)).toBe(
          bits({ ...left, created_at: 0 } as unknown as StatValues),
        );
      }),
      { numRuns: 100 },
    );
  });

  it("keeps Min ≤ value ≤ Max for every dimension", () => {
    fc.assert(
      fc.property(combiner, layers, outputs, (registry, layerRegistry, list) => {
        const values = aggregateOutputs(compileRegistry(registry, layerRegistry), list);
        for (const [dimension, bounds] of Object.entries(values.caps_used)) {
          expect(bounds.min).toBeLessThanOrEqual(bounds.max);
          for (const section of [values.primary, values.derived]) {
            const found = section[dimension];
            if (found === undefined) continue;
            expect(found).toBeGreaterThanOrEqual(bounds.min);
            expect(found).toBeLessThanOrEqual(bounds.max);
          }
        }
        for (const dimension of [...Object.keys(values.primary), ...Object.keys(values.derived)]) {
          expect(values.caps_used).toHaveProperty(dimension);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never lowers a pipeline value when a positive FLAT is added and every MULT factor is positive", () => {
    const positiveMult = contribution.map((item) =>
      item.bucket === "MULT" && item.value <= -1 ? { ...item, value: -0.5 } : item,
    );
    fc.assert(
      fc.property(
        combiner,
        layers,
        fc.array(positiveMult, { maxLength: 10 }),
        fc.array(capContribution, { maxLength: 6 }),
        fc.double({ min: Number.MIN_VALUE, max: 1000, noNaN: true }),
        fc.constantFrom(...SYSTEMS),
        priority,
        (registry, layerRegistry, primary, caps, extra, system, p) => {
          const rules: Record<string, MergeRule> = {};
          for (const [name, rule] of Object.entries(registry.dimensions)) {
            rules[name] = { ...rule, use_pipeline: true };
          }
          const compiled = compileRegistry({ dimensions: rules }, layerRegistry);
          const base: SubsystemOutput = { primary, derived: [], caps, meta: { system: "s1" } };
          const added: Contribution = {
            dimension: "alpha",
            bucket: "FLAT",
            value: extra,
            system,
            ...(p === undefined ? {} : { priority: p }),
          };
          const before = aggregateOutputs(compiled, [base]).primary.alpha;
          const after = aggregateOutputs(compiled, [{ ...base, primary: [...primary, added] }])
            .primary.alpha as number;
          if (before !== undefined) expect(after).toBeGreaterThanOrEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("explains every dimension with exactly the numbers resolve computes", () => {
    fc.assert(
      fc.property(combiner, layers, outputs, (registry, layerRegistry, list) => {
        const compiled = compileRegistry(registry, layerRegistry);
        const values = aggregateOutputs(compiled, list);
        for (const [dimension, bounds] of Object.entries(values.caps_used)) {
          const explanation = explainOutputs(compiled, list, dimension);
          expect(explanation.across.min === bounds.min).toBe(true);
          expect(explanation.across.max === bounds.max).toBe(true);
          if (dimension in values.primary) {
            expect(explanation.primary?.value === values.primary[dimension]).toBe(true);
          }
          if (dimension in values.derived) {
            expect(explanation.derived?.value === values.derived[dimension]).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
