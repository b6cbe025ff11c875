import { fromUtf8, type Store, StoreConflictError, ulid, utf8 } from "@troupe/core";

/**
 * Which data a Store object reaches: a random id kept in the Store itself under {@link HOME_KEY}.
 * Two Store objects (two processes' pools on one PostgreSQL schema, two handles on one memory
 * Store) that read the same id commit to the same data, so one commit may carry writes staged
 * through either. A copy of the data (a restored backup) carries the id along; the guards of the
 * staged writes (the activation's fence) still fail there.
 */
export const HOME_KEY = "troupe/tx/home";

const known = new WeakMap<Store, Promise<string>>();
/** How long "no id in this Store" is believed before it is read again. */
const ABSENT_FOR_MS = 10_000;
const absentUntil = new WeakMap<Store, number>();

/** The id of `store`'s data, written there on first use (read once per Store object). */
export function createdIdentity(store: Store): Promise<string> {
  let id = known.get(store);
  if (id === undefined) {
    id = readOrCreate(store);
    known.set(store, id);
    id.catch(() => known.delete(store));
  }
  return id;
}

/**
 * The id of `store`'s data when one was written (by a coordinator, {@link createdIdentity});
 * undefined when there is none yet. Writes nothing.
 */
export async function existingIdentity(store: Store, now: number): Promise<string | undefined> {
  const id = known.get(store);
  if (id !== undefined) return id;
  if ((absentUntil.get(store) ?? 0) > now) return undefined;
  const entry = await store.get(HOME_KEY);
  if (entry === undefined) {
    absentUntil.set(store, now + ABSENT_FOR_MS);
    return undefined;
  }
  const found = fromUtf8(entry.value);
  known.set(store, Promise.resolve(found));
  return found;
}

async function readOrCreate(store: Store): Promise<string> {
  for (;;) {
    const entry = await store.get(HOME_KEY);
    if (entry !== undefined) return fromUtf8(entry.value);
    try {
      await store.commit([{ type: "set", key: HOME_KEY, value: utf8(ulid()), expect: "absent" }]);
    } catch (error) {
      // Another process wrote it first: read theirs.
      if (!StoreConflictError.isInstance(error)) throw error;
    }
  }
}
