// A chunk of actors as the calling thread posts it to a batch worker: columns instead of 128
// objects. Structured clone writes every object's ten keys again (half of the calling thread's
// work per chunk); here the strings go as UTF-16 code units in one Uint16Array, the numbers and
// the strings' lengths in one Float64Array, and `subsystems` and `data` in two lists of the same
// references, so what the actors share (a subsystem list, a data object) crosses once, as it
// does in an object clone. Typed arrays, not a joined string: their memory is outside the heap,
// and a joined string (and its parts) per chunk doubled the young objects a batch leaves.

import type { Actor } from "./types.js";

/** The keys of an actor that packs, in the order it must hold them (the `Actor` interface's). */
const KEYS = [
  "id",
  "name",
  "race",
  "lifespan",
  "age",
  "created_at",
  "updated_at",
  "version",
  "subsystems",
  "data",
] as const;

/**
 * Per actor in `numbers`: the five numbers, the lengths of `id`, `name` and `race`, and where its
 * `subsystems` and its `data` are in their lists.
 */
const SLOTS = 10;

/** A chunk of actors packed by {@link packActors}. */
export interface PackedActors {
  /** lifespan, age, created_at, updated_at, version and the three strings' lengths, per actor. */
  readonly numbers: Float64Array;
  /** Every actor's id, name and race, one after another, as UTF-16 code units. */
  readonly text: Uint16Array;
  /** The actors' subsystem lists, each once where consecutive actors share one. */
  readonly subsystems: readonly (readonly string[])[];
  /** The actors' data objects, likewise. */
  readonly data: readonly Actor["data"][];
}

/**
 * Whether `actor` holds exactly the actor's keys, enumerable and in the interface's order (no
 * others, inherited ones included): then, with strings and numbers where the interface has them,
 * its structured clone and the object {@link unpackActors} builds are the same.
 */
function hasActorKeys(actor: Actor): boolean {
  let at = 0;
  for (const key in actor) if (key !== KEYS[at++]) return false;
  return at === KEYS.length;
}

/** Code units a chunk's text starts with per actor (ids, names and races of ~10 characters). */
const TEXT_PER_ACTOR = 48;

/** Appends `value`'s code units to a growing text buffer. */
class TextWriter {
  text: Uint16Array;
  length = 0;
  constructor(capacity: number) {
    this.text = new Uint16Array(Math.max(16, capacity));
  }
  write(value: string): void {
    const end = this.length + value.length;
    if (end > this.text.length) {
      const grown = new Uint16Array(Math.max(end, 2 * this.text.length));
      grown.set(this.text.subarray(0, this.length));
      this.text = grown;
    }
    const text = this.text;
    for (let i = 0, at = this.length; i < value.length; i++, at++) text[at] = value.charCodeAt(i);
    this.length = end;
  }
}

/**
 * A writer that lives as long as the module: it keeps the map every writer ends up with alive.
 * Writers are per chunk, so a full collection between two batches would otherwise find none left,
 * collect that map, and throw away the optimized code that was specialised to it (`packActors`
 * and `write`), to be compiled again on V8's helper threads during the next batch.
 */
export const textWriterAnchor = new TextWriter(0);

/**
 * Packs `actors` (already validated: a string id, an integer version, an array of subsystems), or
 * returns undefined when one of them has another shape (extra keys, another key order, a name that
 * is not a string…): the chunk then goes as objects. Besides the two reference arrays it puts
 * nothing on the calling thread's heap but two typed arrays (their memory is outside it), so a
 * batch's chunks add next to nothing for its young-generation collector.
 */
export function packActors(actors: readonly Actor[]): PackedActors | undefined {
  const n = actors.length;
  const numbers = new Float64Array(SLOTS * n);
  const writer = new TextWriter(TEXT_PER_ACTOR * n);
  // Consecutive actors often share their subsystem list (and their data): each once in the lists.
  const subsystems: (readonly string[])[] = [];
  const data: Actor["data"][] = [];
  for (let k = 0; k < n; k++) {
    const actor = actors[k] as Actor;
    if (!hasActorKeys(actor)) return undefined;
    // Each field read once, as a clone reads it (a getter runs once).
    const { id, name, race, lifespan, age, created_at, updated_at, version } = actor;
    if (
      typeof id !== "string" ||
      typeof name !== "string" ||
      typeof race !== "string" ||
      typeof lifespan !== "number" ||
      typeof age !== "number" ||
      typeof created_at !== "number" ||
      typeof updated_at !== "number" ||
      typeof version !== "number"
    ) {
      return undefined;
    }
    const at = SLOTS * k;
    numbers[at] = lifespan;
    numbers[at + 1] = age;
    numbers[at + 2] = created_at;
    numbers[at + 3] = updated_at;
    numbers[at + 4] = version;
    numbers[at + 5] = id.length;
    numbers[at + 6] = name.length;
    numbers[at + 7] = race.length;
    writer.write(id);
    writer.write(name);
    writer.write(race);
    const list = actor.subsystems;
    if (subsystems.length === 0 || subsystems[subsystems.length - 1] !== list)
      subsystems.push(list);
    numbers[at + 8] = subsystems.length - 1;
    const values = actor.data;
    if (data.length === 0 || data[data.length - 1] !== values) data.push(values);
    numbers[at + 9] = data.length - 1;
  }
  // A view of the used part: the clone copies the whole buffer, at most half of it unused.
  return { numbers, text: writer.text.subarray(0, writer.length), subsystems, data };
}

/** `text[from, to)` as a string (in slices: `fromCharCode` takes its code units as arguments). */
function readText(text: Uint16Array, from: number, to: number): string {
  let out = "";
  for (let at = from; at < to; at += 8192) {
    out += String.fromCharCode.apply(
      null,
      text.subarray(at, Math.min(to, at + 8192)) as unknown as number[],
    );
  }
  return out;
}

/** The actors of a packed chunk (in the worker), as plain objects with the keys in order. */
export function unpackActors(packed: PackedActors): Actor[] {
  const { numbers, subsystems, data } = packed;
  // The whole text as one string, then each field a slice of it.
  const text = readText(packed.text, 0, packed.text.length);
  const actors: Actor[] = new Array(numbers.length / SLOTS);
  let at = 0;
  for (let k = 0; k < actors.length; k++) {
    const base = SLOTS * k;
    const idEnd = at + (numbers[base + 5] as number);
    const nameEnd = idEnd + (numbers[base + 6] as number);
    const raceEnd = nameEnd + (numbers[base + 7] as number);
    actors[k] = {
      id: text.slice(at, idEnd),
      name: text.slice(idEnd, nameEnd),
      race: text.slice(nameEnd, raceEnd),
      lifespan: numbers[base] as number,
      age: numbers[base + 1] as number,
      created_at: numbers[base + 2] as number,
      updated_at: numbers[base + 3] as number,
      version: numbers[base + 4] as number,
      subsystems: subsystems[numbers[base + 8] as number] as readonly string[],
      data: data[numbers[base + 9] as number] as Actor["data"],
    };
    at = raceEnd;
  }
  return actors;
}

/** A chunk's actors as the worker receives them: packed, or objects when they did not pack. */
export function actorsOf(sent: PackedActors | readonly Actor[]): readonly Actor[] {
  return Array.isArray(sent) ? (sent as readonly Actor[]) : unpackActors(sent as PackedActors);
}
