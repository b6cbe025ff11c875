// The stat fold: rules R1–R9 over the rows of one resolve. It links the rows into cells, plans
// each touched dimension once per structure (and compiles a plan that repeats), merges the caps
// and builds the result's maps.
import { type CapRow, finalValue, foldCaps } from "./cap-merge.js";
import { type CompiledPlan, compilePlan } from "./compiled-plan.js";
import { FoldEmit } from "./fold-emit.js";
import { compareValues } from "./order.js";
import type { DimensionInfo } from "./registry.js";
import {
  CELLS,
  type MutablePack,
  OP_GENERAL,
  OP_NONE,
  OP_ROW,
  OP_ROW_PLUS_ZERO,
  OP_ZERO,
  sameNumber,
} from "./row-layout.js";
import { ShapeCache } from "./shapes.js";
import type { CapBounds, MergedModifierPack, StatValues } from "./types.js";

/**
 * The stat fold: validates subsystem outputs (rule R0), buckets contributions and caps per
 * dimension, and computes values and bounds (R1–R9). One instance belongs to one compiled
 * registry and is used synchronously: `begin`, `add` per output (in subsystem order), `finish`.
 *
 * The layout is a compiled plan rather than arrays of objects: each valid contribution becomes
 * one row of a struct of typed arrays (cell key, value, priority, system), and `finish` links
 * the rows of each (dimension, section, bucket) cell into a list. A cell almost always holds
 * one value, which needs no ordering; only cells with several values are sorted by R1 (priority
 * desc, system asc, value asc) before folding, which is the only order float addition and
 * multiplication depend on. MAX/MIN are order-free and OVERRIDE is a selection, so neither sorts.
 * Scratch space is reused, so a steady-state resolve allocates only its result.
 */
export class StatFold extends FoldEmit {
  // Per dimension (by interned index), reset lazily when first touched in a resolve.
  private dimensionCapacity = 0;
  private dimensionGeneration = new Float64Array(0);
  private cellHead = new Int32Array(0);
  private cellCount = new Int32Array(0);
  private capHead = new Int32Array(0);
  private capTotal = new Int32Array(0);
  private touched = new Int32Array(0);
  private touchedCount = 0;

  private planGeneration = -1;
  private builtGeneration = -1;
  private readonly lastBounds: (CapBounds | undefined)[] = [];
  // 1 where `lastBounds` holds a frozen object that snapshots share, 0 where it is a snapshot's own.
  private lastBoundsShared = new Uint8Array(0);
  private planOutputs = 0;

  // The structure of the last planned resolve (see `samePlan`).
  private planned = false;
  // The last plan as code, once it repeated (see `compilePlan`), and how often it repeated.
  private compiledPlan: CompiledPlan | undefined;
  private planRepeats = 0;
  private planKeys = new Int32Array(256);
  private planCount = 0;
  private planCapDimensions = new Int32Array(32);
  private planCapCount = 0;
  private planTouchedCount = 0;
  // Per touched dimension (in name order) and section: how to compute its candidate, and the row.
  private planOps = new Int32Array(64);
  private planRows = new Int32Array(64);
  private planDimensionCount = 0;

  // Sorting scratch.
  private readonly sortCaps: CapRow[] = [];
  private readonly sortLayers: number[] = [];
  private foldedMin = 0;
  private foldedMax = 0;
  private foldedKnee = 0;

  // Scratch arrays for the output maps, and the compiled shapes that turn them into objects.
  private readonly primaryInfos: DimensionInfo[] = [];
  // Typed arrays: a JS array of numbers changes its elements kind (small integers, doubles) with
  // the values written, and each change deoptimized the compiled plans that write them.
  private primaryValues = new Float64Array(32);
  private readonly derivedInfos: DimensionInfo[] = [];
  private derivedValues = new Float64Array(32);
  private readonly touchedInfos: DimensionInfo[] = [];
  private readonly bounds: CapBounds[] = [];
  private readonly primaryShapes = new ShapeCache<number>();
  private readonly derivedShapes = new ShapeCache<number>();
  private readonly boundsShapes = new ShapeCache<CapBounds>();

  /** Starts a new resolve, forgetting the previous one. */
  override begin(): void {
    super.begin();
    this.touchedCount = 0;
  }

  private growDimensions(size: number): void {
    const capacity = Math.max(size, this.dimensionCapacity * 2, 32);
    const generation = new Float64Array(capacity);
    generation.set(this.dimensionGeneration);
    this.dimensionGeneration = generation;
    this.cellHead = new Int32Array(capacity * CELLS);
    this.cellCount = new Int32Array(capacity * CELLS);
    this.capHead = new Int32Array(capacity);
    this.capTotal = new Int32Array(capacity);
    const shared = new Uint8Array(capacity);
    shared.set(this.lastBoundsShared);
    this.lastBoundsShared = shared;
    const touched = new Int32Array(capacity);
    touched.set(this.touched);
    this.touched = touched;
    this.dimensionCapacity = capacity;
    // Cells are reset when a dimension is first touched, and no dimension is touched yet
    // (growth happens at the start of `finish`), so nothing else needs copying.
  }

  /** Marks `dimension` touched in this resolve, emptying its cells. */
  private touch(dimension: number): void {
    this.dimensionGeneration[dimension] = this.generation;
    this.touched[this.touchedCount++] = dimension;
    const base = dimension * CELLS;
    const head = this.cellHead;
    const count = this.cellCount;
    for (let cell = base; cell < base + CELLS; cell++) {
      head[cell] = -1;
      count[cell] = 0;
    }
    this.capHead[dimension] = -1;
    this.capTotal[dimension] = 0;
  }

  /** Links every row into its cell (contributions) or its dimension (caps). */
  private link(): void {
    const dimensionCount = this.registry.dimensions.length;
    if (dimensionCount > this.dimensionCapacity) this.growDimensions(dimensionCount);
    const generation = this.generation;
    const seen = this.dimensionGeneration;
    const keys = this.itemKeys;
    const next = this.itemNext;
    const head = this.cellHead;
    const count = this.cellCount;
    for (let row = 0; row < this.itemCount; row++) {
      const key = keys[row] as number;
      const dimension = key >> 3;
      if (seen[dimension] !== generation) this.touch(dimension);
      next[row] = head[key] as number;
      head[key] = row;
      count[key] = (count[key] as number) + 1;
    }
    const capDimensions = this.capDimensions;
    const capNext = this.capNext;
    const capHead = this.capHead;
    const capTotal = this.capTotal;
    for (let row = 0; row < this.capCount; row++) {
      const dimension = capDimensions[row] as number;
      if (seen[dimension] !== generation) this.touch(dimension);
      capNext[row] = capHead[dimension] as number;
      capHead[dimension] = row;
      capTotal[dimension] = (capTotal[dimension] as number) + 1;
    }
  }

  /** Rule R1 within one cell: priority desc, system asc, value asc (−0 before +0). */
  private compareRows(a: number, b: number): number {
    const priorities = this.itemPriorities;
    const priority = (priorities[b] as number) - (priorities[a] as number);
    if (priority !== 0) return priority;
    const systemA = this.itemSystems[a] as string;
    const systemB = this.itemSystems[b] as string;
    if (systemA !== systemB) return systemA < systemB ? -1 : 1;
    return compareValues(this.itemValues[a] as number, this.itemValues[b] as number);
  }

  /** Collects the rows of `cell` into `order[0..n)`, sorted by R1. Returns n. */
  private sortedCell(cell: number): number {
    const order = this.order;
    const next = this.itemNext;
    let n = 0;
    for (let row = this.cellHead[cell] as number; row >= 0; row = next[row] as number) {
      // Insertion sort while collecting: cells hold a handful of rows.
      let j = n - 1;
      while (j >= 0 && this.compareRows(order[j] as number, row) > 0) {
        order[j + 1] = order[j] as number;
        j--;
      }
      order[j + 1] = row;
      n++;
    }
    return n;
  }

  /** `0 + v₁ + v₂ + …` over the cell's values in R1 order (the F and P sums of R2). */
  private sumCell(cell: number): number {
    const n = this.cellCount[cell] as number;
    if (n === 0) return 0;
    const values = this.itemValues;
    const head = this.cellHead[cell] as number;
    if (n === 1) return 0 + (values[head] as number);
    if (n === 2) {
      // Two values need no order: `(0 + a) + b` and `(0 + b) + a` are the same double (IEEE
      // addition is commutative, and `0 + x` only turns −0 into +0, which leaves `+ y` as is).
      return 0 + (values[head] as number) + (values[this.itemNext[head] as number] as number);
    }
    this.sortedCell(cell);
    const order = this.order;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += values[order[i] as number] as number;
    return sum;
  }

  /** `Π (1 + v)` over the cell's values in R1 order (the MULT factor of R2). */
  private factorOfCell(cell: number): number {
    const n = this.cellCount[cell] as number;
    if (n === 0) return 1;
    const values = this.itemValues;
    const head = this.cellHead[cell] as number;
    if (n === 1) return 1 * (1 + (values[head] as number));
    if (n === 2) {
      // Two factors need no order: IEEE multiplication is commutative, and `1 × x` is x.
      return (
        1 * (1 + (values[head] as number)) * (1 + (values[this.itemNext[head] as number] as number))
      );
    }
    this.sortedCell(cell);
    const order = this.order;
    let factor = 1;
    for (let i = 0; i < n; i++) factor *= 1 + (values[order[i] as number] as number);
    return factor;
  }

  /** The candidate of one section by its planned operation (see {@link StatFold.planSection}). */
  private candidateOf(op: number, row: number, base: number, info: DimensionInfo): number {
    if (op === OP_ROW) return this.itemValues[row] as number;
    if (op === OP_ROW_PLUS_ZERO) return (this.itemValues[row] as number) + 0;
    if (op === OP_ZERO) return 0;
    const count = this.cellCount;
    const total =
      (count[base] as number) +
      (count[base + 1] as number) +
      (count[base + 2] as number) +
      (count[base + 3] as number);
    return this.candidate(base, total, info);
  }

  /**
   * Plans one section (cells `base..base+3`): a lone contribution or a lone OVERRIDE is read
   * straight from its row (its cell and row depend only on the structure, which the plan fixes);
   * everything else goes through {@link StatFold.candidate}. Writes the row to `planRows[slot]`.
   */
  private planSection(base: number, info: DimensionInfo, slot: number): number {
    const count = this.cellCount;
    const head = this.cellHead;
    const total =
      (count[base] as number) +
      (count[base + 1] as number) +
      (count[base + 2] as number) +
      (count[base + 3] as number);
    this.planRows[slot] = -1;
    if (total === 0) return OP_NONE;
    const overrides = count[base + 3] as number;
    if (overrides === 1) {
      this.planRows[slot] = head[base + 3] as number;
      return OP_ROW;
    }
    if (overrides > 1 || total > 1) return OP_GENERAL;
    // One contribution: no order to establish. The same arithmetic as the general path: a lone
    // pipeline MULT multiplies a base of 0, and `+ 0` turns −0 into +0 as `0 + v` would.
    const cell =
      (count[base] as number) > 0 ? base : (count[base + 1] as number) > 0 ? base + 1 : base + 2;
    this.planRows[slot] = head[cell] as number;
    if (!info.usePipeline) return OP_ROW;
    return cell === base + 1 ? OP_ZERO : OP_ROW_PLUS_ZERO;
  }

  /** Rules R2 and R3: the candidate of one section (cells `base..base+3`) of one dimension. */
  private candidate(base: number, total: number, info: DimensionInfo): number {
    const count = this.cellCount;
    const head = this.cellHead;
    const values = this.itemValues;
    if ((count[base + 3] as number) > 0) {
      // The first OVERRIDE in R1 order wins: a selection, so no sort is needed.
      let best = head[base + 3] as number;
      const next = this.itemNext;
      for (let row = next[best] as number; row >= 0; row = next[row] as number) {
        if (this.compareRows(row, best) < 0) best = row;
      }
      return values[best] as number;
    }
    if (total === 1) {
      // One contribution: no order to establish. The same arithmetic as the general path: a lone
      // pipeline MULT multiplies a base of 0, and `+ 0` turns −0 into +0 as `0 + v` would.
      const cell =
        (count[base] as number) > 0 ? base : (count[base + 1] as number) > 0 ? base + 1 : base + 2;
      const value = values[head[cell] as number] as number;
      if (!info.usePipeline) return value;
      return cell === base + 1 ? 0 : value + 0;
    }
    if (info.usePipeline) {
      return this.sumCell(base) * this.factorOfCell(base + 1) + this.sumCell(base + 2);
    }
    const operator = info.operator;
    if (operator !== 0) {
      // MAX and MIN are order-free (Math.max/min are commutative, ±0 included).
      let result = operator === 1 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      const next = this.itemNext;
      for (let cell = base; cell < base + 3; cell++) {
        for (let row = head[cell] as number; row >= 0; row = next[row] as number) {
          const value = values[row] as number;
          result = operator === 1 ? Math.max(result, value) : Math.min(result, value);
        }
      }
      return result;
    }
    // SUM over all non-override values in R1 order (FLAT, MULT, POST_ADD, each sorted),
    // starting from the first value as the sorted-list fold does.
    let result = 0;
    let first = true;
    const order = this.order;
    for (let cell = base; cell < base + 3; cell++) {
      const n = this.cellCount[cell] as number;
      if (n === 0) continue;
      if (n === 1) {
        const value = values[head[cell] as number] as number;
        if (first) {
          result = value;
          first = false;
        } else result += value;
        continue;
      }
      this.sortedCell(cell);
      for (let i = 0; i < n; i++) {
        const value = values[order[i] as number] as number;
        if (first) {
          result = value;
          first = false;
        } else result += value;
      }
    }
    return result;
  }

  /** Rules R4, R5 and R7 for one dimension's caps; results in `folded*`. */
  private foldCapsOf(dimension: number, info: DimensionInfo, prioritized: boolean): void {
    const caps = this.sortCaps;
    const layers = this.sortLayers;
    const next = this.capNext;
    let count = 0;
    for (let row = this.capHead[dimension] as number; row >= 0; row = next[row] as number) {
      caps[count] = this.caps[row] as CapRow;
      layers[count] = this.capLayers[row] as number;
      count++;
    }
    const folded = foldCaps(caps, layers, count, info, prioritized);
    this.foldedMin = folded.min;
    this.foldedMax = folded.max;
    this.foldedKnee = folded.knee;
  }

  /**
   * Whether this resolve has the same structure as the previous one: the same sequence of
   * contribution cells and capped dimensions. The links, the touched dimensions and their name
   * order depend on nothing else, so they are reused as they are (values, priorities, systems and
   * cap objects are read afresh). The usual case: the same subsystems emit the same dimensions.
   */
  private samePlan(): boolean {
    if (
      this.samePrefix &&
      this.planGeneration === this.generation - 1 &&
      this.outputIndex === this.planOutputs &&
      this.registry.dimensions.length === this.planDimensionCount
    ) {
      // The same prepared outputs as the previous, finished resolve: the same rows.
      this.planGeneration = this.generation;
      this.touchedCount = this.planTouchedCount;
      return true;
    }
    const count = this.itemCount;
    const capCount = this.capCount;
    if (
      !this.planned ||
      count !== this.planCount ||
      capCount !== this.planCapCount ||
      this.registry.dimensions.length !== this.planDimensionCount
    ) {
      return false;
    }
    const keys = this.itemKeys;
    const planKeys = this.planKeys;
    for (let row = 0; row < count; row++) if (keys[row] !== planKeys[row]) return false;
    const capDimensions = this.capDimensions;
    const planCapDimensions = this.planCapDimensions;
    for (let row = 0; row < capCount; row++) {
      if (capDimensions[row] !== planCapDimensions[row]) return false;
    }
    this.touchedCount = this.planTouchedCount;
    this.planGeneration = this.generation;
    this.planOutputs = this.outputIndex;
    return true;
  }

  /** Links the rows, orders the touched dimensions by name, and remembers the structure. */
  private plan(): void {
    this.link();
    const touched = this.touched;
    const count = this.touchedCount;
    const infos = this.registry.dimensions;
    // Output maps have sorted keys: order the touched dimensions by their precomputed name rank.
    const byRank = this.registry.dimensionsByRank;
    if (byRank.length <= 4 * count) {
      // Most of the registry is touched: walking it in name order is cheaper than sorting.
      let next = 0;
      const seen = this.dimensionGeneration;
      const generation = this.generation;
      for (let rank = 0; rank < byRank.length; rank++) {
        const index = (byRank[rank] as DimensionInfo).index;
        if (seen[index] === generation) touched[next++] = index;
      }
    } else {
      for (let i = 1; i < count; i++) {
        const index = touched[i] as number;
        const rank = (infos[index] as DimensionInfo).rank;
        let j = i - 1;
        while (j >= 0 && (infos[touched[j] as number] as DimensionInfo).rank > rank) {
          touched[j + 1] = touched[j] as number;
          j--;
        }
        touched[j + 1] = index;
      }
    }
    if (this.planOps.length < 2 * count) {
      this.planOps = new Int32Array(2 * this.touched.length);
      this.planRows = new Int32Array(2 * this.touched.length);
    }
    for (let i = 0; i < count; i++) {
      const dimension = touched[i] as number;
      const info = infos[dimension] as DimensionInfo;
      this.planOps[2 * i] = this.planSection(dimension * CELLS, info, 2 * i);
      this.planOps[2 * i + 1] = this.planSection(dimension * CELLS + 4, info, 2 * i + 1);
    }
    if (this.planKeys.length < this.itemCount) this.planKeys = new Int32Array(this.itemKeys.length);
    this.planKeys.set(this.itemKeys.subarray(0, this.itemCount));
    if (this.planCapDimensions.length < this.capCount) {
      this.planCapDimensions = new Int32Array(this.capDimensions.length);
    }
    this.planCapDimensions.set(this.capDimensions.subarray(0, this.capCount));
    this.planCount = this.itemCount;
    this.planCapCount = this.capCount;
    this.planTouchedCount = count;
    this.planDimensionCount = infos.length;
    this.planned = true;
    this.planGeneration = this.generation;
    this.planOutputs = this.outputIndex;
  }

  /** The `caps_used` bounds of a capped dimension. */
  private boundsFor(dimension: number, info: DimensionInfo, min: number, max: number): CapBounds {
    if (min === info.clampMin && max === info.clampMax) return info.defaultBounds;
    // Snapshots share frozen bounds objects while a dimension's bounds repeat (bit for bit: −0
    // and +0 differ). Bounds seen once get a plain object of their own, frozen and shared only
    // from their second time on: `Object.freeze` is a runtime call, too dear for bounds that
    // change every resolve (a buff ticking on a cap).
    const last = this.lastBounds[dimension];
    if (last !== undefined && sameNumber(last.min, min) && sameNumber(last.max, max)) {
      if (this.lastBoundsShared[dimension] === 1) return last;
      const shared = Object.freeze({ min, max });
      this.lastBounds[dimension] = shared;
      this.lastBoundsShared[dimension] = 1;
      return shared;
    }
    const own = { min, max };
    this.lastBounds[dimension] = own;
    this.lastBoundsShared[dimension] = 0;
    return own;
  }

  /** Computes the values of everything added since `begin` (rules R2–R9). */
  finish(): StatValues {
    const reused = this.samePlan();
    if (!reused) {
      this.plan();
      this.compiledPlan = undefined;
      this.planRepeats = 0;
    }
    if (reused && this.builtGeneration === this.generation - 1) {
      // The plan ran to the end in the previous resolve too. From its second repeat on, it runs
      // as compiled code; plans that change from one resolve to the next are never compiled.
      let compiled = this.compiledPlan;
      if (compiled === undefined && ++this.planRepeats === 2) {
        compiled = compilePlan({
          touched: this.touched,
          touchedCount: this.touchedCount,
          infos: this.registry.dimensions,
          ops: this.planOps,
          rows: this.planRows,
          cellCount: this.cellCount,
          cellHead: this.cellHead,
          itemNext: this.itemNext,
          capTotal: this.capTotal,
          capHead: this.capHead,
          prioritized: this.registry.prioritized,
        });
        this.compiledPlan = compiled;
      }
      if (compiled !== undefined) {
        compiled(this, this.itemValues, this.primaryValues, this.derivedValues, this.bounds);
        return this.built(true, 0, 0);
      }
    }
    const touched = this.touched;
    const count = this.touchedCount;
    if (this.primaryValues.length < count) {
      this.primaryValues = new Float64Array(Math.max(count, 2 * this.primaryValues.length));
      this.derivedValues = new Float64Array(this.primaryValues.length);
    }
    const infos = this.registry.dimensions;
    const primaryInfos = this.primaryInfos;
    const primaryValues = this.primaryValues;
    const derivedInfos = this.derivedInfos;
    const derivedValues = this.derivedValues;
    const touchedInfos = this.touchedInfos;
    const bounds = this.bounds;
    const ops = this.planOps;
    const planRows = this.planRows;
    let primaryCount = 0;
    let derivedCount = 0;
    const prioritized = this.registry.prioritized;
    // The previous resolve ran this very plan to the end: the key lists (and the shared bounds
    // of uncapped dimensions) it left in the scratch arrays are this resolve's too, so only
    // values are written (storing object pointers costs a write barrier each).
    const again = reused && this.builtGeneration === this.generation - 1;
    for (let i = 0; i < count; i++) {
      const dimension = touched[i] as number;
      const info = infos[dimension] as DimensionInfo;
      if (!again) touchedInfos[i] = info;
      let min = info.clampMin;
      let max = info.clampMax;
      let knee = Number.POSITIVE_INFINITY;
      if ((this.capTotal[dimension] as number) > 0) {
        this.foldCapsOf(dimension, info, prioritized);
        min = this.foldedMin;
        max = this.foldedMax;
        knee = this.foldedKnee;
        bounds[i] = this.boundsFor(dimension, info, min, max);
      } else if (!again) {
        // Uncapped dimensions share one frozen bounds object: fewer allocations per snapshot.
        bounds[i] = info.defaultBounds;
      }
      const base = dimension * CELLS;
      const primaryOp = ops[2 * i] as number;
      if (primaryOp !== OP_NONE) {
        if (!again) primaryInfos[primaryCount] = info;
        primaryValues[primaryCount++] = finalValue(
          this.candidateOf(primaryOp, planRows[2 * i] as number, base, info),
          knee,
          info,
          min,
          max,
        );
      }
      const derivedOp = ops[2 * i + 1] as number;
      if (derivedOp !== OP_NONE) {
        if (!again) derivedInfos[derivedCount] = info;
        derivedValues[derivedCount++] = finalValue(
          this.candidateOf(derivedOp, planRows[2 * i + 1] as number, base + 4, info),
          knee,
          info,
          min,
          max,
        );
      }
    }
    return this.built(again, primaryCount, derivedCount);
  }

  /** The result of a resolve from the scratch arrays (`again`: the same keys as last time). */
  private built(again: boolean, primaryCount: number, derivedCount: number): StatValues {
    let primary: Record<string, number>;
    let derived: Record<string, number>;
    let capsUsed: Record<string, CapBounds>;
    if (again) {
      primary = this.primaryShapes.buildAgain(this.primaryValues);
      derived = this.derivedShapes.buildAgain(this.derivedValues);
      capsUsed = this.boundsShapes.buildAgain(this.bounds);
    } else {
      primary = this.primaryShapes.build(this.primaryInfos, primaryCount, this.primaryValues);
      derived = this.derivedShapes.build(this.derivedInfos, derivedCount, this.derivedValues);
      capsUsed = this.boundsShapes.build(this.touchedInfos, this.touchedCount, this.bounds);
    }
    this.builtGeneration = this.generation;
    if (this.contextPacks === undefined) return { primary, derived, caps_used: capsUsed };
    const context: Record<string, MergedModifierPack> = {};
    for (const key of [...this.contextPacks.keys()].sort()) {
      context[key] = this.contextPacks.get(key) as MutablePack;
    }
    return { primary, derived, caps_used: capsUsed, context };
  }

  // The slow validators: they run only after the fast check failed, to name the error.
}
