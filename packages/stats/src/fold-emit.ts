// The emitting path: the `StatsWriter` an `emit` subsystem writes into, checked call by call as
// rule R0 checks an output, writing straight into the fold's rows.
import { TroupeError } from "@troupe/core";
import { CapRow, modeRank, validModeAndKind } from "./cap-merge.js";
import { describeValue, type StatsErrorLocation, statsInputError } from "./errors.js";
import { FoldRows } from "./fold-rows.js";
import { bucketCode, CELLS, type MutablePack } from "./row-layout.js";
import type { Bucket, CapKind, CapMode, ModifierPack, StatsWriter } from "./types.js";
import { closedWriter } from "./writer.js";

/** The {@link StatsWriter} of a fold: forwards to the fold's emit methods. */
class FoldWriter implements StatsWriter {
  constructor(private readonly fold: FoldEmit) {}

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

/** The fold's rows with an emitting subsystem's writer on top (see {@link StatFold}). */
export abstract class FoldEmit extends FoldRows {
  // The emitting subsystem's writer and what it wrote so far (see `beginEmit`).
  protected readonly writer: StatsWriter = new FoldWriter(this);
  protected emitSystem = "";
  protected emitItemStart = 0;
  protected emitCapStart = 0;
  protected emitError: unknown;
  protected emitContexts: [string, MutablePack][] | undefined;

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
  protected dimensionAt(row: number, name: unknown, names: unknown[], indexes: Int32Array): number {
    if (names[row] === name) return indexes[row] as number;
    const info = typeof name === "string" ? this.registry.dimension(name) : undefined;
    if (info === undefined) return -1;
    names[row] = name;
    indexes[row] = info.index;
    return info.index;
  }

  /** {@link StatFold.emitContribution} with every check, a name lookup and room to grow. */
  protected emitContributionSlowly(
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
    // The position in its section: rows of this output so far with the same section bit.
    let index = 0;
    for (let row = this.emitItemStart; row < this.itemCount; row++) {
      if (((this.itemKeys[row] as number) & 4) === section) index++;
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
