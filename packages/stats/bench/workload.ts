import {
  type Actor,
  type Bucket,
  type CapContribution,
  type CombinerRegistry,
  type Contribution,
  type MergeRule,
  prepareOutput,
  type Subsystem,
  type SubsystemOutput,
} from "../src/index.js";

/**
 * The standard workload of the issue: 12 subsystems, each emitting 4 primary and 2 derived
 * contributions over 24 dimensions with all four buckets (about one OVERRIDE per 8 dimensions),
 * 8 caps spread over the 4 layers, one actor per resolve.
 */
export const DIMENSION_COUNT = 24;
export const SUBSYSTEM_COUNT = 12;

export const dimensionNames = Array.from(
  { length: DIMENSION_COUNT },
  (_, index) => `stat_${String(index).padStart(2, "0")}`,
);

/** All 24 dimensions configured: 22 pipeline, 2 operator (MAX); a soft ratio on a few. */
export function workloadRegistry(): CombinerRegistry {
  const dimensions: Record<string, MergeRule> = {};
  dimensionNames.forEach((name, index) => {
    dimensions[name] =
      index % 12 === 11
        ? { use_pipeline: false, operator: "MAX", clamp_default: { min: 0, max: 1e6 } }
        : {
            use_pipeline: true,
            clamp_default: { min: 0, max: 1e6 },
            ...(index % 6 === 0 ? { soft_ratio: 0.25 } : {}),
          };
  });
  return { dimensions };
}

const dimension = (index: number) => dimensionNames[index % DIMENSION_COUNT] as string;

function bucketFor(subsystem: number, slot: number, dimensionIndex: number): Bucket {
  // Dimensions 0, 8 and 16 receive one OVERRIDE each (from subsystems 0, 2 and 4).
  if (slot === 0 && subsystem % 2 === 0 && subsystem < 6) return "OVERRIDE";
  const cycle: Bucket[] = ["FLAT", "MULT", "POST_ADD", "FLAT"];
  return cycle[(subsystem + slot + dimensionIndex) % 4] as Bucket;
}

const LAYER_CAPS: readonly Omit<CapContribution, "system" | "dimension">[] = [
  { mode: "HARD_MAX", kind: "max", value: 5000, scope: "REALM", realm: "realm:jade" },
  { mode: "BASELINE", kind: "max", value: 800, scope: "TOTAL" },
  { mode: "ADDITIVE", kind: "max", value: 400, scope: "TOTAL" },
  { mode: "HARD_MIN", kind: "min", value: 5, scope: "WORLD" },
  { mode: "HARD_MAX", kind: "max", value: 9000, scope: "WORLD" },
  { mode: "OVERRIDE", kind: "max", value: 2500, scope: "EVENT", priority: 3 },
  { mode: "SOFT_MAX", kind: "max", value: 600, scope: "TOTAL" },
  { mode: "BASELINE", kind: "min", value: 1, scope: "REALM", realm: "realm:jade" },
];

/** The output of subsystem `index` (constant: the bench measures the engine, not the plugins). */
export function workloadOutput(index: number): SubsystemOutput {
  const system = `system_${String(index).padStart(2, "0")}`;
  const primary: Contribution[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const dimensionIndex =
      index === 2 && slot === 0 ? 8 : index === 4 && slot === 0 ? 16 : index * 2 + slot;
    const bucket = bucketFor(index, slot, dimensionIndex);
    primary.push({
      dimension: dimension(dimensionIndex),
      bucket,
      value: bucket === "MULT" ? 0.05 * ((index % 5) + 1) : 10 + index * 3 + slot,
      system,
      ...(slot === 0 ? { priority: index % 3 } : {}),
    });
  }
  const derived: Contribution[] = [0, 1].map((slot) => ({
    dimension: dimension(index * 2 + slot + 7),
    bucket: slot === 0 ? "FLAT" : "MULT",
    value: slot === 0 ? 20 + index : 0.1,
    system,
  }));
  // Caps 0..7 come from subsystems 0..7, one each, on dimensions spread over the space.
  const capTemplate = LAYER_CAPS[index];
  const caps: CapContribution[] = capTemplate
    ? [{ ...capTemplate, system, dimension: dimension(index * 3) }]
    : [];
  return { primary, derived, caps, meta: { system } };
}

/**
 * The 12 subsystems, each returning its constant output: a plain object (validated on every
 * resolve) or, with `prepared`, the `prepareOutput` form (validated once per registry).
 */
export function workloadSubsystems(prepared = false): Subsystem[] {
  return Array.from({ length: SUBSYSTEM_COUNT }, (_, index) => {
    const output = prepared ? prepareOutput(workloadOutput(index)) : workloadOutput(index);
    return {
      id: output.meta.system,
      priority: index % 4,
      contribute: () => output,
    };
  });
}

const subsystemIds = Array.from(
  { length: SUBSYSTEM_COUNT },
  (_, index) => `system_${String(index).padStart(2, "0")}`,
);

/** An actor using all 12 subsystems, at `version`. */
export function workloadActor(id: string, version: number): Actor {
  return {
    id,
    name: id,
    race: "human",
    lifespan: 80,
    age: 30,
    created_at: 0,
    updated_at: 0,
    version,
    subsystems: subsystemIds,
    data: {},
  };
}
