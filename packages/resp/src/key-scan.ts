import { jsonCodec, keySuccessor, type Store } from "@troupe/core";
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
}

/**
 * Reads a page of Redis keys from the saved states of the key actors: the Store keeps them in
 * key order under one prefix, so the states are the key index. Deleted and expired keys (a saved
 * `none` state, or one past its expiry) are left out. A key written in the last save window may
 * not be saved yet and is then missed by a scan already past it, as Redis' SCAN may miss keys
 * added during the scan.
 */
export async function scanKeys(options: ScanOptions): Promise<ScanPage> {
  const { store, prefix, count } = options;
  const start = options.after === undefined ? undefined : keySuccessor(`${prefix}${options.after}`);
  const entries = await store.list({
    prefix,
    ...(start === undefined ? {} : { start }),
    limit: count,
  });
  const keys: string[] = [];
  for (const entry of entries) {
    const key = entry.key.slice(prefix.length);
    if (options.match !== undefined && !globMatch(options.match, key)) continue;
    let state: unknown;
    try {
      state = jsonCodec.decode(entry.value);
    } catch {
      continue;
    }
    if (!isKeyState(state)) continue;
    const live = liveState(state, options.now);
    if (live.t === "none") continue;
    if (options.type !== undefined && live.t !== options.type) continue;
    keys.push(key);
  }
  const last = entries[entries.length - 1];
  return {
    keys,
    after: entries.length < count || last === undefined ? undefined : last.key.slice(prefix.length),
  };
}
