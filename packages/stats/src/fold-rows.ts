// The fold's rows: the fast R0 check that turns subsystem outputs into rows of a struct of typed
// arrays (cell key, value, priority, system; caps as `CapRow`s), prepared outputs copied or left
// in place, and the context packs merged in subsystem order. The emitting writer
// (`fold-emit.ts`) and the fold itself (`fold.ts`) build on these rows.
import { CapRow, modeRank, validModeAndKind } from "./cap-merge.js";
import { statsInputError } from "./errors.js";
import { OutputValidator } from "./output-validator.js";
import { type Interned, PREPARED, type PreparedForms } from "./prepared-output.js";
import type { CompiledRegistry } from "./registry.js";
import { CELLS, growFloat64, growInt32, type MutablePack, NO_NAME } from "./row-layout.js";
import type { CapContribution, Contribution, ModifierPack, SubsystemOutput } from "./types.js";

/** The rows of one resolve, and the fast check that appends them (see {@link StatFold}). */
export abstract class FoldRows {
  protected generation = 0;
  protected contextPacks: Map<string, MutablePack> | undefined;

  // Contribution rows of the current resolve.
  protected itemCount = 0;
  protected itemKeys = new Int32Array(256);
  protected itemValues = new Float64Array(256);
  protected itemPriorities = new Float64Array(256);
  protected itemSystems: string[] = new Array<string>(256).fill("");
  // What an emitting subsystem's call at each row gave in the previous resolve: the key
  // (dimension × 8 + section + bucket) and the priority rank, copied into the row by
  // `FoldEmit.endEmit` (the arguments themselves are remembered in `FoldEmit.emittedItems`).
  protected emitKeys = new Int32Array(256);
  protected emitRanks = new Float64Array(256);
  protected itemNext = new Int32Array(256);
  // Name cache by row position: constant outputs bring the same dimension string at the same
  // position every resolve, so one identity comparison replaces a dictionary lookup.
  protected seenNames: unknown[] = new Array<unknown>(256).fill(NO_NAME);
  protected seenIndex = new Int32Array(256);

  // Cap rows of the current resolve.
  protected capCount = 0;
  protected caps: CapRow[] = [];
  // Mutable rows reused for plain outputs' caps (prepared outputs bring their own, frozen ones).
  protected readonly scratchCapRows: CapRow[] = [];
  protected capDimensions = new Int32Array(32);
  protected capLayers = new Int32Array(32);
  protected capNext = new Int32Array(32);
  protected capSeenNames: unknown[] = new Array<unknown>(32).fill(NO_NAME);
  protected capSeenIndex = new Int32Array(32);
  protected capSeenScopes: unknown[] = new Array<unknown>(32).fill(NO_NAME);
  protected capSeenLayers = new Int32Array(32);

  // The prepared output added at each position in the previous resolve (see `add`, `begin`).
  protected outputIndex = 0;
  protected samePrefix = true;
  protected readonly lastInterned: (Interned | undefined)[] = [];

  // Sorting scratch.
  protected order = new Int32Array(16);

  // Whether a writer is open (see `FoldEmit`); rows grow while it is.
  protected emitting = false;

  /** Names the problem of a rejected output (only after the fast check failed). */
  protected readonly validator: OutputValidator;

  /** The compiled registry this fold works with. */
  readonly registry: CompiledRegistry;

  constructor(registry: CompiledRegistry) {
    this.registry = registry;
    this.validator = new OutputValidator(registry);
  }

  /** Starts a new resolve, forgetting the previous one. */
  begin(): void {
    // `add` trusts a position's prepared output only as the previous resolve left it there.
    // Positions that resolve did not reach (its actor listed fewer subsystems, or some were left
    // out) still name older resolves' outputs, whose rows later resolves may have moved.
    if (this.lastInterned.length > this.outputIndex) this.lastInterned.length = this.outputIndex;
    this.generation++;
    this.outputIndex = 0;
    this.samePrefix = true;
    this.itemCount = 0;
    this.capCount = 0;
    this.contextPacks = undefined;
  }

  protected growItems(size: number): void {
    const old = this.itemKeys.length;
    this.itemKeys = growInt32(this.itemKeys, size);
    const capacity = this.itemKeys.length;
    this.itemValues = growFloat64(this.itemValues, capacity);
    this.itemPriorities = growFloat64(this.itemPriorities, capacity);
    this.itemNext = growInt32(this.itemNext, capacity);
    this.seenIndex = growInt32(this.seenIndex, capacity);
    this.emitKeys = growInt32(this.emitKeys, capacity);
    this.emitRanks = growFloat64(this.emitRanks, capacity);
    for (let i = old; i < capacity; i++) {
      this.itemSystems.push("");
      this.seenNames.push(NO_NAME);
    }
    if (this.order.length < capacity) this.order = new Int32Array(capacity);
  }

  protected growCaps(size: number): void {
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

  /**
   * The fast R0 check of one contribution list, appending each valid contribution as a row.
   * Returns false at the first problem; the caller then rolls back and lets the slow validator
   * name the error, so messages stay exactly as informative.
   */
  protected appendContributions(list: unknown, section: number): boolean {
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
  protected appendCaps(list: unknown): boolean {
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
  protected appendInterned(interned: Interned): void {
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
        this.validator.validate(output, system);
        throw statsInputError({ system, field: "(output)" }, "invalid subsystem output");
      }
      if (output.context !== undefined) {
        try {
          this.validator.validateContext(output.context, system);
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
   * The layer position of cap scope `scope` written at cap row `row`, through that row's scope
   * cache (a dictionary lookup per cap was the dearest part of checking one); -1 for a scope that
   * is not a layer.
   */
  protected layerAt(row: number, scope: unknown): number {
    if (this.capSeenScopes[row] === scope) return this.capSeenLayers[row] as number;
    const layer = typeof scope === "string" ? this.registry.layerPosition[scope] : undefined;
    if (layer === undefined) return -1;
    this.capSeenScopes[row] = scope;
    this.capSeenLayers[row] = layer;
    return layer;
  }

  /** The rows added since `itemStart`/`capStart`, copied into a prepared output's interned form. */
  protected intern(itemStart: number, capStart: number): Interned {
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

  protected mergeContext(context: Readonly<Record<string, ModifierPack>>) {
    for (const key of Object.keys(context)) {
      const pack = context[key];
      if (pack !== undefined) this.mergePack(key, pack);
    }
  }

  protected mergePack(key: string, pack: ModifierPack) {
    this.contextPacks ??= new Map();
    let merged = this.contextPacks.get(key);
    if (merged === undefined) {
      merged = { additive_percent: 0, multipliers: [], post_add: 0 };
      this.contextPacks.set(key, merged);
    }
    merged.additive_percent += pack.additive_percent ?? 0;
    if (pack.multipliers !== undefined) merged.multipliers.push(...pack.multipliers);
    merged.post_add += pack.post_add ?? 0;
  }
}
