import { TroupeError } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aggregateOutputs } from "./aggregate.js";
import { createStatsAggregator } from "./aggregator.js";
import { compileRegistry } from "./registry.js";
import { subsystemOutputSchema } from "./schemas.js";
import { testActor } from "./test-actor.js";
import { replay } from "./test-replay.js";
import type { SubsystemOutput } from "./types.js";

// Rule R0: every malformed input is rejected with an error naming the subsystem and the field,
// whether it comes as a returned output or through an emitting subsystem's writer.

type Mutation = {
  readonly name: string;
  readonly field: string;
  readonly zodRejects: boolean;
  apply(output: Record<string, unknown>): void;
};

const validOutput = (): Record<string, unknown> => ({
  primary: [{ dimension: "alpha", bucket: "FLAT", value: 5, system: "items", priority: 1 }],
  derived: [{ dimension: "beta", bucket: "MULT", value: 0.2, system: "items" }],
  caps: [
    {
      system: "items",
      dimension: "alpha",
      mode: "HARD_MAX",
      kind: "max",
      value: 9,
      scope: "WORLD",
    },
    {
      system: "items",
      dimension: "beta",
      mode: "BASELINE",
      kind: "min",
      value: 1,
      scope: "REALM",
      realm: "r:1",
    },
  ],
  context: { fire: { additive_percent: 0.1, multipliers: [1.5], post_add: 2 } },
  meta: { system: "items" },
});

const at = (output: Record<string, unknown>, section: string, index: number) =>
  (output[section] as Record<string, unknown>[])[index] as Record<string, unknown>;

const MUTATIONS: Mutation[] = [
  ...[Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "5", null].map((bad) => ({
    name: `value ${String(bad)}`,
    field: "primary[0].value",
    zodRejects: true,
    apply: (output: Record<string, unknown>) => {
      at(output, "primary", 0).value = bad;
    },
  })),
  ...["Alpha", "1abc", "a-b", "", "with space"].map((bad) => ({
    name: `dimension ${JSON.stringify(bad)}`,
    field: "derived[0].dimension",
    zodRejects: true,
    apply: (output: Record<string, unknown>) => {
      at(output, "derived", 0).dimension = bad;
    },
  })),
  ...[-1, 1.5, "2"].map((bad) => ({
    name: `priority ${String(bad)}`,
    field: "primary[0].priority",
    zodRejects: true,
    apply: (output: Record<string, unknown>) => {
      at(output, "primary", 0).priority = bad;
    },
  })),
  {
    name: "unknown bucket",
    field: "primary[0].bucket",
    zodRejects: true,
    apply: (output) => {
      at(output, "primary", 0).bucket = "PERCENT";
    },
  },
  {
    name: "MULT below −1",
    field: "derived[0].value",
    zodRejects: true,
    apply: (output) => {
      at(output, "derived", 0).value = -1.5;
    },
  },
  {
    name: "unknown cap mode",
    field: "caps[0].mode",
    zodRejects: true,
    apply: (output) => {
      at(output, "caps", 0).mode = "CEILING";
    },
  },
  {
    name: "unknown cap kind",
    field: "caps[1].kind",
    zodRejects: true,
    apply: (output) => {
      at(output, "caps", 1).kind = "both";
    },
  },
  {
    name: "HARD_MAX with kind min",
    field: "caps[0].kind",
    zodRejects: true,
    apply: (output) => {
      at(output, "caps", 0).kind = "min";
    },
  },
  {
    name: "scope that is not a layer",
    field: "caps[0].scope",
    zodRejects: false,
    apply: (output) => {
      at(output, "caps", 0).scope = "GALAXY";
    },
  },
  {
    name: "REALM cap without realm",
    field: "caps[1].realm",
    zodRejects: true,
    apply: (output) => {
      delete at(output, "caps", 1).realm;
    },
  },
  {
    name: "negative context multiplier",
    field: "context.fire.multipliers[0]",
    zodRejects: true,
    apply: (output) => {
      (
        (output.context as Record<string, Record<string, unknown>>).fire as Record<string, unknown>
      ).multipliers = [-2];
    },
  },
  {
    name: "non-finite cap value",
    field: "caps[1].value",
    zodRejects: true,
    apply: (output) => {
      at(output, "caps", 1).value = Number.NaN;
    },
  },
];

describe("R0 validation", () => {
  const registry = compileRegistry({ dimensions: {} });

  it("accepts the unmutated output", () => {
    expect(() =>
      aggregateOutputs(registry, [validOutput() as unknown as SubsystemOutput]),
    ).not.toThrow();
    expect(subsystemOutputSchema.safeParse(validOutput()).success).toBe(true);
  });

  it("rejects every malformed input with an error naming subsystem and field", () => {
    fc.assert(
      fc.property(fc.constantFrom(...MUTATIONS), fc.nat(3), (mutation, position) => {
        const broken = validOutput();
        mutation.apply(broken);
        const list = [
          { primary: [], derived: [], caps: [], meta: { system: "aaa" } },
          broken,
          { primary: [], derived: [], caps: [], meta: { system: "zzz" } },
        ].slice(0, 1 + position) as unknown as SubsystemOutput[];
        if (!list.includes(broken as unknown as SubsystemOutput))
          list.push(broken as unknown as SubsystemOutput);
        let caught: unknown;
        try {
          aggregateOutputs(registry, list);
        } catch (error) {
          caught = error;
        }
        expect(TroupeError.isInstance(caught, "INVALID_ARGUMENT"), mutation.name).toBe(true);
        const error = caught as TroupeError;
        expect(error.details.field, mutation.name).toBe(mutation.field);
        expect(error.details.system, mutation.name).toBe("items");
        expect(error.message).toContain(mutation.field);
        expect(error.message).toContain('subsystem "items"');
        expect(subsystemOutputSchema.safeParse(broken).success, mutation.name).toBe(
          !mutation.zodRejects,
        );
      }),
      { numRuns: 100 },
    );
  });

  it("rejects every malformed call of an emitting subsystem with the field an output gets", async () => {
    for (const mutation of MUTATIONS) {
      const broken = validOutput();
      mutation.apply(broken);
      const stats = createStatsAggregator({
        combiner: { dimensions: {} },
        subsystems: [
          {
            id: "items",
            emit: (_target, writer) => replay(broken as unknown as SubsystemOutput, writer),
          },
        ],
      });
      const caught = await stats
        .resolve(testActor("hero", ["items"]))
        .catch((error: unknown) => error);
      let expected: unknown;
      try {
        aggregateOutputs(registry, [broken as unknown as SubsystemOutput]);
      } catch (error) {
        expected = error;
      }
      expect(TroupeError.isInstance(caught, "INVALID_ARGUMENT"), mutation.name).toBe(true);
      expect((caught as TroupeError).details.field, mutation.name).toBe(mutation.field);
      expect((caught as TroupeError).message, mutation.name).toBe(
        (expected as TroupeError).message,
      );
    }
  });

  it("names the dimension when the offending contribution has a valid one", () => {
    const broken = validOutput();
    at(broken, "primary", 0).value = Number.NaN;
    expect(() => aggregateOutputs(registry, [broken as unknown as SubsystemOutput])).toThrow(
      'subsystem "items", dimension "alpha", field primary[0].value: expected a finite number, got NaN',
    );
  });

  it("rejects unknown dimensions in strict mode", () => {
    const strict = compileRegistry({ dimensions: {} }, undefined, { strict: true });
    expect(() => aggregateOutputs(strict, [validOutput() as unknown as SubsystemOutput])).toThrow(
      /dimension "alpha", field primary\[0\]\.dimension: unknown dimension/,
    );
  });
});
