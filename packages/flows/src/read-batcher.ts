import type { ListOptions, Store, StoreEntry } from "@troupe/core";

/**
 * Reads of the hot path, merged the way the commit batcher merges commits: the `get`s asked for
 * in the same event-loop turn (or while another batch is in flight) go out as ONE `getMany`, and
 * the `list`s of one range asked for together share one read. At 50 runs in flight this turns
 * ~3 reads per workflow (matching its event against waits, `waitForRun`'s first look) into a
 * few per group commit.
 *
 * Every read a caller gets starts after the caller asked for it, so it sees every commit that
 * finished before the call, as a read of its own would: an event stored, then matched, still
 * meets every wait committed before the match. Entries of a shared `list` are shared between its
 * callers: read them, do not change their bytes.
 */
export interface ReadBatcher {
  get(key: string): Promise<StoreEntry | undefined>;
  list(options: ListOptions): Promise<StoreEntry[]>;
}

interface PendingGet {
  readonly key: string;
  resolve(entry: StoreEntry | undefined): void;
  reject(error: unknown): void;
}

interface PendingList {
  readonly callers: {
    resolve(entries: StoreEntry[]): void;
    reject(error: unknown): void;
  }[];
}

/** Keys per `getMany` at most. */
const MAX_KEYS = 500;

/** Creates a read batcher over `store`. */
export function createReadBatcher(store: Pick<Store, "getMany" | "list">): ReadBatcher {
  const gets: PendingGet[] = [];
  let getting = false;

  const drainGets = async () => {
    while (gets.length > 0) {
      const batch = gets.splice(0, MAX_KEYS);
      try {
        const entries = await store.getMany(batch.map((pending) => pending.key));
        batch.forEach((pending, index) => {
          pending.resolve(entries[index]);
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    getting = false;
  };

  // Per range: the read waiting to start (callers join it) and whether one is in flight.
  const lists = new Map<string, { waiting: PendingList | undefined; running: boolean }>();
  const rangeKey = (options: ListOptions) =>
    JSON.stringify([
      options.prefix,
      options.start,
      options.end,
      options.limit,
      options.reverse === true,
    ]);

  const drainList = async (key: string, options: ListOptions) => {
    for (;;) {
      const slot = lists.get(key);
      const pending = slot?.waiting;
      if (!slot || !pending) {
        lists.delete(key);
        return;
      }
      slot.waiting = undefined;
      try {
        const entries = await store.list(options);
        for (const caller of pending.callers) caller.resolve([...entries]);
      } catch (error) {
        for (const caller of pending.callers) caller.reject(error);
      }
    }
  };

  return {
    get(key) {
      return new Promise((resolve, reject) => {
        gets.push({ key, resolve, reject });
        if (getting) return;
        getting = true;
        // Let the other reads of this event-loop turn join the first batch.
        setImmediate(() => {
          void drainGets();
        });
      });
    },
    list(options) {
      return new Promise((resolve, reject) => {
        const key = rangeKey(options);
        let slot = lists.get(key);
        if (!slot) {
          slot = { waiting: undefined, running: false };
          lists.set(key, slot);
        }
        slot.waiting ??= { callers: [] };
        slot.waiting.callers.push({ resolve, reject });
        if (slot.running) return;
        slot.running = true;
        setImmediate(() => {
          void drainList(key, options);
        });
      });
    },
  };
}
