// Compiled plans: a plan that repeats, turned into one straight-line function that writes every
// touched dimension's value. The generated code calls back into the fold for caps and for cells
// with several values, so both paths compute the same doubles (a property test compares them).
import { finalValue, foldLoneCap } from "./cap-merge.js";
import type { StatFold } from "./fold.js";
import type { DimensionInfo } from "./registry.js";
import { CELLS, OP_NONE, OP_ROW, OP_ROW_PLUS_ZERO, OP_ZERO } from "./row-layout.js";
import type { CapBounds } from "./types.js";

/**
 * A repeated plan compiled into one function: it writes the values of every touched dimension
 * into the scratch arrays (`PV` primary, `DV` derived, `B` bounds of capped dimensions) from the
 * rows' values `V`, calling back into the fold `f` for caps and for cells with several values.
 */
export type CompiledPlan = (
  fold: StatFold,
  values: Float64Array,
  primary: Float64Array,
  derived: Float64Array,
  bounds: CapBounds[],
) => void;

/** False once code generation from strings turned out to be disabled in this process. */
let planCodegen = true;

/** What a plan fixed, as {@link compilePlan} reads it from the fold (by touched dimension). */
export interface PlanLayout {
  /** The touched dimensions in name order, `touchedCount` of them. */
  readonly touched: Int32Array;
  readonly touchedCount: number;
  readonly infos: readonly DimensionInfo[];
  /** Per touched dimension and section: the planned operation and its row. */
  readonly ops: Int32Array;
  readonly rows: Int32Array;
  /** Per cell: its row count and first row; per row, the next row of its cell. */
  readonly cellCount: Int32Array;
  readonly cellHead: Int32Array;
  readonly itemNext: Int32Array;
  /** Per dimension: its cap count and first cap row. */
  readonly capTotal: Int32Array;
  readonly capHead: Int32Array;
  readonly prioritized: boolean;
}

/**
 * The values of a repeated plan as one straight-line function (see {@link CompiledPlan}):
 * every dimension's candidate operation, row, cell counts and clamp bounds are fixed by the
 * plan, so they are written into the code instead of being read and dispatched on per
 * dimension. Undefined where code generation from strings is disabled.
 */
export function compilePlan(layout: PlanLayout): CompiledPlan | undefined {
  if (!planCodegen) return undefined;
  const touched = layout.touched;
  const infos = layout.infos;
  const count = layout.touchedCount;
  const ops = layout.ops;
  const rows = layout.rows;
  const cellCount = layout.cellCount;
  const planInfos: DimensionInfo[] = [];
  const clamps: number[] = [];
  const lines: string[] = [];
  let primaryCount = 0;
  let derivedCount = 0;
  const candidate = (op: number, row: number, base: number, i: number): string => {
    if (op === OP_ROW) return `V[${row}]`;
    if (op === OP_ROW_PLUS_ZERO) return `V[${row}] + 0`;
    if (op === OP_ZERO) return "0";
    const info = planInfos[i] as DimensionInfo;
    if (info.usePipeline && (cellCount[base + 3] as number) === 0) {
      // R2 as `sumCell(F) × factorOfCell(M) + sumCell(P)`, with the cells of one or two rows
      // written out (their rows are fixed by the plan, and two need no order).
      return `${sum(base)} * ${factor(base + 1)} + ${sum(base + 2)}`;
    }
    const total =
      (cellCount[base] as number) +
      (cellCount[base + 1] as number) +
      (cellCount[base + 2] as number) +
      (cellCount[base + 3] as number);
    return `f.candidate(${base}, ${total}, I[${i}])`;
  };
  const head = layout.cellHead;
  const next = layout.itemNext;
  const sum = (cell: number): string => {
    const n = cellCount[cell] as number;
    const first = head[cell] as number;
    if (n === 0) return "0";
    if (n === 1) return `(0 + V[${first}])`;
    if (n === 2) return `(0 + V[${first}] + V[${next[first] as number}])`;
    return `f.sumCell(${cell})`;
  };
  const factor = (cell: number): string => {
    const n = cellCount[cell] as number;
    const first = head[cell] as number;
    if (n === 0) return "1";
    if (n === 1) return `(1 * (1 + V[${first}]))`;
    if (n === 2) return `(1 * (1 + V[${first}]) * (1 + V[${next[first] as number}]))`;
    return `f.factorOfCell(${cell})`;
  };
  for (let i = 0; i < count; i++) {
    const dimension = touched[i] as number;
    const info = infos[dimension] as DimensionInfo;
    planInfos.push(info);
    clamps.push(info.clampMin, info.clampMax);
    const capped = (layout.capTotal[dimension] as number) > 0;
    if (capped) {
      // A lone cap folds through the one-cap form of R4/R5/R7, called directly.
      lines.push(
        (layout.capTotal[dimension] as number) === 1
          ? `r = L(f.caps[${layout.capHead[dimension] as number}], I[${i}]); min = r.min; max = r.max; knee = r.knee;`
          : `f.foldCapsOf(${dimension}, I[${i}], P); min = f.foldedMin; max = f.foldedMax; knee = f.foldedKnee;`,
        `B[${i}] = f.boundsFor(${dimension}, I[${i}], min, max);`,
      );
    }
    for (let section = 0; section < 2; section++) {
      const op = ops[2 * i + section] as number;
      if (op === OP_NONE) continue;
      const target = section === 0 ? `PV[${primaryCount++}]` : `DV[${derivedCount++}]`;
      const value = candidate(
        op,
        rows[2 * i + section] as number,
        dimension * CELLS + 4 * section,
        i,
      );
      if (capped) lines.push(`${target} = F(${value}, knee, I[${i}], min, max);`);
      else {
        // No caps: no soft knee, and the bounds are the clamp: R6 is a clamp, after the
        // overflow check finalValue makes (it throws for NaN).
        lines.push(
          `c = ${value};`,
          `if (c !== c) F(c, knee, I[${i}], 0, 0);`,
          `${target} = Math.min(Math.max(c, K[${2 * i}]), K[${2 * i + 1}]);`,
        );
      }
    }
  }
  const body = `"use strict";
return function compiledPlan(f, V, PV, DV, B) {
let min = 0, max = 0, c = 0, r;
let knee = Infinity;
${lines.join("\n  ")}
};`;
  try {
    return new Function("I", "K", "P", "F", "L", body)(
      planInfos,
      clamps,
      layout.prioritized,
      finalValue,
      foldLoneCap,
    ) as CompiledPlan;
  } catch {
    // Code generation from strings is disabled (--disallow-code-generation-from-strings).
    planCodegen = false;
    return undefined;
  }
}
