// The opt-in form of a pooled batch's snapshots (`workers.snapshots: "lazy"`): a small object over
// its chunk's packed values, whose maps are built on first read. 100,000 snapshots as trees of
// objects are ~100 MB the calling thread's young-generation collector must copy while the batch
// arrives; over the chunk's Float64Array (outside the V8 heap) they are a few MB.
import type { DecodedOutcomes } from "./batch-protocol.js";
import type { CapBounds, Snapshot, StatValues } from "./types.js";

/**
 * A {@link Snapshot} whose `primary`, `derived`, `caps_used` and `context` are read from its
 * chunk's packed values the first time one of them is read (then kept, and the chunk let go).
 * The values are the ones the object form holds, bit for bit, and `JSON.stringify` writes the
 * same text (same keys, same order). What differs: those four are getters on the prototype, so
 * `Object.keys`, spread and structural equality see only `actor_id`, `version`, `epoch`,
 * `created_at` (and `failed_systems`); read fields by name, or copy with {@link plainSnapshot}.
 * (It is a `Snapshot` except that `context` reads `undefined` where the object form has no key.)
 */
export class PooledSnapshot {
  readonly actor_id: string;
  readonly version: number;
  readonly epoch: number;
  readonly created_at: number;
  declare readonly failed_systems?: readonly string[];
  #chunk: DecodedOutcomes | undefined;
  #k: number;
  #values: StatValues | undefined;

  constructor(
    actorId: string,
    version: number,
    epoch: number,
    createdAt: number,
    chunk: DecodedOutcomes,
    k: number,
    failed: readonly string[] | undefined,
  ) {
    this.actor_id = actorId;
    this.version = version;
    this.epoch = epoch;
    this.created_at = createdAt;
    if (failed !== undefined) {
      (this as { failed_systems?: readonly string[] }).failed_systems = failed;
    }
    this.#chunk = chunk;
    this.#k = k;
  }

  #read(): StatValues {
    let values = this.#values;
    if (values === undefined) {
      values = (this.#chunk as DecodedOutcomes).values(this.#k) as StatValues;
      this.#values = values;
      this.#chunk = undefined;
    }
    return values;
  }

  get primary(): Readonly<Record<string, number>> {
    return this.#read().primary;
  }

  get derived(): Readonly<Record<string, number>> {
    return this.#read().derived;
  }

  get caps_used(): Readonly<Record<string, CapBounds>> {
    return this.#read().caps_used;
  }

  get context(): StatValues["context"] {
    return this.#read().context;
  }

  /** The object form, as `JSON.stringify` writes it. */
  toJSON(): Snapshot {
    return plainSnapshot(this as unknown as Snapshot);
  }
}

/** A snapshot as a plain object (the object form's keys, in its order). */
export function plainSnapshot(snapshot: Snapshot): Snapshot {
  const plain = {
    actor_id: snapshot.actor_id,
    version: snapshot.version,
    epoch: snapshot.epoch,
    created_at: snapshot.created_at,
    primary: snapshot.primary,
    derived: snapshot.derived,
    caps_used: snapshot.caps_used,
  };
  const { context, failed_systems } = snapshot;
  if (context === undefined && failed_systems === undefined) return plain;
  return {
    ...plain,
    ...(context === undefined ? {} : { context }),
    ...(failed_systems === undefined ? {} : { failed_systems }),
  };
}
