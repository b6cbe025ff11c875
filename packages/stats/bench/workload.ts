import {
  type Actor,
  type Bucket,
  type CapContribution,
  type CombinerRegistry,
  type Contribution,
  type MergeRule,
  prepareOutput,
  type StatsWriter,
  type Subsystem,
  type SubsystemOutput,
} from "../src/index.js";
import { testActor } from "../src/test-actor.js";

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

/**
 * Cap `index` (0..7) of the workload, spread over the 4 layers. Written as literals, as a
 * subsystem would: building caps with object spread (`{ ...template, value }`) gives every
 * result a new hidden class on Node 20, which makes every engine that reads them ~10× slower
 * (README, "Benchmark").
 */
function workloadCap(
  index: number,
  system: string,
  dimension: string,
  shift: number,
): CapContribution | undefined {
  switch (index) {
    case 0:
      return {
        system,
        dimension,
        mode: "HARD_MAX",
        kind: "max",
        value: 5000 + shift,
        scope: "REALM",
        realm: "realm:jade",
      };
    case 1:
      return {
        system,
        dimension,
        mode: "BASELINE",
        kind: "max",
        value: 800 + shift,
        scope: "TOTAL",
      };
    case 2:
      return {
        system,
        dimension,
        mode: "ADDITIVE",
        kind: "max",
        value: 400 + shift,
        scope: "TOTAL",
      };
    case 3:
      return { system, dimension, mode: "HARD_MIN", kind: "min", value: 5 + shift, scope: "WORLD" };
    case 4:
      return {
        system,
        dimension,
        mode: "HARD_MAX",
        kind: "max",
        value: 9000 + shift,
        scope: "WORLD",
      };
    case 5:
      return {
        system,
        dimension,
        mode: "OVERRIDE",
        kind: "max",
        value: 2500 + shift,
        priority: 3,
        scope: "EVENT",
      };
    case 6:
      return {
        system,
        dimension,
        mode: "SOFT_MAX",
        kind: "max",
        value: 600 + shift,
        scope: "TOTAL",
      };
    case 7:
      return {
        system,
        dimension,
        mode: "BASELINE",
        kind: "min",
        value: 1 + shift,
        scope: "REALM",
        realm: "realm:jade",
      };
    default:
      return undefined;
  }
}

const systemIds = Array.from(
  { length: SUBSYSTEM_COUNT },
  (_, index) => `system_${String(index).padStart(2, "0")}`,
);

/**
 * The output of subsystem `index`. `variant` 0 is the standard output; another variant has the
 * same structure (dimensions, buckets, caps) with different values, as when a buff ticks or an
 * item is swapped for one of the same kind. Every call allocates a new output, the way a
 * subsystem that computes its output from the actor does.
 */
export function workloadOutput(index: number, variant = 0): SubsystemOutput {
  const system = systemIds[index] as string;
  // A small, exact shift (a multiple of 1/64) so values differ between variants.
  const shift = (variant % 64) / 64;
  const primary: Contribution[] = [];
  for (let slot = 0; slot < 4; slot++) {
    const dimensionIndex =
      index === 2 && slot === 0 ? 8 : index === 4 && slot === 0 ? 16 : index * 2 + slot;
    const bucket = bucketFor(index, slot, dimensionIndex);
    const value =
      bucket === "MULT" ? 0.05 * ((index % 5) + 1) + shift / 16 : 10 + index * 3 + slot + shift;
    // Written as two literals, as a subsystem would: the first slot carries a priority.
    primary.push(
      slot === 0
        ? { dimension: dimension(dimensionIndex), bucket, value, system, priority: index % 3 }
        : { dimension: dimension(dimensionIndex), bucket, value, system },
    );
  }
  const derived: Contribution[] = [
    { dimension: dimension(index * 2 + 7), bucket: "FLAT", value: 20 + index + shift, system },
    { dimension: dimension(index * 2 + 8), bucket: "MULT", value: 0.1 + shift / 16, system },
  ];
  // Caps 0..7 come from subsystems 0..7, one each, on dimensions spread over the space.
  const cap = workloadCap(index, system, dimension(index * 3), shift);
  const caps: CapContribution[] = cap === undefined ? [] : [cap];
  return { primary, derived, caps, meta: { system } };
}

/**
 * The `emit` of subsystem `index`: writes exactly what {@link workloadOutput} returns for the
 * actor's version (the same contributions, values and caps, in the same order), without building
 * objects. The structure (dimensions, buckets, the cap's mode and layer) is worked out once.
 */
export function workloadEmit(index: number): (actor: Actor, writer: StatsWriter) => void {
  const template = workloadOutput(index, 0);
  // Each value is `base + shift × scale` (scale 1/16 for a MULT, 1 otherwise), as workloadOutput
  // computes it; 1/16 is a power of two, so `shift × 0.0625` is `shift / 16` exactly.
  const slot = (position: number) => {
    const item = template.primary[position] as Contribution;
    const mult = item.bucket === "MULT";
    return {
      dimension: item.dimension,
      bucket: item.bucket,
      base: mult ? 0.05 * ((index % 5) + 1) : 10 + index * 3 + position,
      scale: mult ? 0.0625 : 1,
    };
  };
  const s0 = slot(0);
  const s1 = slot(1);
  const s2 = slot(2);
  const s3 = slot(3);
  const [d0, b0, base0, scale0] = [s0.dimension, s0.bucket, s0.base, s0.scale];
  const [d1, b1, base1, scale1] = [s1.dimension, s1.bucket, s1.base, s1.scale];
  const [d2, b2, base2, scale2] = [s2.dimension, s2.bucket, s2.base, s2.scale];
  const [d3, b3, base3, scale3] = [s3.dimension, s3.bucket, s3.base, s3.scale];
  const priority0 = template.primary[0]?.priority;
  const derivedFlat = template.derived[0]?.dimension as string;
  const derivedMult = template.derived[1]?.dimension as string;
  const flatBase = 20 + index;
  // Subsystems 8–11 have no cap: a dummy one is never written.
  const cap = template.caps[0];
  const hasCap = cap !== undefined;
  const {
    dimension: capDimension,
    mode,
    kind,
    value: capBase,
    scope,
    realm,
    priority,
  } = cap ?? {
    dimension: "",
    mode: "HARD_MAX",
    kind: "max",
    value: 0,
    scope: "",
  };
  return (actor, writer) => {
    const shift = (actor.version % 64) / 64;
    writer.primary(d0, b0, base0 + shift * scale0, priority0);
    writer.primary(d1, b1, base1 + shift * scale1);
    writer.primary(d2, b2, base2 + shift * scale2);
    writer.primary(d3, b3, base3 + shift * scale3);
    writer.derived(derivedFlat, "FLAT", flatBase + shift);
    writer.derived(derivedMult, "MULT", 0.1 + shift * 0.0625);
    if (hasCap) writer.cap(capDimension, mode, kind, capBase + shift, scope, realm, priority);
  };
}

/**
 * How the workload's subsystems produce their outputs:
 * - `plain-constant`: each returns the same plain object every resolve (validated every resolve);
 * - `plain-fresh`: each builds a new plain output every resolve, its values changing with the
 *   actor version (64 variants): what a subsystem computing from the actor does;
 * - `prepared-constant`: each returns the same `prepareOutput` object every resolve (validated
 *   once; the engine keeps its rows in place, so this is the best case, not a game's case);
 * - `prepared-rotating`: each picks one of 64 prepared outputs with different values by the actor
 *   version, so consecutive resolves never see the same prepared outputs in the same positions;
 * - `mixed`: subsystems 0–7 as `prepared-rotating` (what is static between changes: race, items,
 *   talents, realm), 8–11 as `plain-fresh` (what changes all the time: buffs, auras);
 * - `emit-fresh`: each writes what `plain-fresh` returns through `emit` (no output objects).
 */
export type WorkloadMode =
  | "plain-constant"
  | "plain-fresh"
  | "prepared-constant"
  | "prepared-rotating"
  | "mixed"
  | "emit-fresh";

/** The 12 subsystems of the workload in `mode` (see {@link WorkloadMode}). */
export function workloadSubsystems(mode: WorkloadMode | boolean = "plain-constant"): Subsystem[] {
  const resolved: WorkloadMode =
    mode === true ? "prepared-constant" : mode === false ? "plain-constant" : mode;
  return Array.from({ length: SUBSYSTEM_COUNT }, (_, index) => {
    const id = systemIds[index] as string;
    const priority = index % 4;
    const kind =
      resolved === "mixed" ? (index < 8 ? "prepared-rotating" : "plain-fresh") : resolved;
    if (kind === "emit-fresh") return { id, priority, emit: workloadEmit(index) };
    if (kind === "plain-fresh") {
      return { id, priority, contribute: (actor: Actor) => workloadOutput(index, actor.version) };
    }
    if (kind === "prepared-rotating") {
      const pool = Array.from({ length: 64 }, (_, variant) =>
        prepareOutput(workloadOutput(index, variant)),
      );
      return {
        id,
        priority,
        contribute: (actor: Actor) => pool[actor.version % 64] as SubsystemOutput,
      };
    }
    const output =
      kind === "prepared-constant" ? prepareOutput(workloadOutput(index)) : workloadOutput(index);
    return { id, priority, contribute: () => output };
  });
}

/** An actor using all 12 subsystems, at `version`. */
export function workloadActor(id: string, version: number): Actor {
  return testActor(id, systemIds, version, NO_DATA);
}

const NO_DATA = Object.freeze({});
