import { issueField } from "@troupe/core";
import { z } from "zod";
import { statsInputError } from "./errors.js";
import type {
  Actor,
  CapContribution,
  CombinerRegistry,
  Contribution,
  GoldenSnapshot,
  LayerRegistry,
  MergeRule,
  ModifierPack,
  Snapshot,
  SubsystemOutput,
} from "./types.js";

/** The dimension name pattern of rule R0. */
export const DIMENSION_PATTERN = /^[a-z][a-z0-9_]*$/;

const dimensionName = z
  .string()
  .regex(DIMENSION_PATTERN, "expected a dimension name matching ^[a-z][a-z0-9_]*$");
const systemId = z.string().min(1, "expected a non-empty system id");
const priority = z.int().min(0, "expected an integer ≥ 0");
const finite = z.number();

/** Zod schema of {@link Contribution} (rule R0: finite value, MULT ≥ −1, priority an integer ≥ 0). */
export const contributionSchema: z.ZodType<Contribution> = z
  .strictObject({
    dimension: dimensionName,
    bucket: z.enum(["FLAT", "MULT", "POST_ADD", "OVERRIDE"]),
    value: finite,
    system: systemId,
    priority: priority.exactOptional(),
  })
  .superRefine((value, context) => {
    if (value.bucket === "MULT" && value.value < -1) {
      context.addIssue({
        code: "custom",
        path: ["value"],
        message: `a MULT is a delta and must be ≥ −1, got ${value.value}`,
      });
    }
  });

/** Zod schema of {@link CapContribution} (rule R0: kind agrees with mode, REALM needs realm). */
export const capContributionSchema: z.ZodType<CapContribution> = z
  .strictObject({
    system: systemId,
    dimension: dimensionName,
    mode: z.enum(["BASELINE", "ADDITIVE", "HARD_MAX", "HARD_MIN", "OVERRIDE", "SOFT_MAX"]),
    kind: z.enum(["max", "min"]),
    value: finite,
    priority: priority.exactOptional(),
    scope: z.string().min(1, "expected a layer name"),
    realm: z.string().min(1).exactOptional(),
    tags: z.array(z.string()).exactOptional(),
  })
  .superRefine((value, context) => {
    const implied =
      value.mode === "HARD_MIN" ? "min" : value.mode === "HARD_MAX" || value.mode === "SOFT_MAX";
    if ((implied === true && value.kind !== "max") || (implied === "min" && value.kind !== "min")) {
      context.addIssue({
        code: "custom",
        path: ["kind"],
        message: `mode ${value.mode} implies kind "${implied === "min" ? "min" : "max"}", got "${value.kind}"`,
      });
    }
    if (value.scope === "REALM" && value.realm === undefined) {
      context.addIssue({
        code: "custom",
        path: ["realm"],
        message: "a REALM cap needs a realm",
      });
    }
  });

/** Zod schema of {@link ModifierPack} (multipliers must be ≥ 0). */
export const modifierPackSchema: z.ZodType<ModifierPack> = z.strictObject({
  additive_percent: finite.exactOptional(),
  multipliers: z.array(finite.min(0, "expected a multiplier ≥ 0")).exactOptional(),
  post_add: finite.exactOptional(),
});

/** Zod schema of {@link SubsystemOutput}. */
export const subsystemOutputSchema: z.ZodType<SubsystemOutput> = z.strictObject({
  primary: z.array(contributionSchema),
  derived: z.array(contributionSchema),
  caps: z.array(capContributionSchema),
  context: z.record(z.string().min(1), modifierPackSchema).exactOptional(),
  meta: z.strictObject({
    system: systemId,
    stage: z.string().exactOptional(),
    version: z.int().exactOptional(),
  }),
});

/** Zod schema of {@link MergeRule} (clamp min ≤ max; operator required without the pipeline). */
export const mergeRuleSchema: z.ZodType<MergeRule> = z
  .strictObject({
    use_pipeline: z.boolean(),
    operator: z.enum(["SUM", "MAX", "MIN"]).exactOptional(),
    clamp_default: z.strictObject({ min: finite, max: finite }),
    soft_ratio: finite
      .min(0, "expected a ratio in [0, 1]")
      .max(1, "expected a ratio in [0, 1]")
      .exactOptional(),
  })
  .superRefine((value, context) => {
    if (value.clamp_default.min > value.clamp_default.max) {
      context.addIssue({
        code: "custom",
        path: ["clamp_default", "min"],
        message: `min ${value.clamp_default.min} is above max ${value.clamp_default.max}`,
      });
    }
    if (!value.use_pipeline && value.operator === undefined) {
      context.addIssue({
        code: "custom",
        path: ["operator"],
        message: "a dimension with use_pipeline: false needs an operator (SUM, MAX or MIN)",
      });
    }
  });

/** Zod schema of {@link CombinerRegistry}. */
export const combinerRegistrySchema: z.ZodType<CombinerRegistry> = z.strictObject({
  dimensions: z.record(dimensionName, mergeRuleSchema),
});

/** Zod schema of {@link LayerRegistry} (at least one layer, no duplicates). */
export const layerRegistrySchema: z.ZodType<LayerRegistry> = z
  .strictObject({
    order: z
      .array(z.string().min(1, "expected a layer name"))
      .min(1, "expected at least one layer"),
    across_policy: z.enum(["INTERSECT", "PRIORITIZED_OVERRIDE"]),
  })
  .superRefine((value, context) => {
    const seen = new Set<string>();
    value.order.forEach((layer, index) => {
      if (seen.has(layer)) {
        context.addIssue({
          code: "custom",
          path: ["order", index],
          message: `layer ${JSON.stringify(layer)} appears twice`,
        });
      }
      seen.add(layer);
    });
  });

/** Zod schema of {@link Actor}. */
export const actorSchema: z.ZodType<Actor> = z.object({
  id: z.string().min(1, "expected a non-empty actor id"),
  name: z.string(),
  race: z.string(),
  lifespan: finite,
  age: finite,
  created_at: finite,
  updated_at: finite,
  version: z.int().min(0, "expected an integer version ≥ 0"),
  subsystems: z.array(systemId),
  data: z.record(z.string(), z.unknown()),
});

const capBoundsSchema = z.strictObject({ min: finite, max: finite });

/** Zod schema of {@link Snapshot} (also the format of cached snapshots). */
export const snapshotSchema: z.ZodType<Snapshot> = z.strictObject({
  actor_id: z.string(),
  version: z.int(),
  epoch: z.int(),
  created_at: finite,
  primary: z.record(z.string(), finite),
  derived: z.record(z.string(), finite),
  caps_used: z.record(z.string(), capBoundsSchema),
  context: z
    .record(
      z.string(),
      z.strictObject({
        additive_percent: finite,
        multipliers: z.array(finite),
        post_add: finite,
      }),
    )
    .exactOptional(),
  failed_systems: z.array(z.string()).exactOptional(),
});

/** Zod schema of {@link GoldenSnapshot}, the golden-vector output shape. */
export const goldenSnapshotSchema: z.ZodType<GoldenSnapshot> = z.strictObject({
  Primary: z.record(z.string(), finite),
  Derived: z.record(z.string(), finite),
  CapsUsed: z.record(z.string(), z.strictObject({ Min: finite, Max: finite })),
  Version: z.int(),
});

function pick(value: unknown, key: string): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const found = (value as Record<string, unknown>)[key];
  return typeof found === "string" ? found : undefined;
}

/**
 * Parses `input` with `schema`; on failure throws {@link statsInputError} naming the file, the
 * subsystem and dimension (read from the offending object when it has them) and the field path.
 * For a combiner registry, `dimensions.<name>` names the dimension.
 */
export function parseWithSchema<T>(
  schema: z.ZodType<T>,
  input: unknown,
  options: { readonly file?: string; readonly field?: string } = {},
): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue?.path ?? [];
  let system: string | undefined;
  let dimension: string | undefined;
  let node: unknown = input;
  for (let i = 0; i < path.length; i++) {
    const part = path[i] as PropertyKey;
    if (path[i - 1] === "dimensions" && typeof part === "string") dimension = part;
    if (typeof node !== "object" || node === null) break;
    node = (node as Record<PropertyKey, unknown>)[part];
    system = pick(node, "system") ?? system;
    dimension = pick(node, "dimension") ?? dimension;
    const meta = (node as { meta?: unknown } | null)?.meta;
    system = pick(meta, "system") ?? system;
  }
  // The path as core writes it (`dimensions.strength.clamp_default.min`, `[0].primary[1].value`);
  // an input rejected as a whole is named by `field`, or `(root)`.
  const root = options.field ?? "";
  const field = path.length === 0 ? root || "(root)" : issueField(issue, root, "brackets");
  throw statsInputError(
    {
      ...(options.file === undefined ? {} : { file: options.file }),
      ...(system === undefined ? {} : { system }),
      ...(dimension === undefined ? {} : { dimension }),
      field,
    },
    issue?.message ?? "invalid value",
  );
}
