import { TroupeError } from "@troupe/core";
import { describeValue, type StatsErrorLocation, statsInputError } from "./errors.js";
import { compareContributions, compareValues, insertionSort } from "./order.js";
import type { CompiledRegistry, DimensionInfo } from "./registry.js";
import { ShapeCache } from "./shapes.js";
import type {
  Bucket,
  CapBounds,
  CapContribution,
  CapKind,
  CapMode,
  Contribution,
  MergedModifierPack,
  ModifierPack,
  StatsWriter,
  StatValues,
  SubsystemOutput,
} from "./types.js";
import { closedWriter } from "./writer.js";

const DIMENSION_PATTERN = /^[a-z][a-z0-9_]*$/;

/** Marks an output made by {@link prepareOutput}; holds its interned form per registry. */
const PREPARED: unique symbol = Symbol("troupe.stats.prepared");

/**
 * A prepared output compiled against one registry: its contributions and caps already in the
 * fold's row form, so adding it is a few copies. Packed into one typed array (and one array of
 * pointers) because a game holds many prepared outputs, and each separate array read when one is
 * added is another likely cache miss.
 */
interface Interned {
  /** Contribution rows: `rowCount` × (cell key, value, priority). */
  readonly rows: Float64Array;
  readonly rowCount: number;
  /** Cap rows: `capCount` × (dimension, layer) in `rows`, after the contribution rows. */
  readonly capCount: number;
  /** The contribution rows' systems, then the cap rows. */
  readonly refs: readonly (string | CapRow)[];
}

/**
 * The interned forms of one prepared output, per registry. Almost always one registry is in use,
 * so the latest is kept in plain fields (a `WeakMap.get` per output per resolve was the top line
 * of a resolve of prepared outputs); forms for other registries (after a reload, or a second
 * engine) live in a `WeakMap` so a dropped registry is not kept alive by its outputs.
 */
class PreparedForms {
  registry: CompiledRegistry | undefined = undefined;
  interned: Interned | undefined = undefined;
  private others: WeakMap<CompiledRegistry, Interned> | undefined;

  get(registry: CompiledRegistry): Interned | undefined {
    if (this.registry === registry) return this.interned;
    const found = this.others?.get(registry);
    if (found !== undefined) this.remember(registry, found);
    return found;
  }

  set(registry: CompiledRegistry, interned: Interned): void {
    this.remember(registry, interned);
  }

  private remember(registry: CompiledRegistry, interned: Interned): void {
    if (this.registry !== undefined && this.registry !== registry && this.interned !== undefined) {
      this.others ??= new WeakMap();
      this.others.set(this.registry, this.interned);
    }
    this.registry = registry;
    this.interned = interned;
  }
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
  // Outputs are JSON-like data, which a plain recursive copy handles ~5× faster than
  // `structuredClone`; anything else (a Date, a Map, a cycle, a function) goes to
  // `structuredClone` as before, with its semantics and its errors.
  // The plain copy comes back frozen below its root; the root is frozen after the mark is set.
  const plain = copyPlainData(output, 0);
  const copy = (plain === NOT_PLAIN ? structuredClone(output) : plain) as SubsystemOutput;
  Object.defineProperty(copy, PREPARED, { value: new PreparedForms() });
  return plain === NOT_PLAIN ? deepFreeze(copy) : Object.freeze(copy);
}

/** Returned by {@link copyPlainData} for data it does not copy itself. */
const NOT_PLAIN: unique symbol = Symbol("not plain data");

/** Nesting beyond this is left to `structuredClone` (which also handles cycles). */
const MAX_PLAIN_DEPTH = 32;

/**
 * A deep copy of plain data: primitives other than symbols, dense arrays and plain objects
 * (prototype `Object.prototype` or `null`, copied with `Object.prototype`, as `structuredClone`
 * does), own enumerable string keys. Every object below `value` comes back frozen, `value`'s own
 * copy not (the caller marks it first). {@link NOT_PLAIN} for anything else.
 */
function copyPlainData(value: unknown, depth: number): unknown {
  if (typeof value !== "object") {
    return typeof value === "symbol" || typeof value === "function" ? NOT_PLAIN : value;
  }
  if (value === null) return null;
  if (depth > MAX_PLAIN_DEPTH) return NOT_PLAIN;
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (Array.isArray(value)) {
    if (prototype !== Array.prototype) return NOT_PLAIN;
    const length = value.length;
    // Holes and extra (non-index) properties: structuredClone keeps them, so let it.
    if (Object.keys(value).length !== length) return NOT_PLAIN;
    const copy: unknown[] = new Array(length);
    for (let i = 0; i < length; i++) {
      const item = copyPlainData(value[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      copy[i] = typeof item === "object" && item !== null ? Object.freeze(item) : item;
    }
    return copy;
  }
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // An own "__proto__" key would set the copy's prototype through assignment.
    if (key === "__proto__") return NOT_PLAIN;
    const item = copyPlainData((value as Record<string, unknown>)[key], depth + 1);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    copy[key] = typeof item === "object" && item !== null ? Object.freeze(item) : item;
  }
  return copy;
}

/** Never equal to a dimension name: marks an empty entry of the name caches. */
const NO_NAME: unknown = Object.freeze({});

/**
 * Cells per dimension: 2 sections (primary, derived) × 4 buckets (FLAT, MULT, POST_ADD,
 * OVERRIDE). A contribution's cell key is `dimension * 8 + section * 4 + bucket`.
 */
const CELLS = 8;

/** Planned operations of a section: empty; one row's value; that value `+ 0`; 0; the full fold. */
const OP_NONE = 0;
const OP_ROW = 1;
const OP_ROW_PLUS_ZERO = 2;
const OP_ZERO = 3;
const OP_GENERAL = 4;

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

/** `Object.is` for numbers that are never NaN here: −0 and +0 differ. */
function sameNumber(a: number, b: number): boolean {
  return a === b && (a !== 0 || 1 / a === 1 / b);
}

/** True for a finite number (NaN and ±∞ fail `x - x === 0`). */
function isFiniteNumber(value: unknown): value is number {
  return typeof value === "number" && value - value === 0;
}

function isPriority(value: unknown): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

/**
 * A repeated plan compiled into one function: it writes the values of every touched dimension
 * into the scratch arrays (`PV` primary, `DV` derived, `B` bounds of capped dimensions) from the
 * rows' values `V`, calling back into the fold `f` for caps and for cells with several values.
 */
type CompiledPlan = (
  fold: StatFold,
  values: Float64Array,
  primary: Float64Array,
  derived: Float64Array,
  bounds: CapBounds[],
) => void;

/** False once code generation from strings turned out to be disabled in this process. */
let planCodegen = true;

/**
 * A cap as the fold reads it: always this one shape (subsystems' cap objects come in many), with
 * the mode as its R1 rank (BASELINE 0, ADDITIVE 1, HARD_MAX 2, HARD_MIN 3, OVERRIDE 4, SOFT_MAX 5).
 */
class CapRow {
  constructor(
    public rank: number,
    public isMax: boolean,
    public value: number,
    public priority: number,
    public system: string,
  ) {}
}

/** Whether `mode` is a cap mode and `kind` a kind it allows (HARD_MAX and SOFT_MAX imply max). */
function validModeAndKind(mode: unknown, kind: unknown): boolean {
  if (kind !== "max" && kind !== "min") return false;
  if (mode === "HARD_MAX" || mode === "SOFT_MAX") return kind === "max";
  if (mode === "HARD_MIN") return kind === "min";
  return mode === "BASELINE" || mode === "ADDITIVE" || mode === "OVERRIDE";
}

function modeRank(mode: string): number {
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

/** Grows a typed array to at least `size` entries (doubling), keeping its contents. */
function growInt32(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(Math.max(size, array.length * 2, 64));
  grown.set(array);
  return grown;
}

function growFloat64(array: Float64Array, size: number): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(Math.max(size, array.length * 2, 64));
  grown.set(array);
  return grown;
}

/** The {@link StatsWriter} of a fold: forwards to the fold's emit methods. */
class FoldWriter implements StatsWriter {
  constructor(private readonly fold: StatFold) {}

  primary(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    this.fold.emitContribution(0, dimension, bucket, value, priority);
  }

  derived(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    this.fold.emitContribution(4, dimension, bucket, value, priority);
  }

  cap(
    dimension: string,
    mode: CapMode,
    kind: CapKind,
    value: number,
    scope: string,
    realm?: string,
    priority?: number,
  ): void {
    this.fold.emitCap(dimension, mode, kind, value, scope, realm, priority);
  }

  context(key: string, pack: ModifierPack): void {
    this.fold.emitContext(key, pack);
  }
}

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
export class StatFold {
  private generation = 0;
  private context: Map<string, MutablePack> | undefined;

  // Contribution rows of the current resolve.
  private itemCount = 0;
  private itemKeys = new Int32Array(256);
  private itemValues = new Float64Array(256);
  private itemPriorities = new Float64Array(256);
  private itemSystems: string[] = new Array<string>(256).fill("");
  // What the emitting subsystem that wrote each row in the previous resolve passed (dimension,
  // bucket) and the key they gave (dimension × 8 + bucket): see `emitContribution`.
  private emitNames: unknown[] = new Array<unknown>(256).fill(NO_NAME);
  private emitBuckets: unknown[] = new Array<unknown>(256).fill(NO_NAME);
  private emitKeys = new Int32Array(256);
  // The row capacity while a writer is open, 0 while it is closed: one comparison for both.
  private emitLimit = 0;
  private itemNext = new Int32Array(256);
  // Name cache by row position: constant outputs bring the same dimension string at the same
  // position every resolve, so one identity comparison replaces a dictionary lookup.
  private seenNames: unknown[] = new Array<unknown>(256).fill(NO_NAME);
  private seenIndex = new Int32Array(256);

  // Cap rows of the current resolve.
  private capCount = 0;
  private caps: CapRow[] = [];
  // Mutable rows reused for plain outputs' caps (prepared outputs bring their own, frozen ones).
  private readonly scratchCapRows: CapRow[] = [];
  private capDimensions = new Int32Array(32);
  private capLayers = new Int32Array(32);
  private capNext = new Int32Array(32);
  private capSeenNames: unknown[] = new Array<unknown>(32).fill(NO_NAME);
  private capSeenIndex = new Int32Array(32);
  private capSeenScopes: unknown[] = new Array<unknown>(32).fill(NO_NAME);
  private capSeenLayers = new Int32Array(32);

  // Per dimension (by interned index), reset lazily when first touched in a resolve.
  private dimensionCapacity = 0;
  private dimensionGeneration = new Float64Array(0);
  private cellHead = new Int32Array(0);
  private cellCount = new Int32Array(0);
  private capHead = new Int32Array(0);
  private capTotal = new Int32Array(0);
  private touched = new Int32Array(0);
  private touchedCount = 0;

  // Prepared outputs added at each position in the previous resolves (see `add`).
  private outputIndex = 0;
  private samePrefix = true;
  private readonly lastInterned: (Interned | undefined)[] = [];
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
  private order = new Int32Array(16);
  private readonly sortCaps: CapRow[] = [];
  private readonly sortLayers: number[] = [];
  private foldedMin = 0;
  private foldedMax = 0;
  private foldedKnee = 0;

  // Used by the slow validators (they run only to name the error of a rejected output).
  private readonly pendingInfos: DimensionInfo[] = [];
  private readonly pendingLayers: number[] = [];
  private pendingCount = 0;

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

  // The emitting subsystem's writer and what it wrote so far (see `beginEmit`).
  private readonly writer: StatsWriter = new FoldWriter(this);
  private emitting = false;
  private emitSystem = "";
  private emitItemStart = 0;
  private emitCapStart = 0;
  private emitError: unknown;
  private emitContexts: [string, MutablePack][] | undefined;

  /** The compiled registry this fold works with. */
  readonly registry: CompiledRegistry;

  constructor(registry: CompiledRegistry) {
    this.registry = registry;
  }

  /** Starts a new resolve, forgetting the previous one. */
  begin(): void {
    this.generation++;
    this.outputIndex = 0;
    this.samePrefix = true;
    this.itemCount = 0;
    this.capCount = 0;
    this.touchedCount = 0;
    this.context = undefined;
  }

  private growItems(size: number): void {
    const old = this.itemKeys.length;
    this.itemKeys = growInt32(this.itemKeys, size);
    const capacity = this.itemKeys.length;
    this.itemValues = growFloat64(this.itemValues, capacity);
    this.itemPriorities = growFloat64(this.itemPriorities, capacity);
    this.itemNext = growInt32(this.itemNext, capacity);
    this.seenIndex = growInt32(this.seenIndex, capacity);
    this.emitKeys = growInt32(this.emitKeys, capacity);
    for (let i = old; i < capacity; i++) {
      this.itemSystems.push("");
      this.seenNames.push(NO_NAME);
      this.emitNames.push(NO_NAME);
      this.emitBuckets.push(NO_NAME);
    }
    if (this.order.length < capacity) this.order = new Int32Array(capacity);
    if (this.emitting) this.emitLimit = capacity;
  }

  private growCaps(size: number): void {
    const old = this.capDimensions.length;
    this.capDimensions = growInt32(this.capDimensions, size);
    const capacity = this.capDimensions.length;
    this.capLayers = growInt32(this.capLayers, capacity);
    this.capNext = growInt32(this.capNext, capacity);
    this.capSeenIndex = growInt32(this.capSeenIndex, capacity);
    this.capSeenLayers = growInt32(this.capSeenLayers, capacity);
    for (let i = old; i < capacity; i++) {
      this.capSeenNames.push(NO_NAME);
      this.capSeenScopes.push(NO_NAME);
    }
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

  /**
   * The fast R0 check of one contribution list, appending each valid contribution as a row.
   * Returns false at the first problem; the caller then rolls back and lets the slow validator
   * name the error, so messages stay exactly as informative.
   */
  private appendContributions(list: unknown, section: number): boolean {
    if (!Array.isArray(list)) return false;
    const length = list.length;
    let row = this.itemCount;
    if (row + length > this.itemKeys.length) this.growItems(row + length);
    const keys = this.itemKeys;
    const values = this.itemValues;
    const priorities = this.itemPriorities;
    const systems = this.itemSystems;
    const seenNames = this.seenNames;
    const seenIndex = this.seenIndex;
    const registry = this.registry;
    for (let i = 0; i < length; i++) {
      const item = list[i] as Partial<Record<keyof Contribution, unknown>> | null;
      if (typeof item !== "object" || item === null) return false;
      const name = item.dimension;
      let dimension: number;
      if (seenNames[row] === name) dimension = seenIndex[row] as number;
      else {
        if (typeof name !== "string") return false;
        const info = registry.dimension(name);
        if (info === undefined) return false;
        dimension = info.index;
        seenNames[row] = name;
        seenIndex[row] = dimension;
      }
      const bucketName = item.bucket;
      let bucket: number;
      if (bucketName === "FLAT") bucket = 0;
      else if (bucketName === "MULT") bucket = 1;
      else if (bucketName === "POST_ADD") bucket = 2;
      else if (bucketName === "OVERRIDE") bucket = 3;
      else return false;
      const value = item.value;
      if (typeof value !== "number" || value - value !== 0) return false;
      if (bucket === 1 && value < -1) return false;
      const system = item.system;
      if (typeof system !== "string" || system === "") return false;
      const priority = item.priority;
      let rank = 0;
      if (priority !== undefined) {
        if (!Number.isSafeInteger(priority) || (priority as number) < 0) return false;
        rank = priority as number;
      }
      keys[row] = dimension * CELLS + section + bucket;
      values[row] = value;
      priorities[row] = rank;
      systems[row] = system;
      row++;
    }
    this.itemCount = row;
    return true;
  }

  /** The fast R0 check of the caps, appending each valid cap as a row (see above). */
  private appendCaps(list: unknown): boolean {
    if (!Array.isArray(list)) return false;
    const length = list.length;
    let row = this.capCount;
    if (row + length > this.capDimensions.length) this.growCaps(row + length);
    const registry = this.registry;
    const seenNames = this.capSeenNames;
    const seenIndex = this.capSeenIndex;
    for (let i = 0; i < length; i++) {
      const cap = list[i] as Partial<Record<keyof CapContribution, unknown>> | null;
      if (typeof cap !== "object" || cap === null) return false;
      const name = cap.dimension;
      let dimension: number;
      if (seenNames[row] === name) dimension = seenIndex[row] as number;
      else {
        if (typeof name !== "string") return false;
        const info = registry.dimension(name);
        if (info === undefined) return false;
        dimension = info.index;
        seenNames[row] = name;
        seenIndex[row] = dimension;
      }
      const mode = cap.mode;
      const kind = cap.kind;
      if (!validModeAndKind(mode, kind)) return false;
      const value = cap.value;
      if (typeof value !== "number" || value - value !== 0) return false;
      const system = cap.system;
      if (typeof system !== "string" || system === "") return false;
      const priority = cap.priority;
      if (priority !== undefined && (!Number.isSafeInteger(priority) || (priority as number) < 0))
        return false;
      const scope = cap.scope;
      const layer = this.layerAt(row, scope);
      if (layer < 0) return false;
      const realm = cap.realm;
      if (realm !== undefined && typeof realm !== "string") return false;
      if (scope === "REALM" && (realm === undefined || realm === "")) return false;
      const tags = cap.tags;
      if (tags !== undefined) {
        if (!Array.isArray(tags)) return false;
        for (let t = 0; t < tags.length; t++) if (typeof tags[t] !== "string") return false;
      }
      let capRow = this.scratchCapRows[row];
      const rank = modeRank(mode as string);
      const rowPriority = priority === undefined ? 0 : (priority as number);
      if (capRow === undefined) {
        capRow = new CapRow(rank, kind === "max", value, rowPriority, system);
        this.scratchCapRows[row] = capRow;
      } else {
        capRow.rank = rank;
        capRow.isMax = kind === "max";
        capRow.value = value;
        capRow.priority = rowPriority;
        capRow.system = system;
      }
      this.caps[row] = capRow;
      this.capDimensions[row] = dimension;
      this.capLayers[row] = layer;
      row++;
    }
    this.capCount = row;
    return true;
  }

  /** Appends a prepared output's rows (validated and interned for this registry before). */
  private appendInterned(interned: Interned): void {
    // Plain loops: `TypedArray.prototype.set` costs more than it saves on a handful of rows.
    const from = interned.rows;
    const refs = interned.refs;
    const length = interned.rowCount;
    const row = this.itemCount;
    if (row + length > this.itemKeys.length) this.growItems(row + length);
    const keys = this.itemKeys;
    const values = this.itemValues;
    const priorities = this.itemPriorities;
    const systems = this.itemSystems;
    for (let i = 0; i < length; i++) {
      keys[row + i] = from[3 * i] as number;
      values[row + i] = from[3 * i + 1] as number;
      priorities[row + i] = from[3 * i + 2] as number;
      systems[row + i] = refs[i] as string;
    }
    this.itemCount = row + length;
    const capLength = interned.capCount;
    if (capLength === 0) return;
    const capRow = this.capCount;
    if (capRow + capLength > this.capDimensions.length) this.growCaps(capRow + capLength);
    const capDimensions = this.capDimensions;
    const capLayers = this.capLayers;
    const caps = this.caps;
    const capBase = 3 * length;
    for (let i = 0; i < capLength; i++) {
      capDimensions[capRow + i] = from[capBase + 2 * i] as number;
      capLayers[capRow + i] = from[capBase + 2 * i + 1] as number;
      caps[capRow + i] = refs[length + i] as CapRow;
    }
    this.capCount = capRow + capLength;
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
    const prepared = (output as { [PREPARED]?: PreparedForms })[PREPARED];
    const interned =
      prepared === undefined
        ? undefined
        : prepared.registry === this.registry
          ? prepared.interned
          : prepared.get(this.registry);
    const position = this.outputIndex++;
    if (interned !== undefined) {
      // A prepared output is deeply frozen and was validated against this registry: skip R0.
      if (this.samePrefix && this.lastInterned[position] === interned) {
        // Every output before this one is the same prepared output as in the previous resolve,
        // so the rows start where they started then, and they still hold this output's rows.
        this.itemCount += interned.rowCount;
        this.capCount += interned.capCount;
      } else {
        this.samePrefix = false;
        this.lastInterned[position] = interned;
        this.appendInterned(interned);
      }
    } else {
      // Set before anything is written: a rejected output may have overwritten rows.
      this.samePrefix = false;
      this.lastInterned[position] = undefined;
      const itemStart = this.itemCount;
      const capStart = this.capCount;
      const meta = output.meta as unknown;
      const valid =
        typeof meta === "object" &&
        meta !== null &&
        typeof (meta as { system?: unknown }).system === "string" &&
        this.appendContributions(output.primary, 0) &&
        this.appendContributions(output.derived, 4) &&
        this.appendCaps(output.caps);
      if (!valid) {
        // Nothing of a rejected output is applied; the slow validator names the problem.
        this.itemCount = itemStart;
        this.capCount = capStart;
        this.validate(output, system);
        throw statsInputError({ system, field: "(output)" }, "invalid subsystem output");
      }
      if (output.context !== undefined) {
        try {
          this.validateContext(output.context, system);
        } catch (error) {
          this.itemCount = itemStart;
          this.capCount = capStart;
          throw error;
        }
      }
      if (prepared !== undefined) prepared.set(this.registry, this.intern(itemStart, capStart));
    }
    if (output.context !== undefined) this.mergeContext(output.context);
  }

  /**
   * Opens the writer for an emitting subsystem, which adds its contributions in the position of
   * an output (see {@link StatsWriter}). Close it with {@link StatFold.endEmit} when `emit`
   * returned, or {@link StatFold.abortEmit} when it threw.
   */
  beginEmit(system: string): StatsWriter {
    if (this.emitting) throw new TroupeError("INTERNAL", "a stats writer is already open");
    const position = this.outputIndex++;
    this.samePrefix = false;
    this.lastInterned[position] = undefined;
    this.emitSystem = system;
    this.emitItemStart = this.itemCount;
    this.emitCapStart = this.capCount;
    this.emitError = undefined;
    this.emitting = true;
    this.emitLimit = this.itemKeys.length;
    return this.writer;
  }

  /** Whether a subsystem is writing into this fold right now (it may not be used for another). */
  get busy(): boolean {
    return this.emitting;
  }

  /**
   * Closes the writer after `emit` returned. Throws the first rejected call's error (even when
   * the subsystem caught it), and then nothing the subsystem wrote is kept.
   */
  endEmit(): void {
    this.emitting = false;
    this.emitLimit = 0;
    // Every row of an emitting subsystem carries its id (the fast path leaves this to here).
    const system = this.emitSystem;
    const systems = this.itemSystems;
    for (let row = this.emitItemStart; row < this.itemCount; row++) systems[row] = system;
    // The rare cases out of line: this runs once per emitting subsystem per resolve.
    if (this.emitError !== undefined) this.rejectEmitted();
    if (this.emitContexts !== undefined) this.mergeEmittedContexts();
  }

  private rejectEmitted(): never {
    const error = this.emitError;
    this.abortEmit();
    throw error;
  }

  private mergeEmittedContexts(): void {
    const contexts = this.emitContexts ?? [];
    this.emitContexts = undefined;
    for (const [key, pack] of contexts) this.mergePack(key, pack);
  }

  /** Closes the writer after `emit` threw: nothing it wrote is kept. */
  abortEmit(): void {
    this.emitting = false;
    this.emitLimit = 0;
    this.emitError = undefined;
    this.emitContexts = undefined;
    this.itemCount = this.emitItemStart;
    this.capCount = this.emitCapStart;
  }

  /**
   * {@link StatsWriter.primary} (`section` 0) and {@link StatsWriter.derived} (`section` 4).
   * Kept small enough for V8 to inline it into a subsystem's code (a call that is not inlined
   * boxes its value argument, a heap allocation per contribution): the common case is the same
   * dimension and bucket at this row as in the previous resolve, whose checks are remembered,
   * so only the value and the priority are checked here. Everything else takes the slow path.
   */
  emitContribution(
    section: number,
    name: string,
    bucketName: string,
    value: number,
    priority: number | undefined,
  ): void {
    const row = this.itemCount;
    if (
      row < this.emitLimit &&
      this.emitNames[row] === name &&
      this.emitBuckets[row] === bucketName &&
      typeof value === "number" &&
      value - value === 0 &&
      (priority === undefined || priority >>> 0 === priority)
    ) {
      const key = (this.emitKeys[row] as number) + section;
      if (value >= -1 || (key & 3) !== 1) {
        this.itemKeys[row] = key;
        this.itemValues[row] = value;
        this.itemPriorities[row] = priority === undefined ? 0 : priority;
        this.itemCount = row + 1;
        return;
      }
    }
    this.emitContributionSlowly(section, name, bucketName, value, priority);
  }

  /**
   * The interned index of dimension `name` written at `row`, through that row's name cache
   * (`names`, `indexes`: the last name seen there and its index); -1 for an unknown dimension.
   */
  private dimensionAt(row: number, name: unknown, names: unknown[], indexes: Int32Array): number {
    if (names[row] === name) return indexes[row] as number;
    const info = typeof name === "string" ? this.registry.dimension(name) : undefined;
    if (info === undefined) return -1;
    names[row] = name;
    indexes[row] = info.index;
    return info.index;
  }

  /**
   * The layer position of cap scope `scope` written at cap row `row`, through that row's scope
   * cache (a dictionary lookup per cap was the dearest part of checking one); -1 for a scope that
   * is not a layer.
   */
  private layerAt(row: number, scope: unknown): number {
    if (this.capSeenScopes[row] === scope) return this.capSeenLayers[row] as number;
    const layer = typeof scope === "string" ? this.registry.layerPosition[scope] : undefined;
    if (layer === undefined) return -1;
    this.capSeenScopes[row] = scope;
    this.capSeenLayers[row] = layer;
    return layer;
  }

  /** {@link StatFold.emitContribution} with every check, a name lookup and room to grow. */
  private emitContributionSlowly(
    section: number,
    name: string,
    bucketName: string,
    value: number,
    priority: number | undefined,
  ): void {
    if (!this.emitting) throw closedWriter();
    const row = this.itemCount;
    if (row >= this.itemKeys.length) this.growItems(row + 1);
    const dimension = this.dimensionAt(row, name, this.seenNames, this.seenIndex);
    if (dimension < 0) this.rejectContribution(section, name, bucketName, value, priority);
    const bucket = bucketCode(bucketName);
    let rank = 0;
    if (priority !== undefined) {
      rank = Number.isSafeInteger(priority) && priority >= 0 ? priority : -1;
    }
    if (
      bucket < 0 ||
      typeof value !== "number" ||
      value - value !== 0 ||
      (bucket === 1 && value < -1) ||
      rank < 0
    ) {
      this.rejectContribution(section, name, bucketName, value, priority);
    }
    this.itemKeys[row] = dimension * CELLS + section + bucket;
    this.itemValues[row] = value;
    this.itemPriorities[row] = rank;
    this.itemCount = row + 1;
    this.emitNames[row] = name;
    this.emitBuckets[row] = bucketName;
    this.emitKeys[row] = dimension * CELLS + bucket;
  }

  /** Names a rejected contribution's problem with the output validator, and throws it. */
  private rejectContribution(
    section: number,
    name: unknown,
    bucket: unknown,
    value: unknown,
    priority: unknown,
  ): never {
    const system = this.emitSystem;
    const item: Record<string, unknown> = { dimension: name, bucket, value, system };
    if (priority !== undefined) item.priority = priority;
    const sectionName = section === 0 ? "primary" : "derived";
    // The position in its section: rows of this output so far with the same section bit.
    let index = 0;
    for (let row = this.emitItemStart; row < this.itemCount; row++) {
      if (((this.itemKeys[row] as number) & 4) === section) index++;
    }
    return this.rejectEmit(() => this.validateContribution(item, system, sectionName, index), {
      system,
      field: `${sectionName}[${index}]`,
    });
  }

  private rejectEmit(validate: () => void, location: StatsErrorLocation): never {
    let error: unknown = statsInputError(location, "invalid contribution");
    try {
      validate();
    } catch (named) {
      error = named;
    }
    this.emitError ??= error;
    throw error;
  }

  /** {@link StatsWriter.cap}. */
  emitCap(
    name: string,
    mode: string,
    kind: string,
    value: number,
    scope: string,
    realm: string | undefined,
    priority: number | undefined,
  ): void {
    if (!this.emitting) throw closedWriter();
    const row = this.capCount;
    if (row >= this.capDimensions.length) this.growCaps(row + 1);
    const dimension = this.dimensionAt(row, name, this.capSeenNames, this.capSeenIndex);
    if (dimension < 0) this.rejectCap(name, mode, kind, value, scope, realm, priority);
    const layer = this.layerAt(row, scope);
    const valid =
      layer >= 0 &&
      validModeAndKind(mode, kind) &&
      typeof value === "number" &&
      value - value === 0 &&
      (priority === undefined || (Number.isSafeInteger(priority) && priority >= 0)) &&
      (realm === undefined || typeof realm === "string") &&
      (scope !== "REALM" || (realm !== undefined && realm !== ""));
    if (!valid) this.rejectCap(name, mode, kind, value, scope, realm, priority);
    const rank = modeRank(mode);
    const rowPriority = priority === undefined ? 0 : priority;
    let capRow = this.scratchCapRows[row];
    if (capRow === undefined) {
      capRow = new CapRow(rank, kind === "max", value, rowPriority, this.emitSystem);
      this.scratchCapRows[row] = capRow;
    } else {
      capRow.rank = rank;
      capRow.isMax = kind === "max";
      capRow.value = value;
      capRow.priority = rowPriority;
      capRow.system = this.emitSystem;
    }
    this.caps[row] = capRow;
    this.capDimensions[row] = dimension;
    this.capLayers[row] = layer;
    this.capCount = row + 1;
  }

  private rejectCap(
    name: unknown,
    mode: unknown,
    kind: unknown,
    value: unknown,
    scope: unknown,
    realm: unknown,
    priority: unknown,
  ): never {
    const system = this.emitSystem;
    const cap: Record<string, unknown> = { system, dimension: name, mode, kind, value, scope };
    if (realm !== undefined) cap.realm = realm;
    if (priority !== undefined) cap.priority = priority;
    const index = this.capCount - this.emitCapStart;
    return this.rejectEmit(() => this.validateCap(cap, system, index), {
      system,
      field: `caps[${index}]`,
    });
  }

  /** {@link StatsWriter.context}: validated now, merged when the subsystem's emit succeeds. */
  emitContext(key: string, pack: ModifierPack): void {
    if (!this.emitting) throw closedWriter();
    const system = this.emitSystem;
    if (typeof key !== "string") {
      this.rejectUnless(() => {
        throw statsInputError(
          { system, field: "context" },
          `expected a context key string, got ${describeValue(key)}`,
        );
      });
    }
    this.rejectUnless(() => this.validateContext({ [key]: pack }, system));
    const copy: MutablePack = {
      additive_percent: pack.additive_percent ?? 0,
      multipliers: pack.multipliers === undefined ? [] : [...pack.multipliers],
      post_add: pack.post_add ?? 0,
    };
    this.emitContexts ??= [];
    this.emitContexts.push([key, copy]);
  }

  private rejectUnless(validate: () => void): void {
    try {
      validate();
    } catch (error) {
      this.emitError ??= error;
      throw error;
    }
  }

  /** The rows added since `itemStart`/`capStart`, copied into a prepared output's interned form. */
  private intern(itemStart: number, capStart: number): Interned {
    const rowCount = this.itemCount - itemStart;
    const capCount = this.capCount - capStart;
    const rows = new Float64Array(3 * rowCount + 2 * capCount);
    const refs: (string | CapRow)[] = [];
    for (let i = 0; i < rowCount; i++) {
      rows[3 * i] = this.itemKeys[itemStart + i] as number;
      rows[3 * i + 1] = this.itemValues[itemStart + i] as number;
      rows[3 * i + 2] = this.itemPriorities[itemStart + i] as number;
      refs.push(this.itemSystems[itemStart + i] as string);
    }
    for (let i = 0; i < capCount; i++) {
      rows[3 * rowCount + 2 * i] = this.capDimensions[capStart + i] as number;
      rows[3 * rowCount + 2 * i + 1] = this.capLayers[capStart + i] as number;
      // Copies: the scratch cap rows are overwritten by the next resolve.
      const row = this.caps[capStart + i] as CapRow;
      refs.push(
        Object.freeze(new CapRow(row.rank, row.isMax, row.value, row.priority, row.system)),
      );
    }
    return { rows, rowCount, capCount, refs };
  }

  private mergeContext(context: Readonly<Record<string, ModifierPack>>) {
    for (const key of Object.keys(context)) {
      const pack = context[key];
      if (pack !== undefined) this.mergePack(key, pack);
    }
  }

  private mergePack(key: string, pack: ModifierPack) {
    this.context ??= new Map();
    let merged = this.context.get(key);
    if (merged === undefined) {
      merged = { additive_percent: 0, multipliers: [], post_add: 0 };
      this.context.set(key, merged);
    }
    merged.additive_percent += pack.additive_percent ?? 0;
    if (pack.multipliers !== undefined) merged.multipliers.push(...pack.multipliers);
    merged.post_add += pack.post_add ?? 0;
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

  /**
   * Rules R4, R5 and R7 for a dimension with one cap (at cap row `row`), as {@link foldCaps}
   * computes them for a single cap: one layer, so its bounds are the across-layer bounds under
   * either policy. Compiled plans call it for their lone caps (a property test compares them with
   * a fresh fold). Not private: only generated code calls it.
   */
  foldLoneCap(row: number, info: DimensionInfo): void {
    const cap = this.caps[row] as CapRow;
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
    this.foldedMin = min;
    this.foldedMax = max;
    this.foldedKnee = knee;
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

  /**
   * The values of a repeated plan as one straight-line function (see {@link CompiledPlan}):
   * every dimension's candidate operation, row, cell counts and clamp bounds are fixed by the
   * plan, so they are written into the code instead of being read and dispatched on per
   * dimension. Undefined where code generation from strings is disabled.
   */
  private compilePlan(): CompiledPlan | undefined {
    if (!planCodegen) return undefined;
    const touched = this.touched;
    const infos = this.registry.dimensions;
    const count = this.touchedCount;
    const ops = this.planOps;
    const rows = this.planRows;
    const cellCount = this.cellCount;
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
    const head = this.cellHead;
    const next = this.itemNext;
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
      const capped = (this.capTotal[dimension] as number) > 0;
      if (capped) {
        lines.push(
          (this.capTotal[dimension] as number) === 1
            ? `f.foldLoneCap(${this.capHead[dimension] as number}, I[${i}]);`
            : `f.foldCapsOf(${dimension}, I[${i}], P);`,
          "min = f.foldedMin; max = f.foldedMax; knee = f.foldedKnee;",
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
  let min = 0, max = 0, c = 0;
  let knee = Infinity;
  ${lines.join("\n  ")}
};`;
    try {
      return new Function("I", "K", "P", "F", body)(
        planInfos,
        clamps,
        this.registry.prioritized,
        finalValue,
      ) as CompiledPlan;
    } catch {
      // Code generation from strings is disabled (--disallow-code-generation-from-strings).
      planCodegen = false;
      return undefined;
    }
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
        compiled = this.compilePlan();
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
    if (this.context === undefined) return { primary, derived, caps_used: capsUsed };
    const context: Record<string, MergedModifierPack> = {};
    for (const key of [...this.context.keys()].sort()) {
      context[key] = this.context.get(key) as MutablePack;
    }
    return { primary, derived, caps_used: capsUsed, context };
  }

  // The slow validators: they run only after the fast check failed, to name the error.

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
    for (let i = 0; i < list.length; i++) this.validateContribution(list[i], system, section, i);
  }

  /** Names the problem of contribution `section[i]`, if it has one. */
  private validateContribution(entry: unknown, system: string, section: string, i: number): void {
    const item = entry as Partial<Record<keyof Contribution, unknown>> | null;
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

  private validateCaps(list: unknown, system: string): void {
    if (!Array.isArray(list)) {
      throw statsInputError(
        { system, field: "caps" },
        `expected an array, got ${describeValue(list)}`,
      );
    }
    for (let i = 0; i < list.length; i++) this.validateCap(list[i], system, i);
  }

  /** Names the problem of cap `caps[i]`, if it has one. */
  private validateCap(entry: unknown, system: string, i: number): void {
    const layerPosition = this.registry.layerPosition;
    const cap = entry as Partial<Record<keyof CapContribution, unknown>> | null;
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
  min: number;
  max: number;
  knee: number;
}

/** The result of {@link foldCaps}, reused: read it before the next call. */
const FOLDED: FoldedCaps = { min: 0, max: 0, knee: 0 };

/** Rules R4, R5 and R7 for one dimension: effective bounds and the soft knee (sorts in place). */
function foldCaps(
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

/** Sorts `items` by R1 order (a copy); for explain and tests. */
export function sortContributions(items: readonly Contribution[]): Contribution[] {
  const copy = [...items];
  insertionSort(copy, copy.length, compareContributions);
  return copy;
}
