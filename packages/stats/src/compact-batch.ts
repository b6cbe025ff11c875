// The one-object result of `resolveBatchCompact`: the workers' packed chunks kept as they arrived
// (their Float64Arrays moved, not copied), and per actor a few numbers in typed arrays. No snapshot,
// result object or L1 entry is made per actor while the batch arrives, so the calling thread's
// young-generation collector has next to nothing to copy; snapshots are made on read.
import { invalidArgument } from "@troupe/core";
import type { BatchResult } from "./aggregator-api.js";
import {
  DecodedOutcomes,
  type EncodedOutcomes,
  errorOf,
  type OutcomeExtras,
} from "./batch-protocol.js";
import type { CapBounds, Snapshot, StatValues } from "./types.js";

/** Options of `resolveBatchCompact`. */
export interface CompactBatchOptions {
  /**
   * Also put each worker-computed snapshot in L1 (as a `PooledSnapshot`, as `workers.snapshots:
   * "lazy"` does), so `getCachedSnapshot` and later resolves find it. Default false: L1 is read
   * for hits but not written, which keeps one object per actor off the calling thread.
   */
  readonly cache?: boolean;
}

/** A chunk of outcomes as the batch keeps it: key lists shared with the other chunks. */
interface KeptChunk {
  readonly encoded: EncodedOutcomes;
  readonly epoch: number;
  readonly createdAt: number;
  decoded: DecodedOutcomes | undefined;
}

const NO_EXTRAS: readonly (OutcomeExtras | undefined)[] = [];

/**
 * The result of `resolveBatchCompact`: one object for the whole batch, read by index (the actors'
 * order). `snapshot(i)` builds actor `i`'s snapshot when called (a new object each call, equal bit
 * for bit to what `resolve` gives), and `primary(i, dimension)` / `derived(i, dimension)` read one
 * value without building any.
 */
export class CompactBatch {
  /** Actors in the batch. */
  readonly length: number;
  readonly #ids: string[];
  readonly #versions: Float64Array;
  /** Per actor: its chunk, or -1 when it is held as a result object (`#held`). */
  readonly #chunkOf: Int32Array;
  /** Per actor: its position in its chunk. */
  readonly #slot: Int32Array;
  readonly #chunks: KeptChunk[] = [];
  #held: (BatchResult | undefined)[] | undefined;
  /** Every key list of the batch once: chunks point at these, not at their own copies. */
  readonly #lists = new Map<string, readonly string[]>();
  readonly #lastList: (readonly string[] | undefined)[] = [undefined, undefined, undefined];
  readonly #positions = new Map<readonly string[], Map<string, number>>();
  readonly #defaultBounds: (name: string) => CapBounds | undefined;

  /** @internal Made by the aggregator; `defaultBounds` gives a dimension's shared clamp bounds. */
  constructor(length: number, defaultBounds: (name: string) => CapBounds | undefined) {
    this.length = length;
    this.#ids = new Array<string>(length);
    this.#versions = new Float64Array(length);
    this.#chunkOf = new Int32Array(length).fill(-1);
    this.#slot = new Int32Array(length);
    this.#defaultBounds = defaultBounds;
  }

  #canonical(keys: readonly string[], position: number): readonly string[] {
    const last = this.#lastList[position % 3];
    if (last !== undefined && sameKeys(keys, last)) return last;
    const joined = keys.join(",");
    let list = this.#lists.get(joined);
    if (list === undefined) {
      list = keys;
      this.#lists.set(joined, list);
    }
    this.#lastList[position % 3] = list;
    return list;
  }

  /**
   * @internal Keeps a chunk the workers answered: `indexes[k]` is the batch index of its actor `k`,
   * `ids` and `versions` the actors' own. Returns the chunk's decoder when `decode` is set (for
   * callers that cache its snapshots).
   */
  addChunk(
    indexes: readonly number[],
    ids: readonly string[],
    versions: readonly number[],
    received: EncodedOutcomes,
    epoch: number,
    createdAt: number,
    decode: boolean,
  ): DecodedOutcomes | undefined {
    // The chunk's own copies of the key lists (new strings from the message) die young; the
    // batch keeps one copy of each list.
    const keyLists = received.keyLists.map((keys, position) => this.#canonical(keys, position));
    const extras = received.extras.some((extra) => extra !== undefined)
      ? received.extras
      : NO_EXTRAS;
    const encoded: EncodedOutcomes = {
      values: received.values,
      layout: received.layout,
      keyLists,
      extras,
    };
    const chunk: KeptChunk = { encoded, epoch, createdAt, decoded: undefined };
    const at = this.#chunks.length;
    this.#chunks.push(chunk);
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k] as number;
      this.#ids[i] = ids[k] as string;
      this.#versions[i] = versions[k] as number;
      this.#chunkOf[i] = at;
      this.#slot[i] = k;
    }
    return decode ? this.#decoder(chunk) : undefined;
  }

  /** @internal Holds actor `i`'s result as an object (an L1 hit, an error, a calling-thread resolve). */
  hold(i: number, result: BatchResult): void {
    this.#held ??= new Array<BatchResult | undefined>(this.length);
    this.#held[i] = result;
    this.#ids[i] = result.actorId;
    this.#chunkOf[i] = -1;
    if (result.snapshot !== undefined) this.#versions[i] = result.snapshot.version;
  }

  #decoder(chunk: KeptChunk): DecodedOutcomes {
    chunk.decoded ??= new DecodedOutcomes(chunk.encoded, this.#defaultBounds);
    return chunk.decoded;
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw invalidArgument("index", `expected an integer in [0, ${this.length}), got ${i}`);
    }
  }

  #chunk(i: number): KeptChunk | undefined {
    const at = this.#chunkOf[i] as number;
    return at < 0 ? undefined : this.#chunks[at];
  }

  /** Actor `i`'s id. */
  actorId(i: number): string {
    this.#check(i);
    return this.#ids[i] as string;
  }

  /** Actor `i`'s error (its snapshot is then undefined), or undefined. */
  error(i: number): Error | undefined {
    this.#check(i);
    const chunk = this.#chunk(i);
    if (chunk === undefined) return this.#held?.[i]?.error;
    const sent = chunk.encoded.extras[this.#slot[i] as number]?.error;
    return sent === undefined ? undefined : errorOf(sent);
  }

  /**
   * Actor `i`'s snapshot, built now from the packed values (a new object on every call; keep it
   * if you read it often), or undefined when the actor failed (see {@link error}).
   */
  snapshot(i: number): Snapshot | undefined {
    this.#check(i);
    const chunk = this.#chunk(i);
    if (chunk === undefined) return this.#held?.[i]?.snapshot;
    const k = this.#slot[i] as number;
    const values = this.#decoder(chunk).values(k) as StatValues | undefined;
    if (values === undefined) return undefined;
    const snapshot = {
      actor_id: this.#ids[i] as string,
      version: this.#versions[i] as number,
      epoch: chunk.epoch,
      created_at: chunk.createdAt,
      primary: values.primary,
      derived: values.derived,
      caps_used: values.caps_used,
    };
    const failed = chunk.encoded.extras[k]?.failed;
    if (values.context === undefined && failed === undefined) return snapshot;
    return {
      ...snapshot,
      ...(values.context === undefined ? {} : { context: values.context }),
      ...(failed === undefined ? {} : { failed_systems: [...failed] }),
    };
  }

  /** Actor `i`'s result as `resolveBatch` gives it. */
  result(i: number): BatchResult {
    const actorId = this.actorId(i);
    const snapshot = this.snapshot(i);
    return snapshot === undefined
      ? { actorId, error: this.error(i) as Error }
      : { actorId, snapshot };
  }

  /** Every result as `resolveBatch` gives them: one object per actor, made now. */
  toResults(): BatchResult[] {
    const results = new Array<BatchResult>(this.length);
    for (let i = 0; i < this.length; i++) results[i] = this.result(i);
    return results;
  }

  /** One primary value of actor `i` (undefined when absent or when the actor failed), with no snapshot built. */
  primary(i: number, dimension: string): number | undefined {
    return this.#value(i, dimension, 1);
  }

  /** One derived value of actor `i` (undefined when absent or when the actor failed), with no snapshot built. */
  derived(i: number, dimension: string): number | undefined {
    return this.#value(i, dimension, 2);
  }

  #value(i: number, dimension: string, section: 1 | 2): number | undefined {
    this.#check(i);
    const chunk = this.#chunk(i);
    if (chunk === undefined) {
      const snapshot = this.#held?.[i]?.snapshot;
      const map = section === 1 ? snapshot?.primary : snapshot?.derived;
      return map !== undefined && Object.hasOwn(map, dimension) ? map[dimension] : undefined;
    }
    const { layout, keyLists, values } = chunk.encoded;
    const k = this.#slot[i] as number;
    const primaryList = layout[4 * k + 1] as number;
    if (primaryList < 0) return undefined;
    let at = layout[4 * k] as number;
    if (section === 2) at += (keyLists[primaryList] as readonly string[]).length;
    const keys = keyLists[layout[4 * k + section] as number] as readonly string[];
    const position = this.#positionsOf(keys).get(dimension);
    return position === undefined ? undefined : values[at + position];
  }

  #positionsOf(keys: readonly string[]): Map<string, number> {
    let positions = this.#positions.get(keys);
    if (positions === undefined) {
      positions = new Map(keys.map((name, position) => [name, position]));
      this.#positions.set(keys, positions);
    }
    return positions;
  }
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
