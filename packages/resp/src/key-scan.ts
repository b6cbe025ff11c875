import { compareKeys, jsonCodec, keySuccessor, type Store } from "@troupe/core";
import { globMatch } from "./glob-match.js";
import { isKeyState, liveState } from "./key-state.js";

/** One page of {@link scanKeys}. */
export interface ScanPage {
  /** Live keys on the page that match. */
  readonly keys: string[];
  /** The last key looked at (resume after it), or undefined when the scan is complete. */
  readonly after: string | undefined;
}

/** What {@link scanKeys} reads. */
export interface ScanOptions {
  /** The Store the key actors save their state in. */
  readonly store: Store;
  /** The Store key prefix of key states, e.g. `actors/state/RespKey/`. */
  readonly prefix: string;
  /** Resume after this key (exclusive); undefined: from the start. */
  readonly after: string | undefined;
  /** How many stored keys to look at. */
  readonly count: number;
  /** Only keys matching this glob. */
  readonly match: string | undefined;
  /** Only keys of this type (`string`, `hash`, `list`, `set`). */
  readonly type: string | undefined;
  /** The time, to leave expired keys out. */
  readonly now: number;
  /**
   * Keys active on this node, whose in-memory state is newer than the saved one (a write is
   * saved within the key actor's save delay); undefined: trust the Store alone.
   */
  readonly active?: ActiveKeys;
}

/** This node's active keys and their current type (`none` when deleted or expired). */
export interface ActiveKeys {
  /** Every key active on this node. */
  keys(): Iterable<string>;
  /** The key's type now, read from its actor. */
  typeOf(key: string): Promise<string>;
}

/**
 * Reads a page of Redis keys from the saved states of the key actors: the Store keeps them in
 * key order under one prefix, so the states are the key index. Deleted and expired keys (a saved
 * `none` state, or one past its expiry) are left out. Keys active on this node are read from their
 * actors, so a write not saved yet counts; one on another node of a cluster is seen once saved
 * (within the save delay).
 */
export async function scanKeys(options: ScanOptions): Promise<ScanPage> {
  const { store, prefix, count } = options;
  const start = options.after === undefined ? undefined : keySuccessor(`${prefix}${options.after}`);
  const entries = await store.list({
    prefix,
    ...(start === undefined ? {} : { start }),
    limit: count,
  });
  const last = entries[entries.length - 1];
  const complete = entries.length < count || last === undefined;
  const after = complete ? undefined : last.key.slice(prefix.length);
  // Each key's type: from its saved state, or from its actor when it is active here.
  const types = new Map<string, string | Promise<string>>();
  for (const entry of entries) {
    let state: unknown;
    try {
      state = jsonCodec.decode(entry.value);
    } catch {
      continue;
    }
    if (isKeyState(state))
      types.set(entry.key.slice(prefix.length), liveState(state, options.now).t);
  }
  if (options.active !== undefined) {
    for (const key of options.active.keys()) {
      const inPage =
        (options.after === undefined || compareKeys(key, options.after) > 0) &&
        (after === undefined || compareKeys(key, after) <= 0);
      if (inPage) types.set(key, options.active.typeOf(key));
    }
  }
  const keys: string[] = [];
  for (const [key, type] of types) {
    if (options.match !== undefined && !globMatch(options.match, key)) continue;
    const current = await type;
    if (current === "none") continue;
    if (options.type !== undefined && current !== options.type) continue;
    keys.push(key);
  }
  keys.sort(compareKeys);
  return { keys, after };
}
