// A chunk of actors as the calling thread posts it to a batch worker: columns instead of 128
// objects. Structured clone writes every object's ten keys again (half of the calling thread's
// work per chunk); here the strings go as one string with their lengths, the numbers in one
// Float64Array, and `subsystems` and `data` as arrays of the same references, so what the actors
// share (a subsystem list, a data object) crosses once, as it does in an object clone.

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

/** Per actor: `id`, `name`, `race` (3 lengths) and the five numbers. */
const STRINGS = 3;
const NUMBERS = 5;

/** A chunk of actors packed by {@link packActors}. */
export interface PackedActors {
  /** Every actor's id, name and race, one after another. */
  readonly text: string;
  /** Their lengths, three per actor. */
  readonly lengths: Int32Array;
  /** lifespan, age, created_at, updated_at, version, five per actor. */
  readonly numbers: Float64Array;
  readonly subsystems: readonly (readonly string[])[];
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

/**
 * Packs `actors` (already validated: a string id, an integer version, an array of subsystems), or
 * returns undefined when one of them has another shape (extra keys, another key order, a name that
 * is not a string…): the chunk then goes as objects.
 */
export function packActors(actors: readonly Actor[]): PackedActors | undefined {
  const n = actors.length;
  const text: string[] = new Array(STRINGS * n);
  const lengths = new Int32Array(STRINGS * n);
  const numbers = new Float64Array(NUMBERS * n);
  const subsystems: (readonly string[])[] = new Array(n);
  const data: Actor["data"][] = new Array(n);
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
    text[STRINGS * k] = id;
    text[STRINGS * k + 1] = name;
    text[STRINGS * k + 2] = race;
    lengths[STRINGS * k] = id.length;
    lengths[STRINGS * k + 1] = name.length;
    lengths[STRINGS * k + 2] = race.length;
    numbers[NUMBERS * k] = lifespan;
    numbers[NUMBERS * k + 1] = age;
    numbers[NUMBERS * k + 2] = created_at;
    numbers[NUMBERS * k + 3] = updated_at;
    numbers[NUMBERS * k + 4] = version;
    subsystems[k] = actor.subsystems;
    data[k] = actor.data;
  }
  return { text: text.join(""), lengths, numbers, subsystems, data };
}

/** The actors of a packed chunk (in the worker), as plain objects with the keys in order. */
export function unpackActors(packed: PackedActors): Actor[] {
  const { text, lengths, numbers, subsystems, data } = packed;
  const actors: Actor[] = new Array(subsystems.length);
  let at = 0;
  const next = (k: number): string => {
    const end = at + (lengths[k] as number);
    const value = text.slice(at, end);
    at = end;
    return value;
  };
  for (let k = 0; k < actors.length; k++) {
    const id = next(STRINGS * k);
    const name = next(STRINGS * k + 1);
    const race = next(STRINGS * k + 2);
    actors[k] = {
      id,
      name,
      race,
      lifespan: numbers[NUMBERS * k] as number,
      age: numbers[NUMBERS * k + 1] as number,
      created_at: numbers[NUMBERS * k + 2] as number,
      updated_at: numbers[NUMBERS * k + 3] as number,
      version: numbers[NUMBERS * k + 4] as number,
      subsystems: subsystems[k] as readonly string[],
      data: data[k] as Actor["data"],
    };
  }
  return actors;
}

/** A chunk's actors as the worker receives them: packed, or objects when they did not pack. */
export function actorsOf(sent: PackedActors | readonly Actor[]): readonly Actor[] {
  return Array.isArray(sent) ? (sent as readonly Actor[]) : unpackActors(sent as PackedActors);
}
