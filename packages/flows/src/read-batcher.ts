import { type ListOptions, listRanges, type Store, type StoreEntry } from "@troupe/core";

/**
 * Reads of the hot path, merged across the runs in flight: a read asked for while none is in
 * flight goes out at once, as it would alone (so one run at a time pays nothing); the `get`s
 * asked for while one is in flight go out together, as ONE `getMany`, when it returns, and so do
 * the callers of one `list` range (or one `listMany` set of ranges). At 50 runs in flight this turns ~3 reads per workflow
 * (matching its event against waits, `waitForRun`'s first look) into a few per group commit.
 *
 * Every read a caller gets starts after the caller asked for it, so it sees every commit that
 * finished before the call, as a read of its own would: an event stored, then matched, still
 * meets every wait committed before the match. Entries of a shared `list` are shared between its
 * callers: read them, do not change their bytes.
 */
export interface ReadBatcher {
  get(key: string): Promise<StoreEntry | undefined>;
  list(options: ListOptions): Promise<StoreEntry[]>;
  /** Several ranges, through the Store's `listMany` (one round trip) when it has one. */
  listMany(ranges: readonly ListOptions[]): Promise<StoreEntry[][]>;
}

interface PendingGet {
  readonly key: string;
  resolve(entry: StoreEntry | undefined): void;
  reject(error: unknown): void;
}

interface PendingList {
  readonly callers: {
    resolve(entries: StoreEntry[][]): void;
    reject(error: unknown): void;
  }[];
}

/** Keys per `getMany` at most. */
const MAX_KEYS = 500;

/** Creates a read batcher over `store`. */
export function createReadBatcher(
  store: Pick<Store, "get" | "getMany" | "list" | "listMany">,
): ReadBatcher {
  const gets: PendingGet[] = [];
  let getting = false;

  const drainGets = async () => {
    while (gets.length > 0) {
      const batch = gets.splice(0, MAX_KEYS);
      try {
        const [only] = batch;
        const entries =
          batch.length === 1 && only
            ? [await store.get(only.key)]
            : await store.getMany(batch.map((pending) => pending.key));
        batch.forEach((pending, index) => {
          pending.resolve(entries[index]);
        });
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    getting = false;
  };

  // Per set of ranges: the read waiting to start (callers join it) and whether one is in flight.
  const lists = new Map<string, { waiting: PendingList | undefined; running: boolean }>();
  const rangesKey = (ranges: readonly ListOptions[]) =>
    JSON.stringify(
      ranges.map((options) => [
        options.prefix,
        options.start,
        options.end,
        options.limit,
        options.reverse === true,
      ]),
    );

  const drainList = async (key: string, ranges: readonly ListOptions[]) => {
    for (;;) {
      const slot = lists.get(key);
      const pending = slot?.waiting;
      if (!slot || !pending) {
        lists.delete(key);
        return;
      }
      slot.waiting = undefined;
      try {
        const listed = await listRanges(store, ranges);
        for (const caller of pending.callers) caller.resolve(listed.map((entries) => [...entries]));
      } catch (error) {
        for (const caller of pending.callers) caller.reject(error);
      }
    }
  };

  const listMany = (ranges: readonly ListOptions[]) =>
    new Promise<StoreEntry[][]>((resolve, reject) => {
      const key = rangesKey(ranges);
      let slot = lists.get(key);
      if (!slot) {
        slot = { waiting: undefined, running: false };
        lists.set(key, slot);
      }
      slot.waiting ??= { callers: [] };
      slot.waiting.callers.push({ resolve, reject });
      if (slot.running) return;
      slot.running = true;
      void drainList(key, ranges);
    });

  return {
    get(key) {
      return new Promise((resolve, reject) => {
        gets.push({ key, resolve, reject });
        if (getting) return;
        getting = true;
        void drainGets();
      });
    },
    async list(options) {
      const [entries = []] = await listMany([options]);
      return entries;
    },
    listMany,
  };
}
