// The emitting path: the `StatsWriter` an `emit` subsystem writes into, checked call by call as
// rule R0 checks an output, writing straight into the fold's rows.
import { TroupeError } from "@troupe/core";
import { CapRow, modeRank, validModeAndKind } from "./cap-merge.js";
import { describeValue, type StatsErrorLocation, statsInputError } from "./errors.js";
import { FoldRows } from "./fold-rows.js";
import { bucketCode, CELLS, type MutablePack, NO_NAME } from "./row-layout.js";
import type { Bucket, CapKind, CapMode, ModifierPack, StatsWriter } from "./types.js";
import { closedWriter } from "./writer.js";

/**
 * A cap an emitting subsystem wrote at a row: the arguments (checked) and what they gave. Its
 * {@link CapRow} is this row's own, reused from one resolve to the next as the plain outputs'
 * scratch rows are.
 */
class EmittedCap {
  constructor(
    public name: unknown,
    public mode: unknown,
    public kind: unknown,
    public scope: unknown,
    public realm: unknown,
    public priority: unknown,
    public dimension: number,
    public layer: number,
    readonly row: CapRow,
  ) {}
}

/**
 * What an emitting subsystem's call at a row passed in the previous resolve, checked: the
 * dimension (in `primaryName` for a primary row, `derivedName` for a derived one, the other
 * {@link NO_NAME}), bucket and priority, and the least value the bucket takes (-1 for MULT,
 * -Number.MAX_VALUE otherwise: with the comparison against Number.MAX_VALUE it rejects NaN and
 * the infinities; NaN until written, which no value passes). One object per row, so the fast
 * path reads each with one property load (a smaller inlined call than an array per field).
 */
class EmittedItem {
  primaryName: unknown = NO_NAME;
  derivedName: unknown = NO_NAME;
  bucket: unknown = NO_NAME;
  priority: unknown = NO_NAME;
  floor = Number.NaN;
}

/**
 * Where an emitting subsystem's rows ended at an output position in the previous resolve that
 * reached it (see `FoldEmit.endEmit`).
 */
class EmittedSpan {
  constructor(
    public system: string,
    public itemEnd: number,
    public capEnd: number,
    public generation: number,
  ) {}
}

// The closed writer's rows: always empty (see `FoldEmit.openItems`), of the same elements kind
// as `emittedItems` (objects), so the fast path's read sees one array shape.
const CLOSED_ITEMS: (EmittedItem | undefined)[] = [undefined];
CLOSED_ITEMS.length = 0;

// The closed writer's caps: always empty (see `FoldEmit.openCaps`), of the same elements kind as
// `emittedCaps` (objects), so the fast path's read sees one array shape.
const CLOSED_CAPS: (EmittedCap | undefined)[] = [undefined];
CLOSED_CAPS.length = 0;

/**
 * The fold's rows with an emitting subsystem's writer on top (see {@link StatFold}). The fold is
 * the {@link StatsWriter} itself: a writer call is then one method whose common case reads and
 * writes the rows directly, small enough for V8 to inline several of them into a subsystem's code
 * under its default budgets (a call that is not inlined boxes its value argument, a heap
 * allocation per contribution). A second object forwarding to the fold cost a call level and its
 * bytecode against that budget at every call.
 */
export abstract class FoldEmit extends FoldRows implements StatsWriter {
  // What each row's call passed when an emitting subsystem last wrote it there (see `primary`).
  protected readonly emittedItems: EmittedItem[] = [];
  // What the fast path reads: `emittedItems` while a writer is open, an empty list while it is
  // closed (so every call of a closed writer takes the slow path, which throws, with no separate
  // check); a row past the end reads `undefined` there, and takes the slow path too.
  protected openItems: (EmittedItem | undefined)[] = CLOSED_ITEMS;
  // The cap each row held when an emitting subsystem last wrote it there (see `cap`).
  protected readonly emittedCaps: (EmittedCap | undefined)[] = [];
  // What the cap fast path reads: `emittedCaps` while a writer is open, an empty list while it is
  // closed (as `openItems`).
  protected openCaps: (EmittedCap | undefined)[] = CLOSED_CAPS;
  // What the emitting subsystem wrote so far (see `beginEmit`).
  protected emitSystem = "";
  protected emitItemStart = 0;
  protected emitCapStart = 0;
  protected emitError: unknown;
  protected emitContexts: [string, MutablePack][] | undefined;
  protected emitPosition = 0;
  // Whether a call of this emit took a slow path (which may change what a row remembers).
  protected emitSlow = false;
  // By output position: the rows the emitting subsystem there wrote (see `endEmit`).
  protected readonly emittedSpans: (EmittedSpan | undefined)[] = [];

  /**
   * Opens the writer for an emitting subsystem, which adds its contributions in the position of
   * an output (see {@link StatsWriter}). Close it with {@link StatFold.endEmit} when `emit`
   * returned, or {@link StatFold.abortEmit} when it threw.
   */
  beginEmit(system: string): StatsWriter {
    if (this.emitting) throw new TroupeError("INTERNAL", "a stats writer is already open");
    const position = this.outputIndex++;
    this.lastInterned[position] = undefined;
    this.emitPosition = position;
    this.emitSlow = false;
    this.emitSystem = system;
    this.emitItemStart = this.itemCount;
    this.emitCapStart = this.capCount;
    this.emitError = undefined;
    this.emitting = true;
    this.openItems = this.emittedItems;
    this.openCaps = this.emittedCaps;
    return this;
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
    this.closeNames();
    const system = this.emitSystem;
    const span = this.emittedSpans[this.emitPosition];
    if (
      this.samePrefix &&
      !this.emitSlow &&
      span !== undefined &&
      span.generation === this.generation - 1 &&
      span.system === system &&
      span.itemEnd === this.itemCount &&
      span.capEnd === this.capCount
    ) {
      // Every output before this one was the same as in the previous resolve (see `add`), and
      // this subsystem wrote the same rows as then, every call on the fast path: the rows still
      // hold their keys, ranks, systems and caps, and the fold's plan stands (only values moved).
      span.generation = this.generation;
      if (this.emitError !== undefined) this.rejectEmitted();
      if (this.emitContexts !== undefined) this.mergeEmittedContexts();
      return;
    }
    this.samePrefix = false;
    if (span === undefined) {
      const generation = this.generation;
      this.emittedSpans[this.emitPosition] = new EmittedSpan(
        system,
        this.itemCount,
        this.capCount,
        generation,
      );
    } else {
      span.system = system;
      span.itemEnd = this.itemCount;
      span.capEnd = this.capCount;
      span.generation = this.generation;
    }
    // The fast path stores only the value: each row's key, priority rank and system are the
    // ones remembered for it (or just written by the slow path), copied here once per row.
    const systems = this.itemSystems;
    const keys = this.itemKeys;
    const ranks = this.itemPriorities;
    const emitKeys = this.emitKeys;
    const emitRanks = this.emitRanks;
    for (let row = this.emitItemStart; row < this.itemCount; row++) {
      systems[row] = system;
      keys[row] = emitKeys[row] as number;
      ranks[row] = emitRanks[row] as number;
    }
    // The same for caps: the fast path stored only the value into the row's remembered cap.
    const emitted = this.emittedCaps;
    const caps = this.caps;
    const capDimensions = this.capDimensions;
    const capLayers = this.capLayers;
    for (let row = this.emitCapStart; row < this.capCount; row++) {
      const seen = emitted[row] as EmittedCap;
      const capRow = seen.row;
      capRow.system = system;
      caps[row] = capRow;
      capDimensions[row] = seen.dimension;
      capLayers[row] = seen.layer;
    }
    // The rare cases out of line: this runs once per emitting subsystem per resolve.
    if (this.emitError !== undefined) this.rejectEmitted();
    if (this.emitContexts !== undefined) this.mergeEmittedContexts();
  }

  protected rejectEmitted(): never {
    const error = this.emitError;
    this.abortEmit();
    throw error;
  }

  protected mergeEmittedContexts(): void {
    const contexts = this.emitContexts ?? [];
    this.emitContexts = undefined;
    for (const [key, pack] of contexts) this.mergePack(key, pack);
  }

  protected closeNames(): void {
    this.openItems = CLOSED_ITEMS;
    this.openCaps = CLOSED_CAPS;
  }

  /** Closes the writer after `emit` threw: nothing it wrote is kept. */
  abortEmit(): void {
    this.emitting = false;
    this.closeNames();
    this.emitError = undefined;
    this.emitContexts = undefined;
    this.itemCount = this.emitItemStart;
    this.capCount = this.emitCapStart;
    // This position added nothing: the outputs differ from the previous resolve's from here.
    this.samePrefix = false;
    this.emittedSpans[this.emitPosition] = undefined;
  }

  /**
   * {@link StatsWriter.primary}. The common case is the same dimension, bucket and priority at
   * this row as in the previous resolve, whose checks and key are remembered, so only the value
   * (finite, and not below -1 for MULT) is checked and stored here; `endEmit` copies the row's
   * key and priority. Everything else, a closed writer included (it reads no rows), takes the
   * slow path. Keep this small: its bytecode size is what V8's inlining budget counts, and
   * a call V8 does not inline boxes its value (`derived` is the same on its own names).
   */
  primary(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    const row = this.itemCount;
    const seen = this.openItems[row];
    if (
      seen !== undefined &&
      dimension === seen.primaryName &&
      bucket === seen.bucket &&
      priority === seen.priority &&
      typeof value === "number" &&
      value >= seen.floor &&
      value <= 1.7976931348623157e308
    ) {
      this.itemValues[row] = value;
      this.itemCount = row + 1;
      return;
    }
    this.primarySlowly(dimension, bucket, value, priority);
  }

  /** {@link StatsWriter.derived}: {@link FoldEmit.primary} on the derived rows' names. */
  derived(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    const row = this.itemCount;
    const seen = this.openItems[row];
    if (
      seen !== undefined &&
      dimension === seen.derivedName &&
      bucket === seen.bucket &&
      priority === seen.priority &&
      typeof value === "number" &&
      value >= seen.floor &&
      value <= 1.7976931348623157e308
    ) {
      this.itemValues[row] = value;
      this.itemCount = row + 1;
      return;
    }
    this.derivedSlowly(dimension, bucket, value, priority);
  }

  // The slow paths as calls of four arguments: a smaller call in the fast paths above.
  protected primarySlowly(name: string, bucket: string, value: number, priority?: number): void {
    this.emitContributionSlowly(0, name, bucket, value, priority);
  }

  protected derivedSlowly(name: string, bucket: string, value: number, priority?: number): void {
    this.emitContributionSlowly(4, name, bucket, value, priority);
  }

  /** {@link StatsWriter.context}. */
  context(key: string, pack: ModifierPack): void {
    this.emitContext(key, pack);
  }

  /**
   * The interned index of dimension `name` written at `row`, through that row's name cache
   * (`names`, `indexes`: the last name seen there and its index); -1 for an unknown dimension.
   */
  protected dimensionAt(row: number, name: unknown, names: unknown[], indexes: Int32Array): number {
    if (names[row] === name) return indexes[row] as number;
    const info = typeof name === "string" ? this.registry.dimension(name) : undefined;
    if (info === undefined) return -1;
    names[row] = name;
    indexes[row] = info.index;
    return info.index;
  }

  /** {@link FoldEmit.primary} and `derived` with every check, a name lookup and room to grow. */
  protected emitContributionSlowly(
    section: number,
    name: string,
    bucketName: string,
    value: number,
    priority: number | undefined,
  ): void {
    if (!this.emitting) throw closedWriter();
    this.emitSlow = true;
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
    this.itemValues[row] = value;
    this.itemCount = row + 1;
    // Remembered for this row's next resolve, and copied into the row by `endEmit`.
    const items = this.emittedItems;
    while (items.length <= row) items.push(new EmittedItem());
    const seen = items[row] as EmittedItem;
    seen.primaryName = section === 0 ? name : NO_NAME;
    seen.derivedName = section === 0 ? NO_NAME : name;
    seen.bucket = bucketName;
    seen.priority = priority;
    seen.floor = bucket === 1 ? -1 : -Number.MAX_VALUE;
    this.emitKeys[row] = dimension * CELLS + section + bucket;
    this.emitRanks[row] = rank;
  }

  /** Names a rejected contribution's problem with the output validator, and throws it. */
  protected rejectContribution(
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
    // The position in its section: rows of this output so far with the same section bit (their
    // keys are in `emitKeys` until `endEmit` copies them).
    let index = 0;
    for (let row = this.emitItemStart; row < this.itemCount; row++) {
      if (((this.emitKeys[row] as number) & 4) === section) index++;
    }
    return this.rejectEmit(
      () => this.validator.validateContribution(item, system, sectionName, index),
      {
        system,
        field: `${sectionName}[${index}]`,
      },
    );
  }

  protected rejectEmit(validate: () => void, location: StatsErrorLocation): never {
    let error: unknown = statsInputError(location, "invalid contribution");
    try {
      validate();
    } catch (named) {
      error = named;
    }
    this.emitError ??= error;
    throw error;
  }

  /**
   * {@link StatsWriter.cap}. As for contributions, the common case is the same cap at this row
   * as in the previous resolve (dimension, mode, kind, scope, realm and priority), whose checks,
   * interned dimension, layer and row object are remembered: only the value is checked and
   * stored in the remembered row; `endEmit` puts the row in place with its dimension, layer and
   * system. Everything else, a closed writer included (it reads no caps), takes the slow path.
   * Keep this small, as `primary`: a subsystem's contribution calls and this share V8's
   * cumulative inlining budget (920 bytecodes), and a call not inlined boxes its value.
   */
  cap(
    name: string,
    mode: CapMode,
    kind: CapKind,
    value: number,
    scope: string,
    realm?: string,
    priority?: number,
  ): void {
    const row = this.capCount;
    const seen = this.openCaps[row];
    if (
      seen !== undefined &&
      name === seen.name &&
      mode === seen.mode &&
      kind === seen.kind &&
      scope === seen.scope &&
      realm === seen.realm &&
      priority === seen.priority &&
      typeof value === "number" &&
      value - value === 0
    ) {
      seen.row.value = value;
      this.capCount = row + 1;
      return;
    }
    this.capSlowly(name, mode, kind, value, scope, realm, priority);
  }

  /** {@link FoldEmit.cap} with every check, the look-ups and room to grow; remembers the cap. */
  protected capSlowly(
    name: string,
    mode: CapMode,
    kind: CapKind,
    value: number,
    scope: string,
    realm: string | undefined,
    priority: number | undefined,
  ): void {
    if (!this.emitting) throw closedWriter();
    this.emitSlow = true;
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
    const system = this.emitSystem;
    let seen = this.emittedCaps[row];
    if (seen === undefined) {
      const capRow = new CapRow(rank, kind === "max", value, rowPriority, system);
      seen = new EmittedCap(name, mode, kind, scope, realm, priority, dimension, layer, capRow);
      this.emittedCaps[row] = seen;
    } else {
      seen.name = name;
      seen.mode = mode;
      seen.kind = kind;
      seen.scope = scope;
      seen.realm = realm;
      seen.priority = priority;
      seen.dimension = dimension;
      seen.layer = layer;
      const capRow = seen.row;
      capRow.rank = rank;
      capRow.isMax = kind === "max";
      capRow.value = value;
      capRow.priority = rowPriority;
    }
    // `endEmit` puts the row in place (with its system, dimension and layer) as for the fast path.
    this.capCount = row + 1;
  }

  protected rejectCap(
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
    return this.rejectEmit(() => this.validator.validateCap(cap, system, index), {
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
    this.rejectUnless(() => this.validator.validateContext({ [key]: pack }, system));
    const copy: MutablePack = {
      additive_percent: pack.additive_percent ?? 0,
      multipliers: pack.multipliers === undefined ? [] : [...pack.multipliers],
      post_add: pack.post_add ?? 0,
    };
    this.emitContexts ??= [];
    this.emitContexts.push([key, copy]);
  }

  protected rejectUnless(validate: () => void): void {
    try {
      validate();
    } catch (error) {
      this.emitError ??= error;
      throw error;
    }
  }
}
