import { TroupeError } from "@troupe/core";
import { describeValue, statsInputError } from "./errors.js";
import { compareCaps, compareContributions, insertionSort } from "./order.js";
import type { CompiledRegistry, DimensionInfo } from "./registry.js";
import { ShapeCache } from "./shapes.js";
import type {
  CapBounds,
  CapContribution,
  Contribution,
  MergedModifierPack,
  ModifierPack,
  StatValues,
  SubsystemOutput,
} from "./types.js";

const DIMENSION_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Marks an output made by {@link prepareOutput}; holds its interned form per registry. */
const PREPARED: unique symbol = Symbol("troupe.stats.prepared");

interface Interned {
  readonly infos: readonly DimensionInfo[];
  readonly layers: readonly number[];
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}

/**
 * Prepares a subsystem output that does not change between resolves (race bases, item stats,
 * a talent tree): a deep-frozen copy that the engine validates and interns once per registry
 * instead of on every resolve. Return the same prepared object from `contribute` for as long
 * as it applies. Invalid outputs are still rejected, on first use, with the usual named error.
 */
export function prepareOutput(output: SubsystemOutput): SubsystemOutput {
  const copy = structuredClone(output) as SubsystemOutput;
  Object.defineProperty(copy, PREPARED, { value: new WeakMap<CompiledRegistry, Interned>() });
  return deepFreeze(copy);
}

/** Per-dimension scratch space, reused across resolves (reset lazily by generation). */
interface DimensionSlot {
  generation: number;
  readonly info: DimensionInfo;
  readonly primary: Contribution[];
  primaryCount: number;
  readonly derived: Contribution[];
  derivedCount: number;
  readonly caps: CapContribution[];
  readonly capLayers: number[];
  capCount: number;
}

interface MutablePack {
  additive_percent: number;
  multipliers: number[];
  post_add: number;
}

function bucketCode(bucket: unknown): number {
  switch (bucket) {
    case "FLAT":
      return 0;
    case "MULT":
      return 1;
    case "POST_ADD":
      return 2;
    case "OVERRIDE":
      return 3;
    default:
      return -1;
  }
}

/** True for a finite number (NaN and ±∞ fail `x - x === 0`). */
function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && value - value === 0;
}

function isPriority(value: unknown): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

/**
 * The stat fold: validates subsystem outputs (rule R0), buckets contributions and caps per
 * dimension, and computes values and bounds (R1–R9). One instance belongs to one compiled
 * registry and is used synchronously: `begin`, `add` per output (in subsystem order), `finish`.
 * Its scratch arrays are reused, so a steady-state resolve allocates only its result.
 */
export class StatFold {
  private generation = 0;
  private readonly slots: (DimensionSlot | undefined)[] = [];
  private readonly touched: DimensionSlot[] = [];
  private touchedCount = 0;
  private context: Map<string, MutablePack> | undefined;
  // Dimension infos and cap layers found while validating one output, used again when adding it,
  // so the output is only applied once it is known to be valid.
  private readonly pendingInfos: DimensionInfo[] = [];
  private readonly pendingLayers: number[] = [];
  private pendingCount = 0;
  // Scratch arrays for the output maps, and the compiled shapes that turn them into objects.
  private readonly primaryInfos: DimensionInfo[] = [];
  private readonly primaryValues: number[] = [];
  private readonly derivedInfos: DimensionInfo[] = [];
  private readonly derivedValues: number[] = [];
  private readonly touchedInfos: DimensionInfo[] = [];
  private readonly bounds: CapBounds[] = [];
  private readonly primaryShapes = new ShapeCache<number>();
  private readonly derivedShapes = new ShapeCache<number>();
  private readonly boundsShapes = new ShapeCache<CapBounds>();

  /** The compiled registry this fold works with. */
  readonly registry: CompiledRegistry;

  constructor(registry: CompiledRegistry) {
    this.registry = registry;
  }

  /** Starts a new resolve, forgetting the previous one. */
  begin(): void {
    this.generation++;
    this.touchedCount = 0;
    this.context = undefined;
  }

  private slotFor(info: DimensionInfo): DimensionSlot {
    let slot = this.slots[info.index];
    if (slot === undefined) {
      slot = {
        generation: 0,
        info,
        primary: [],
        primaryCount: 0,
        derived: [],
        derivedCount: 0,
        caps: [],
        capLayers: [],
        capCount: 0,
      };
      this.slots[info.index] = slot;
    }
    if (slot.generation !== this.generation) {
      slot.generation = this.generation;
      slot.primaryCount = 0;
      slot.derivedCount = 0;
      slot.capCount = 0;
      this.touched[this.touchedCount++] = slot;
    }
    return slot;
  }

  private dimensionOf(
    value: unknown,
    system: string,
    section: string,
    index: number,
  ): DimensionInfo {
    if (typeof value === "string") {
      const found = this.registry.dimension(value);
      if (found !== undefined) return found;
    }
    // Only the error path builds the field path: the valid path allocates nothing.
    const field = `${section}[${index}].dimension`;
    if (typeof value !== "string") {
      throw statsInputError(
        { system, field },
        `expected a dimension name, got ${describeValue(value)}`,
      );
    }
    const info = this.registry.dimension(value);
    if (info !== undefined) return info;
    if (!DIMENSION_PATTERN.test(value)) {
      throw statsInputError(
        { system, dimension: value, field },
        "expected a dimension name matching ^[a-z][a-z0-9_]*$",
      );
    }
    throw statsInputError(
      { system, dimension: value, field },
      this.registry.strict
        ? "unknown dimension (the combiner registry is strict)"
        : `unknown dimension, and the registry already holds ${this.registry.dimensions.length} dimensions (the limit)`,
    );
  }

  private validateContributions(list: unknown, system: string, section: string): void {
    if (!Array.isArray(list)) {
      throw statsInputError(
        { system, field: section },
        `expected an array, got ${describeValue(list)}`,
      );
    }
    for (let i = 0; i < list.length; i++) {
      const item = list[i] as Partial<Record<keyof Contribution, unknown>> | null;
      if (typeof item !== "object" || item === null) {
        throw statsInputError(
          { system, field: `${section}[${i}]` },
          "expected a contribution object",
        );
      }
      const info = this.dimensionOf(item.dimension, system, section, i);
      const dimension = info.name;
      const bucket = bucketCode(item.bucket);
      if (bucket < 0) {
        throw statsInputError(
          { system, dimension, field: `${section}[${i}].bucket` },
          `expected FLAT, MULT, POST_ADD or OVERRIDE, got ${describeValue(item.bucket)}`,
        );
      }
      const value = item.value;
      if (!isFiniteNumber(value)) {
        throw statsInputError(
          { system, dimension, field: `${section}[${i}].value` },
          `expected a finite number, got ${describeValue(value)}`,
        );
      }
      if (bucket === 1 && value < -1) {
        throw statsInputError(
          { system, dimension, field: `${section}[${i}].value` },
          `a MULT is a delta and must be ≥ −1, got ${value}`,
        );
      }
      if (typeof item.system !== "string" || item.system === "") {
        throw statsInputError(
          { system, dimension, field: `${section}[${i}].system` },
          `expected a non-empty system id, got ${describeValue(item.system)}`,
        );
      }
      if (!isPriority(item.priority)) {
        throw statsInputError(
          { system, dimension, field: `${section}[${i}].priority` },
          `expected an integer ≥ 0, got ${describeValue(item.priority)}`,
        );
      }
      this.pendingInfos[this.pendingCount++] = info;
    }
  }

  private validateCaps(list: unknown, system: string): void {
    if (!Array.isArray(list)) {
      throw statsInputError(
        { system, field: "caps" },
        `expected an array, got ${describeValue(list)}`,
      );
    }
    const layerPosition = this.registry.layerPosition;
    for (let i = 0; i < list.length; i++) {
      const cap = list[i] as Partial<Record<keyof CapContribution, unknown>> | null;
      if (typeof cap !== "object" || cap === null) {
        throw statsInputError({ system, field: `caps[${i}]` }, "expected a cap object");
      }
      const info = this.dimensionOf(cap.dimension, system, "caps", i);
      const dimension = info.name;
      let implied: string | undefined;
      switch (cap.mode) {
        case "BASELINE":
        case "ADDITIVE":
        case "OVERRIDE":
          break;
        case "HARD_MAX":
        case "SOFT_MAX":
          implied = "max";
          break;
        case "HARD_MIN":
          implied = "min";
          break;
        default:
          throw statsInputError(
            { system, dimension, field: `caps[${i}].mode` },
            `expected BASELINE, ADDITIVE, HARD_MAX, HARD_MIN, OVERRIDE or SOFT_MAX, got ${describeValue(cap.mode)}`,
          );
      }
      if (cap.kind !== "max" && cap.kind !== "min") {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].kind` },
          `expected "max" or "min", got ${describeValue(cap.kind)}`,
        );
      }
      if (implied !== undefined && cap.kind !== implied) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].kind` },
          `mode ${String(cap.mode)} implies kind "${implied}", got "${cap.kind}"`,
        );
      }
      if (!isFiniteNumber(cap.value)) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].value` },
          `expected a finite number, got ${describeValue(cap.value)}`,
        );
      }
      if (typeof cap.system !== "string" || cap.system === "") {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].system` },
          `expected a non-empty system id, got ${describeValue(cap.system)}`,
        );
      }
      if (!isPriority(cap.priority)) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].priority` },
          `expected an integer ≥ 0, got ${describeValue(cap.priority)}`,
        );
      }
      const layer = typeof cap.scope === "string" ? layerPosition[cap.scope] : undefined;
      if (layer === undefined) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].scope` },
          `expected one of the configured layers (${this.registry.layerOrder.join(", ")}), got ${describeValue(cap.scope)}`,
        );
      }
      if (cap.scope === "REALM" && (typeof cap.realm !== "string" || cap.realm === "")) {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].realm` },
          "a REALM cap needs a realm",
        );
      }
      if (cap.realm !== undefined && typeof cap.realm !== "string") {
        throw statsInputError(
          { system, dimension, field: `caps[${i}].realm` },
          `expected a string, got ${describeValue(cap.realm)}`,
        );
      }
      if (cap.tags !== undefined) {
        const tags = cap.tags;
        if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== "string")) {
          throw statsInputError(
            { system, dimension, field: `caps[${i}].tags` },
            "expected an array of strings",
          );
        }
      }
      this.pendingInfos[this.pendingCount] = info;
      this.pendingLayers[this.pendingCount++] = layer;
    }
  }

  private validateContext(context: unknown, system: string): void {
    if (typeof context !== "object" || context === null || Array.isArray(context)) {
      throw statsInputError(
        { system, field: "context" },
        `expected an object, got ${describeValue(context)}`,
      );
    }
    for (const key of Object.keys(context)) {
      const pack = (context as Record<string, unknown>)[key] as Record<string, unknown> | null;
      const at = `context.${key}`;
      if (typeof pack !== "object" || pack === null || Array.isArray(pack)) {
        throw statsInputError({ system, field: at }, "expected a modifier pack object");
      }
      for (const field of ["additive_percent", "post_add"] as const) {
        const value = pack[field];
        if (value !== undefined && !isFiniteNumber(value)) {
          throw statsInputError(
            { system, field: `${at}.${field}` },
            `expected a finite number, got ${describeValue(value)}`,
          );
        }
      }
      const multipliers = pack.multipliers;
      if (multipliers !== undefined) {
        if (!Array.isArray(multipliers)) {
          throw statsInputError(
            { system, field: `${at}.multipliers` },
            "expected an array of numbers",
          );
        }
        multipliers.forEach((factor: unknown, index) => {
          if (!isFiniteNumber(factor) || factor < 0) {
            throw statsInputError(
              { system, field: `${at}.multipliers[${index}]` },
              `expected a finite multiplier ≥ 0, got ${describeValue(factor)}`,
            );
          }
        });
      }
    }
  }

  private validate(output: SubsystemOutput, system: string): void {
    this.pendingCount = 0;
    const meta = output.meta as unknown;
    if (
      typeof meta !== "object" ||
      meta === null ||
      typeof (meta as { system?: unknown }).system !== "string"
    ) {
      throw statsInputError(
        { system, field: "meta.system" },
        "expected a meta object with a system id",
      );
    }
    this.validateContributions(output.primary, system, "primary");
    this.validateContributions(output.derived, system, "derived");
    this.validateCaps(output.caps, system);
    if (output.context !== undefined) this.validateContext(output.context, system);
  }

  /**
   * Validates one subsystem output completely (rule R0), then adds it. Throws a named
   * `INVALID_ARGUMENT` error and adds nothing when any part is invalid. `system` names the
   * subsystem in errors. Outputs must be added in subsystem order (rule R1) for context packs.
   */
  add(output: SubsystemOutput, system: string): void {
    if (typeof output !== "object" || output === null) {
      throw statsInputError({ system, field: "(output)" }, "expected a subsystem output object");
    }
    let pendingInfos: readonly DimensionInfo[] = this.pendingInfos;
    let pendingLayers: readonly number[] = this.pendingLayers;
    const prepared = (output as { [PREPARED]?: WeakMap<CompiledRegistry, Interned> })[PREPARED];
    const interned = prepared?.get(this.registry);
    if (interned !== undefined) {
      // A prepared output is deeply frozen and was validated against this registry: skip R0.
      pendingInfos = interned.infos;
      pendingLayers = interned.layers;
    } else {
      this.validate(output, system);
      if (prepared !== undefined) {
        prepared.set(this.registry, {
          infos: this.pendingInfos.slice(0, this.pendingCount),
          layers: this.pendingLayers.slice(0, this.pendingCount),
        });
      }
    }
    let cursor = 0;
    const primary = output.primary;
    for (let i = 0; i < primary.length; i++) {
      const slot = this.slotFor(pendingInfos[cursor++] as DimensionInfo);
      slot.primary[slot.primaryCount++] = primary[i] as Contribution;
    }
    const derived = output.derived;
    for (let i = 0; i < derived.length; i++) {
      const slot = this.slotFor(pendingInfos[cursor++] as DimensionInfo);
      slot.derived[slot.derivedCount++] = derived[i] as Contribution;
    }
    const caps = output.caps;
    for (let i = 0; i < caps.length; i++) {
      const slot = this.slotFor(pendingInfos[cursor++] as DimensionInfo);
      slot.caps[slot.capCount] = caps[i] as CapContribution;
      slot.capLayers[slot.capCount] = pendingLayers[cursor - 1] as number;
      slot.capCount++;
    }
    if (output.context !== undefined) this.mergeContext(output.context);
  }

  private mergeContext(context: Readonly<Record<string, ModifierPack>>) {
    this.context ??= new Map();
    for (const key of Object.keys(context)) {
      const pack = context[key];
      if (pack === undefined) continue;
      let merged = this.context.get(key);
      if (merged === undefined) {
        merged = { additive_percent: 0, multipliers: [], post_add: 0 };
        this.context.set(key, merged);
      }
      merged.additive_percent += pack.additive_percent ?? 0;
      if (pack.multipliers !== undefined) merged.multipliers.push(...pack.multipliers);
      merged.post_add += pack.post_add ?? 0;
    }
  }

  /** Computes the values of everything added since `begin` (rules R2–R9). */
  finish(): StatValues {
    const touched = this.touched;
    const count = this.touchedCount;
    // Output maps have sorted keys: order the touched dimensions by their precomputed name rank.
    const byRank = this.registry.dimensionsByRank;
    if (byRank.length <= 4 * count) {
      // Most of the registry is touched: walking it in name order is cheaper than sorting.
      let next = 0;
      const slots = this.slots;
      const generation = this.generation;
      for (let rank = 0; rank < byRank.length; rank++) {
        const slot = slots[(byRank[rank] as DimensionInfo).index];
        if (slot !== undefined && slot.generation === generation) touched[next++] = slot;
      }
    } else {
      for (let i = 1; i < count; i++) {
        const slot = touched[i] as DimensionSlot;
        const rank = slot.info.rank;
        let j = i - 1;
        while (j >= 0 && (touched[j] as DimensionSlot).info.rank > rank) {
          touched[j + 1] = touched[j] as DimensionSlot;
          j--;
        }
        touched[j + 1] = slot;
      }
    }
    const primaryInfos = this.primaryInfos;
    const primaryValues = this.primaryValues;
    const derivedInfos = this.derivedInfos;
    const derivedValues = this.derivedValues;
    const bounds = this.bounds;
    let primaryCount = 0;
    let derivedCount = 0;
    const prioritized = this.registry.prioritized;
    for (let i = 0; i < count; i++) {
      const slot = touched[i] as DimensionSlot;
      const info = slot.info;
      let min = info.clampMin;
      let max = info.clampMax;
      let knee = Number.POSITIVE_INFINITY;
      if (slot.capCount > 0) {
        const folded = foldCaps(slot, prioritized);
        min = folded.min;
        max = folded.max;
        knee = folded.knee;
        bounds[i] =
          min === info.clampMin && max === info.clampMax ? info.defaultBounds : { min, max };
      } else {
        // Uncapped dimensions share one frozen bounds object: fewer allocations per snapshot.
        bounds[i] = info.defaultBounds;
      }
      if (slot.primaryCount > 0) {
        primaryInfos[primaryCount] = info;
        primaryValues[primaryCount++] = finalValue(
          candidate(slot.primary, slot.primaryCount, info),
          knee,
          info,
          min,
          max,
        );
      }
      if (slot.derivedCount > 0) {
        derivedInfos[derivedCount] = info;
        derivedValues[derivedCount++] = finalValue(
          candidate(slot.derived, slot.derivedCount, info),
          knee,
          info,
          min,
          max,
        );
      }
    }
    const primary = this.primaryShapes.build(primaryInfos, primaryCount, primaryValues);
    const derived = this.derivedShapes.build(derivedInfos, derivedCount, derivedValues);
    const touchedInfos = this.touchedInfos;
    for (let i = 0; i < count; i++) touchedInfos[i] = (touched[i] as DimensionSlot).info;
    const capsUsed = this.boundsShapes.build(touchedInfos, count, bounds);
    if (this.context === undefined) return { primary, derived, caps_used: capsUsed };
    const context: Record<string, MergedModifierPack> = {};
    for (const key of [...this.context.keys()].sort()) {
      context[key] = this.context.get(key) as MutablePack;
    }
    return { primary, derived, caps_used: capsUsed, context };
  }
}

/** Rules R2 and R3: the candidate of one section of one dimension (sorts `list` in place). */
export function candidate(list: Contribution[], count: number, info: DimensionInfo): number {
  if (count === 1) {
    // One contribution: no order to establish. The same arithmetic as the general path: a lone
    // pipeline MULT multiplies a base of 0, and `+ 0` turns −0 into +0 as `0 + v` would.
    const only = list[0] as Contribution;
    if (only.bucket === "OVERRIDE" || !info.usePipeline) return only.value;
    return only.bucket === "MULT" ? 0 : only.value + 0;
  }
  insertionSort(list, count, compareContributions);
  // Sorted by bucket rank, OVERRIDE comes last and its first entry is the winner (R2).
  const last = list[count - 1] as Contribution;
  if (last.bucket === "OVERRIDE") {
    let first = count - 1;
    while (first > 0 && (list[first - 1] as Contribution).bucket === "OVERRIDE") first--;
    return (list[first] as Contribution).value;
  }
  if (info.usePipeline) {
    let flat = 0;
    let factor = 1;
    let post = 0;
    for (let i = 0; i < count; i++) {
      const item = list[i] as Contribution;
      const bucket = item.bucket;
      if (bucket === "FLAT") flat += item.value;
      else if (bucket === "MULT") factor *= 1 + item.value;
      else post += item.value;
    }
    return flat * factor + post;
  }
  const operator = info.operator;
  let result = (list[0] as Contribution).value;
  for (let i = 1; i < count; i++) {
    const value = (list[i] as Contribution).value;
    if (operator === 0) result += value;
    else if (operator === 1) result = Math.max(result, value);
    else result = Math.min(result, value);
  }
  return result;
}

/** Rules R7 and R6: the soft knee, then the hard bounds. */
export function finalValue(
  value: number,
  knee: number,
  info: DimensionInfo,
  min: number,
  max: number,
): number {
  let softened = value;
  if (softened > knee) {
    softened = info.softRatio === 0 ? knee : knee + (softened - knee) * info.softRatio;
  }
  if (Number.isNaN(softened)) {
    throw new TroupeError(
      "STATS_OVERFLOW",
      `dimension ${JSON.stringify(info.name)}: the value overflowed float64 (∞ − ∞ or ∞ × 0); check the magnitudes of its contributions`,
      { details: { dimension: info.name } },
    );
  }
  return Math.min(Math.max(softened, min), max);
}

interface FoldedCaps {
  readonly min: number;
  readonly max: number;
  readonly knee: number;
}

/** Rules R4, R5 and R7 for one dimension: effective bounds and the soft knee. */
function foldCaps(slot: DimensionSlot, prioritized: boolean): FoldedCaps {
  const caps = slot.caps;
  const layers = slot.capLayers;
  const count = slot.capCount;
  // Sort by (layer, R1 cap order), moving the parallel layer array along.
  for (let i = 1; i < count; i++) {
    const cap = caps[i] as CapContribution;
    const layer = layers[i] as number;
    let j = i - 1;
    while (j >= 0) {
      const otherLayer = layers[j] as number;
      if (
        otherLayer < layer ||
        (otherLayer === layer && compareCaps(caps[j] as CapContribution, cap) <= 0)
      ) {
        break;
      }
      caps[j + 1] = caps[j] as CapContribution;
      layers[j + 1] = otherLayer;
      j--;
    }
    caps[j + 1] = cap;
    layers[j + 1] = layer;
  }
  const info = slot.info;
  const clampMin = info.clampMin;
  const clampMax = info.clampMax;
  let knee = Number.POSITIVE_INFINITY;
  let min = Number.NEGATIVE_INFINITY;
  let max = Number.POSITIVE_INFINITY;
  let overrideMin = 0;
  let overrideMax = 0;
  let hasOverrideMin = false;
  let hasOverrideMax = false;
  let i = 0;
  while (i < count) {
    const layer = layers[i] as number;
    let baselineMax = 0;
    let additiveMax = 0;
    let sumMax = false;
    let baselineMin = 0;
    let additiveMin = 0;
    let sumMin = false;
    let layerOverrideMax = 0;
    let layerHasOverrideMax = false;
    let layerOverrideMin = 0;
    let layerHasOverrideMin = false;
    let hardMax = Number.POSITIVE_INFINITY;
    let hardMin = Number.NEGATIVE_INFINITY;
    let present = false;
    for (; i < count && layers[i] === layer; i++) {
      const cap = caps[i] as CapContribution;
      const value = cap.value;
      const isMax = cap.kind === "max";
      switch (cap.mode) {
        case "BASELINE":
          if (isMax) {
            baselineMax += value;
            sumMax = true;
          } else {
            baselineMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case "ADDITIVE":
          if (isMax) {
            additiveMax += value;
            sumMax = true;
          } else {
            additiveMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case "HARD_MAX":
          if (value < hardMax) hardMax = value;
          present = true;
          break;
        case "HARD_MIN":
          if (value > hardMin) hardMin = value;
          present = true;
          break;
        case "OVERRIDE":
          // Caps are in R1 order, so the first override of a side is the winner.
          if (isMax) {
            if (!layerHasOverrideMax) {
              layerOverrideMax = value;
              layerHasOverrideMax = true;
            }
          } else if (!layerHasOverrideMin) {
            layerOverrideMin = value;
            layerHasOverrideMin = true;
          }
          present = true;
          break;
        default:
          if (value < knee) knee = value;
      }
    }
    if (!present) continue;
    const candidateMax = layerHasOverrideMax
      ? layerOverrideMax
      : sumMax
        ? baselineMax + additiveMax
        : Number.POSITIVE_INFINITY;
    const candidateMin = layerHasOverrideMin
      ? layerOverrideMin
      : sumMin
        ? baselineMin + additiveMin
        : Number.NEGATIVE_INFINITY;
    const layerMax = Math.min(candidateMax, hardMax, clampMax);
    let layerMin = Math.max(candidateMin, hardMin, clampMin);
    if (layerMin > layerMax) layerMin = layerMax;
    if (prioritized && layerHasOverrideMax) {
      // Layers are visited in `order`, so the first one with an override supplies the bound.
      if (!hasOverrideMax) {
        overrideMax = layerMax;
        hasOverrideMax = true;
      }
    } else if (layerMax < max) {
      max = layerMax;
    }
    if (prioritized && layerHasOverrideMin) {
      if (!hasOverrideMin) {
        overrideMin = layerMin;
        hasOverrideMin = true;
      }
    } else if (layerMin > min) {
      min = layerMin;
    }
  }
  if (hasOverrideMax) max = overrideMax;
  if (hasOverrideMin) min = overrideMin;
  if (clampMin > min) min = clampMin;
  if (clampMax < max) max = clampMax;
  if (min > max) min = max;
  return { min, max, knee };
}

/** Sorts `items` by R1 order (a copy); for explain and tests. */
export function sortContributions(items: readonly Contribution[]): Contribution[] {
  const copy = [...items];
  insertionSort(copy, copy.length, compareContributions);
  return copy;
}
