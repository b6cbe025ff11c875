// What crosses between the calling thread and a batch worker: a chunk of actors with the
// registry and the expected subsystem set, and per actor its values or its error.
import { TroupeError } from "@troupe/core";
import type { PackedActors } from "./actor-pack.js";
import type { FailurePolicy } from "./aggregator-api.js";
import type { Subsystem } from "./subsystems.js";
import type { Actor, CapBounds, StatValues } from "./types.js";

/** One chunk of a batch, as a worker receives it. */
export interface WorkerChunk {
  /** The subsystems module (a file URL) the worker imports. */
  readonly module: string;
  /** Changes with every registry or subsystem change (epoch and fingerprint). */
  readonly registryKey: string;
  /**
   * The combiner and layer registries, `strict` and `defaultRule`, serialised with `node:v8` (which
   * keeps −0, unlike JSON); read once per key.
   */
  readonly registry: Uint8Array;
  /** The calling thread's subsystem set (see {@link subsystemSignature}). */
  readonly signature: string;
  readonly failurePolicy: FailurePolicy;
  /** The chunk's actors as columns ({@link PackedActors}), or as objects when they do not pack. */
  readonly actors: PackedActors | readonly Actor[];
  /**
   * Pack the answer's values in a SharedArrayBuffer (a compact batch keeps them): V8 counts a
   * transferred ArrayBuffer as external memory of the calling thread and starts full collections
   * as a batch's values pile up there, but does not count shared memory.
   */
  readonly shared?: boolean;
}

/** What an actor's values do not hold: its context packs, failed systems, or its error. */
export interface OutcomeExtras {
  readonly context?: StatValues["context"];
  readonly failed?: readonly string[];
  readonly error?: {
    readonly name: string;
    readonly message: string;
    readonly code: string | undefined;
    readonly details: Readonly<Record<string, unknown>> | undefined;
  };
}

/**
 * A chunk's outcomes, packed: structured clone turned the snapshots' maps into new objects at
 * ~19 µs per actor on the calling thread, while numbers in one typed array and the key lists
 * once per chunk cost next to nothing. Per actor `k`, `layout[4k..4k+3]` holds the offset of its
 * values and the indexes of its primary, derived and `caps_used` key lists (-1: an error); its
 * values are the primary ones, the derived ones, then each bound's min and max.
 */
export interface EncodedOutcomes {
  readonly values: Float64Array;
  readonly layout: Int32Array;
  readonly keyLists: readonly (readonly string[])[];
  /** Per actor, only where there is something. */
  readonly extras: readonly (OutcomeExtras | undefined)[];
}

/**
 * A worker's answer: the chunk's outcomes, its own subsystem set when it differs, or the error
 * that stopped the whole chunk (its subsystems module failed to load, say).
 */
export interface WorkerChunkResult {
  readonly mismatch?: string;
  readonly outcomes?: EncodedOutcomes;
  readonly failure?: NonNullable<OutcomeExtras["error"]>;
}

/** The error an outcome carries, as an `Error` again (a `TroupeError` when it had a code). */
export function errorOf(sent: NonNullable<OutcomeExtras["error"]>): Error {
  const { name, message, code, details } = sent;
  if (code !== undefined) {
    return new TroupeError(code, message, details === undefined ? {} : { details });
  }
  const error = new Error(message);
  error.name = name;
  return error;
}

/** One actor's outcome as {@link encodeOutcomes} takes it. */
export type Outcome =
  | { readonly values: StatValues; readonly failed?: readonly string[]; readonly error?: undefined }
  | { readonly error: NonNullable<OutcomeExtras["error"]> };

type Write = (map: object, values: Float64Array, at: number) => void;
type Read = (
  values: Float64Array,
  at: number,
  defaults: readonly (CapBounds | undefined)[],
) => Record<string, unknown>;

/** How many key lists get code of their own (per thread); more fall back to plain loops. */
const MAX_COMPILED = 256;
let codegen = true;
const writers = new Map<string, Write | undefined>();
const readers = new Map<string, Read | undefined>();

/**
 * Code for one key list (names are validated dimension names, quoted again): property reads and
 * an object literal with the keys written out, instead of keyed loads and stores, which cost
 * more than a whole resolve (~4 µs an actor each way).
 */
function compiled<T>(cache: Map<string, T | undefined>, key: string, source: () => string[]) {
  if (cache.has(key)) return cache.get(key);
  let made: T | undefined;
  if (codegen && cache.size < MAX_COMPILED) {
    try {
      made = new Function(...source()) as T;
    } catch {
      // Code generation from strings is disabled (--disallow-code-generation-from-strings).
      codegen = false;
    }
  }
  if (cache.size < MAX_COMPILED) cache.set(key, made);
  return made;
}

function writerOf(keys: readonly string[], bounds: boolean): Write | undefined {
  return compiled(writers, `${bounds ? "b" : "v"}:${keys.join(",")}`, () => [
    "m",
    "V",
    "o",
    `"use strict"; ${keys
      .map((name, i) =>
        bounds
          ? `V[o + ${2 * i}] = m[${JSON.stringify(name)}].min; V[o + ${2 * i + 1}] = m[${JSON.stringify(name)}].max;`
          : `V[o + ${i}] = m[${JSON.stringify(name)}];`,
      )
      .join(" ")}`,
  ]);
}

/**
 * Bounds equal to a dimension's clamp (`===`, as the fold decides) are its shared default bounds
 * object, as in a snapshot made on the calling thread: fewer objects for its collector to move.
 */
function boundsSource(i: number): string {
  const min = `V[o + ${2 * i}]`;
  const max = `V[o + ${2 * i + 1}]`;
  return `(D[${i}] !== undefined && ${min} === D[${i}].min && ${max} === D[${i}].max ? D[${i}] : { min: ${min}, max: ${max} })`;
}

function readerOf(keys: readonly string[], bounds: boolean): Read | undefined {
  return compiled(readers, `${bounds ? "b" : "v"}:${keys.join(",")}`, () => [
    "V",
    "o",
    "D",
    `"use strict"; return { ${keys
      .map((name, i) =>
        bounds
          ? `${JSON.stringify(name)}: ${boundsSource(i)}`
          : `${JSON.stringify(name)}: V[o + ${i}]`,
      )
      .join(", ")} };`,
  ]);
}

function writeSlowly(
  keys: readonly string[],
  bounds: boolean,
  map: object,
  values: Float64Array,
  at: number,
) {
  const record = map as Record<string, number & CapBounds>;
  for (let i = 0; i < keys.length; i++) {
    const value = record[keys[i] as string] as number & CapBounds;
    if (bounds) {
      values[at + 2 * i] = value.min;
      values[at + 2 * i + 1] = value.max;
    } else values[at + i] = value;
  }
}

function readSlowly(
  keys: readonly string[],
  bounds: boolean,
  values: Float64Array,
  at: number,
  defaults: readonly (CapBounds | undefined)[],
) {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < keys.length; i++) {
    if (!bounds) {
      out[keys[i] as string] = values[at + i];
      continue;
    }
    const min = values[at + 2 * i] as number;
    const max = values[at + 2 * i + 1] as number;
    const shared = defaults[i];
    out[keys[i] as string] =
      shared !== undefined && min === shared.min && max === shared.max ? shared : { min, max };
  }
  return out;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Packs a chunk's outcomes (in the worker), in shared memory when `shared` is set. */
export function encodeOutcomes(outcomes: readonly Outcome[], shared = false): EncodedOutcomes {
  const layout = shared
    ? new Int32Array(new SharedArrayBuffer(16 * outcomes.length))
    : new Int32Array(4 * outcomes.length);
  const keyLists: string[][] = [];
  const listIndex = new Map<string, number>();
  const extras: (OutcomeExtras | undefined)[] = new Array(outcomes.length);
  // Consecutive snapshots almost always share their key lists: compare with the last ones first.
  const last = [-1, -1, -1];
  const keysOf = (map: object, slot: number): number => {
    const keys = Object.keys(map);
    const previous = last[slot] as number;
    if (previous >= 0 && sameKeys(keys, keyLists[previous] as string[])) return previous;
    const joined = keys.join(",");
    let index = listIndex.get(joined);
    if (index === undefined) {
      index = keyLists.length;
      keyLists.push(keys);
      listIndex.set(joined, index);
    }
    last[slot] = index;
    return index;
  };
  let size = 0;
  for (let k = 0; k < outcomes.length; k++) {
    const outcome = outcomes[k] as Outcome;
    if (outcome.error !== undefined) {
      layout.set([size, -1, -1, -1], 4 * k);
      extras[k] = { error: outcome.error };
      continue;
    }
    const values = outcome.values;
    const primary = keysOf(values.primary, 0);
    const derived = keysOf(values.derived, 1);
    const caps = keysOf(values.caps_used, 2);
    layout.set([size, primary, derived, caps], 4 * k);
    size +=
      (keyLists[primary] as string[]).length +
      (keyLists[derived] as string[]).length +
      2 * (keyLists[caps] as string[]).length;
    if (values.context !== undefined || outcome.failed !== undefined) {
      extras[k] = {
        ...(values.context === undefined ? {} : { context: values.context }),
        ...(outcome.failed === undefined ? {} : { failed: outcome.failed }),
      };
    }
  }
  const packed = shared
    ? new Float64Array(new SharedArrayBuffer(8 * size))
    : new Float64Array(size);
  // Each list's writer looked up once per chunk (the look-up joins the keys).
  const chunkWriters: (Write | undefined | null)[] = new Array(2 * keyLists.length).fill(null);
  const write = (list: number, bounds: boolean, map: object, at: number): number => {
    const keys = keyLists[list] as string[];
    const slot = 2 * list + (bounds ? 1 : 0);
    let writer = chunkWriters[slot];
    if (writer === null) {
      writer = writerOf(keys, bounds);
      chunkWriters[slot] = writer;
    }
    if (writer !== undefined) writer(map, packed, at);
    else writeSlowly(keys, bounds, map, packed, at);
    return at + (bounds ? 2 : 1) * keys.length;
  };
  for (let k = 0; k < outcomes.length; k++) {
    const outcome = outcomes[k] as Outcome;
    if (outcome.error !== undefined) continue;
    const { primary, derived, caps_used } = outcome.values;
    let at = layout[4 * k] as number;
    at = write(layout[4 * k + 1] as number, false, primary, at);
    at = write(layout[4 * k + 2] as number, false, derived, at);
    write(layout[4 * k + 3] as number, true, caps_used, at);
  }
  return { values: packed, layout, keyLists, extras };
}

/** Unpacks a chunk's outcomes on the calling thread: `values(k)` is undefined for an error. */
export class DecodedOutcomes {
  private readonly readers: ((Read | undefined) | null)[];
  private readonly defaults: (readonly (CapBounds | undefined)[] | undefined)[];
  private static readonly NONE: readonly (CapBounds | undefined)[] = [];

  /** `defaultBounds(name)`: a dimension's shared default bounds (its clamp), if it has them. */
  constructor(
    private readonly encoded: EncodedOutcomes,
    private readonly defaultBounds: (name: string) => CapBounds | undefined,
  ) {
    this.readers = new Array(2 * encoded.keyLists.length).fill(null);
    this.defaults = new Array(encoded.keyLists.length);
  }

  private read(list: number, bounds: boolean, at: number): Record<string, unknown> {
    const slot = 2 * list + (bounds ? 1 : 0);
    let reader = this.readers[slot];
    const keys = this.encoded.keyLists[list] as readonly string[];
    if (reader === null) {
      reader = readerOf(keys, bounds);
      this.readers[slot] = reader;
    }
    let defaults = DecodedOutcomes.NONE;
    if (bounds) {
      defaults = this.defaults[list] ?? keys.map(this.defaultBounds);
      this.defaults[list] = defaults;
    }
    const values = this.encoded.values;
    return reader === undefined
      ? readSlowly(keys, bounds, values, at, defaults)
      : reader(values, at, defaults);
  }

  values(k: number): StatValues | undefined {
    const { layout, keyLists } = this.encoded;
    const primaryList = layout[4 * k + 1] as number;
    if (primaryList < 0) return undefined;
    const derivedList = layout[4 * k + 2] as number;
    let at = layout[4 * k] as number;
    const primary = this.read(primaryList, false, at) as Record<string, number>;
    at += (keyLists[primaryList] as string[]).length;
    const derived = this.read(derivedList, false, at) as Record<string, number>;
    at += (keyLists[derivedList] as string[]).length;
    const caps = this.read(layout[4 * k + 3] as number, true, at) as Record<string, CapBounds>;
    const context = this.encoded.extras[k]?.context;
    return context === undefined
      ? { primary, derived, caps_used: caps }
      : { primary, derived, caps_used: caps, context };
  }
}

/** The subsystem set as ids, priorities, stages and versions (what the L2 fingerprint holds). */
export function subsystemSignature(list: readonly Subsystem[]): string {
  return JSON.stringify(
    list.map((s) => [s.id, s.priority ?? 0, s.stage ?? "primary", s.version ?? 0]),
  );
}
