// Rules R4–R7 on cap rows: one dimension's caps merged per layer and across layers into its
// bounds and soft knee, and the final value they clamp. Pure functions over `CapRow`s.
import { TroupeError } from "@troupe/core";
import { compareValues } from "./order.js";
import type { DimensionInfo } from "./registry.js";

/**
 * A cap as the fold reads it: always this one shape (subsystems' cap objects come in many), with
 * the mode as its R1 rank (BASELINE 0, ADDITIVE 1, HARD_MAX 2, HARD_MIN 3, OVERRIDE 4, SOFT_MAX 5).
 */
export class CapRow {
  constructor(
    public rank: number,
    public isMax: boolean,
    public value: number,
    public priority: number,
    public system: string,
  ) {}
}

/** Whether `mode` is a cap mode and `kind` a kind it allows (HARD_MAX and SOFT_MAX imply max). */
export function validModeAndKind(mode: unknown, kind: unknown): boolean {
  if (kind !== "max" && kind !== "min") return false;
  if (mode === "HARD_MAX" || mode === "SOFT_MAX") return kind === "max";
  if (mode === "HARD_MIN") return kind === "min";
  return mode === "BASELINE" || mode === "ADDITIVE" || mode === "OVERRIDE";
}

export function modeRank(mode: string): number {
  return mode === "BASELINE"
    ? 0
    : mode === "ADDITIVE"
      ? 1
      : mode === "HARD_MAX"
        ? 2
        : mode === "HARD_MIN"
          ? 3
          : mode === "OVERRIDE"
            ? 4
            : 5;
}

/** Rule R1 for caps: mode rank, priority desc, system asc, value asc. */
function compareCapRows(a: CapRow, b: CapRow): number {
  const mode = a.rank - b.rank;
  if (mode !== 0) return mode;
  const priority = b.priority - a.priority;
  if (priority !== 0) return priority;
  if (a.system !== b.system) return a.system < b.system ? -1 : 1;
  return compareValues(a.value, b.value);
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

export interface FoldedCaps {
  min: number;
  max: number;
  knee: number;
}

/** The result of {@link foldCaps}, reused: read it before the next call. */
const FOLDED: FoldedCaps = { min: 0, max: 0, knee: 0 };

/** Rules R4, R5 and R7 for one dimension: effective bounds and the soft knee (sorts in place). */
export function foldCaps(
  caps: CapRow[],
  layers: number[],
  count: number,
  info: DimensionInfo,
  prioritized: boolean,
): FoldedCaps {
  // Sort by (layer, R1 cap order), moving the parallel layer array along.
  for (let i = 1; i < count; i++) {
    const cap = caps[i] as CapRow;
    const layer = layers[i] as number;
    let j = i - 1;
    while (j >= 0) {
      const otherLayer = layers[j] as number;
      if (
        otherLayer < layer ||
        (otherLayer === layer && compareCapRows(caps[j] as CapRow, cap) <= 0)
      ) {
        break;
      }
      caps[j + 1] = caps[j] as CapRow;
      layers[j + 1] = otherLayer;
      j--;
    }
    caps[j + 1] = cap;
    layers[j + 1] = layer;
  }
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
      const cap = caps[i] as CapRow;
      const value = cap.value;
      const isMax = cap.isMax;
      switch (cap.rank) {
        case 0: // BASELINE
          if (isMax) {
            baselineMax += value;
            sumMax = true;
          } else {
            baselineMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case 1: // ADDITIVE
          if (isMax) {
            additiveMax += value;
            sumMax = true;
          } else {
            additiveMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case 2: // HARD_MAX
          if (value < hardMax) hardMax = value;
          present = true;
          break;
        case 3: // HARD_MIN
          if (value > hardMin) hardMin = value;
          present = true;
          break;
        case 4: // OVERRIDE
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
        default: // SOFT_MAX
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
  FOLDED.min = min;
  FOLDED.max = max;
  FOLDED.knee = knee;
  return FOLDED;
}

/**
 * Rules R4, R5 and R7 for a dimension with one cap, as {@link foldCaps}
 * computes them for a single cap: one layer, so its bounds are the across-layer bounds under
 * either policy. Compiled plans call it for their lone caps (a property test compares them with
 * a fresh fold). The result is reused: read it before the next call.
 */
export function foldLoneCap(cap: CapRow, info: DimensionInfo): FoldedCaps {
  const value = cap.value;
  const rank = cap.rank;
  const isMax = cap.isMax;
  const clampMin = info.clampMin;
  const clampMax = info.clampMax;
  let min = Number.NEGATIVE_INFINITY;
  let max = Number.POSITIVE_INFINITY;
  let knee = Number.POSITIVE_INFINITY;
  if (rank === 5) {
    // SOFT_MAX sets the knee only; the layer holds no bound.
    if (value < knee) knee = value;
  } else {
    // BASELINE and ADDITIVE sum from 0 (`0 + v`), OVERRIDE and the hard caps take v as it is.
    const sum = 0 + value;
    const candidateMax =
      !isMax || rank > 1 ? (rank === 4 && isMax ? value : Number.POSITIVE_INFINITY) : sum;
    const candidateMin =
      isMax || rank > 1 ? (rank === 4 && !isMax ? value : Number.NEGATIVE_INFINITY) : sum;
    const hardMax = rank === 2 ? value : Number.POSITIVE_INFINITY;
    const hardMin = rank === 3 ? value : Number.NEGATIVE_INFINITY;
    max = Math.min(candidateMax, hardMax, clampMax);
    min = Math.max(candidateMin, hardMin, clampMin);
    if (min > max) min = max;
  }
  if (clampMin > min) min = clampMin;
  if (clampMax < max) max = clampMax;
  if (min > max) min = max;
  FOLDED.min = min;
  FOLDED.max = max;
  FOLDED.knee = knee;
  return FOLDED;
}
