import {
  fromUtf8,
  type Store,
  StoreConflictError,
  type StoreEntry,
  TroupeError,
  utf8,
} from "@troupe/core";
import { type ActorOutputs, applyOutputChanges, type OutputChange } from "./actor-outputs.js";

/** An actor's outputs as stored, with the Store version that wrote them (the cache key). */
export interface ActorRecord {
  readonly actorId: string;
  readonly version: number;
  readonly outputs: ActorOutputs;
}

const KEY_PREFIX = "stats/actors/";
const MAX_ATTEMPTS = 16;

/** The Store key of `actorId`'s outputs. */
export function recordKey(actorId: string): string {
  return `${KEY_PREFIX}${actorId}`;
}

function decode(entry: StoreEntry): ActorRecord {
  const outputs = JSON.parse(fromUtf8(entry.value)) as ActorOutputs;
  return { actorId: entry.key.slice(KEY_PREFIX.length), version: entry.version, outputs };
}

/** Per-actor outputs in a Store: one key per actor, changed by guarded commits. */
export interface ActorRecords {
  /** The record of `actorId`, or undefined when it holds no outputs. */
  read(actorId: string): Promise<ActorRecord | undefined>;
  /** The records of `actorIds`, in order, read at one instant. */
  readMany(actorIds: readonly string[]): Promise<(ActorRecord | undefined)[]>;
  /**
   * Applies `changes` atomically (retrying when another writer got there first) and returns the
   * new record; an actor left without outputs is deleted (its version is then the commit's).
   */
  change(actorId: string, changes: readonly OutputChange[]): Promise<ActorRecord>;
  /** Actor ids in key order after `after`, at most `limit`. */
  list(limit: number, after?: string): Promise<ActorRecord[]>;
}

/** Stores actor outputs under `stats/actors/<id>`. */
export function createActorRecords(store: Store): ActorRecords {
  return {
    async read(actorId) {
      const entry = await store.get(recordKey(actorId));
      return entry === undefined ? undefined : decode(entry);
    },
    async readMany(actorIds) {
      const entries = await store.getMany(actorIds.map(recordKey));
      return entries.map((entry) => (entry === undefined ? undefined : decode(entry)));
    },
    async change(actorId, changes) {
      const key = recordKey(actorId);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const entry = await store.get(key);
        const current = entry === undefined ? {} : decode(entry).outputs;
        const outputs = applyOutputChanges(current, changes);
        const expect = entry?.version ?? "absent";
        try {
          if (Object.keys(outputs).length === 0) {
            const { version } = await store.commit([{ type: "delete", key, expect }]);
            return { actorId, version, outputs };
          }
          const { version } = await store.commit([
            { type: "set", key, value: utf8(JSON.stringify(outputs)), expect },
          ]);
          return { actorId, version, outputs };
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
        }
      }
      throw new TroupeError(
        "STORE_CONFLICT",
        `actor ${JSON.stringify(actorId)}: ${MAX_ATTEMPTS} concurrent writers in a row won; try again`,
      );
    },
    async list(limit, after) {
      const entries = await store.list({
        prefix: KEY_PREFIX,
        ...(after === undefined ? {} : { start: `${recordKey(after)}\u0000` }),
        limit,
      });
      return entries.map(decode);
    },
  };
}
