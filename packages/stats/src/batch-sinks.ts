// Where a pooled batch's outcomes go: one result per actor (`resolveBatch`), or one compact batch
// that keeps each chunk as it arrived (`resolveBatchCompact`). Classes rather than object literals
// of closures, for the reason `batch-run.ts` gives.
import type { BatchResult } from "./aggregator-api.js";
import { DecodedOutcomes, type EncodedOutcomes, errorOf } from "./batch-protocol.js";
import { type BatchHost, type BatchSink, failure } from "./batch-run.js";
import { CompactBatch } from "./compact-batch.js";
import type { SharedBytes } from "./shared-bytes.js";
import type { Actor, StatValues } from "./types.js";

const NO_ACTORS: readonly Actor[] = [];

/** One result per actor, in order, each snapshot made as its chunk arrives (and cached in L1). */
export class ResultsSink implements BatchSink<BatchResult[]> {
  #actors: readonly Actor[];
  #results: BatchResult[];
  readonly #host: BatchHost;
  readonly #lazy: boolean;

  constructor(actors: readonly Actor[], host: BatchHost, lazy: boolean) {
    this.#actors = actors;
    this.#results = new Array(actors.length);
    this.#host = host;
    this.#lazy = lazy;
  }

  settle(i: number, result: BatchResult): void {
    this.#results[i] = result;
  }

  shared(): boolean {
    return false;
  }

  chunk(indexes: readonly number[], outcomes: EncodedOutcomes, token: object): void {
    const host = this.#host;
    const actors = this.#actors;
    const results = this.#results;
    const decoded = new DecodedOutcomes(outcomes, host.defaultBounds);
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k] as number;
      const actor = actors[i] as Actor;
      const extras = outcomes.extras[k];
      if (extras?.error !== undefined) results[i] = failure(actor.id, errorOf(extras.error));
      else if (this.#lazy) {
        results[i] = {
          actorId: actor.id,
          snapshot: host.acceptPooled(actor, decoded, k, extras?.failed, token),
        };
      } else {
        const values = decoded.values(k) as StatValues;
        results[i] = {
          actorId: actor.id,
          snapshot: host.accept(actor, values, extras?.failed, token),
        };
      }
    }
  }

  finish(): BatchResult[] {
    return this.#results;
  }

  release(): void {
    this.#actors = NO_ACTORS;
    this.#results = [];
  }
}

/**
 * One {@link CompactBatch}: each chunk the workers answer is kept as it arrived (its typed arrays
 * moved, not copied), with a few numbers per actor; no snapshot, result object or L1 entry per
 * actor unless `cache` asks for L1 entries. Values come back in shared memory while `budget` has
 * room (see {@link SharedBytes}).
 */
export class CompactSink implements BatchSink<CompactBatch> {
  #actors: readonly Actor[];
  #batch: CompactBatch;
  readonly #host: BatchHost;
  readonly #cache: boolean;
  readonly #budget: SharedBytes;
  /** Shared bytes charged to the budget for this batch. */
  charged = 0;

  constructor(actors: readonly Actor[], host: BatchHost, cache: boolean, budget: SharedBytes) {
    this.#actors = actors;
    this.#batch = new CompactBatch(actors.length, host.defaultBounds);
    this.#host = host;
    this.#cache = cache;
    this.#budget = budget;
  }

  settle(i: number, result: BatchResult): void {
    this.#batch.hold(i, result);
  }

  shared(): boolean {
    return this.#budget.available;
  }

  chunk(indexes: readonly number[], outcomes: EncodedOutcomes, token: object): void {
    if (outcomes.values.buffer instanceof SharedArrayBuffer) {
      const bytes = outcomes.values.byteLength + outcomes.layout.byteLength;
      this.charged += bytes;
      this.#budget.charge(bytes);
    }
    const host = this.#host;
    const actors = this.#actors;
    const batch = this.#batch;
    const ids: string[] = new Array(indexes.length);
    const versions: number[] = new Array(indexes.length);
    for (let k = 0; k < indexes.length; k++) {
      const actor = actors[indexes[k] as number] as Actor;
      ids[k] = actor.id;
      versions[k] = actor.version;
    }
    const epoch = host.epochOf(token);
    const decoded = batch.addChunk(
      indexes,
      ids,
      versions,
      outcomes,
      epoch,
      host.now(),
      this.#cache,
    );
    if (decoded === undefined) return;
    for (let k = 0; k < indexes.length; k++) {
      const extras = outcomes.extras[k];
      if (extras?.error !== undefined) continue;
      const i = indexes[k] as number;
      const actor = actors[i] as Actor;
      const snapshot = host.acceptPooled(actor, decoded, k, extras?.failed, token);
      batch.hold(i, { actorId: actor.id, snapshot });
    }
  }

  finish(): CompactBatch {
    this.#budget.holdUntilCollected(this.#batch, this.charged);
    return this.#batch;
  }

  release(): void {
    this.#actors = NO_ACTORS;
    this.#batch = EMPTY_BATCH;
  }
}

/** What a released compact sink points at: a batch of no actors. */
const EMPTY_BATCH = new CompactBatch(0, () => undefined);
