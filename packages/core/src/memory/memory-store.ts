import { closedError, StoreConflictError } from "../errors.js";
import { compareKeys, validateKey, validateKeys } from "../keys.js";
import {
  type CommitResult,
  type Expectation,
  keyInRange,
  type ListOptions,
  resolveListRange,
  type Store,
  type StoreEntry,
  type StoreOp,
  validateCommit,
} from "../store.js";

/**
 * A {@link Store} in process memory: for tests, examples and single-process caches. Nothing
 * survives the process. Keys are kept in a sorted array, so a write costs O(n) moves and a range
 * read O(log n + k).
 */
export function createMemoryStore(): Store {
  const entries = new Map<string, StoreEntry>();
  const sorted: string[] = [];
  let lastVersion = 0;
  let closed = false;

  const lowerBound = (key: string) => {
    let low = 0;
    let high = sorted.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareKeys(sorted[mid] as string, key) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  const ensureOpen = () => {
    if (closed) throw closedError("memory store");
  };
  const copy = (entry: StoreEntry): StoreEntry => ({ ...entry, value: entry.value.slice() });
  const actual = (key: string): Expectation => entries.get(key)?.version ?? "absent";

  return {
    name: "memory",
    async get(key) {
      ensureOpen();
      validateKey(key);
      const entry = entries.get(key);
      return entry && copy(entry);
    },
    async getMany(keys) {
      ensureOpen();
      validateKeys(keys);
      return keys.map((key) => {
        const entry = entries.get(key);
        return entry && copy(entry);
      });
    },
    async list(options: ListOptions = {}) {
      ensureOpen();
      const range = resolveListRange(options);
      if (range.empty) return [];
      const first = range.from === undefined ? 0 : lowerBound(range.from);
      const last = range.to === undefined ? sorted.length : lowerBound(range.to);
      const out: StoreEntry[] = [];
      const limit = range.limit ?? Number.POSITIVE_INFINITY;
      if (range.reverse) {
        for (let i = last - 1; i >= first && out.length < limit; i--) {
          out.push(copy(entries.get(sorted[i] as string) as StoreEntry));
        }
      } else {
        for (let i = first; i < last && out.length < limit; i++) {
          out.push(copy(entries.get(sorted[i] as string) as StoreEntry));
        }
      }
      return out.filter((entry) => keyInRange(entry.key, range));
    },
    async commit(ops: readonly StoreOp[]): Promise<CommitResult> {
      ensureOpen();
      validateCommit(ops);
      for (const op of ops) {
        if (op.expect === undefined) continue;
        const current = actual(op.key);
        if (current !== op.expect) throw new StoreConflictError(op.key, op.expect, current);
      }
      if (!ops.some((op) => op.type !== "check")) return { version: 0 };
      const version = ++lastVersion;
      for (const op of ops) {
        if (op.type === "set") {
          if (!entries.has(op.key)) sorted.splice(lowerBound(op.key), 0, op.key);
          entries.set(op.key, { key: op.key, value: op.value.slice(), version });
        } else if (op.type === "delete" && entries.delete(op.key)) {
          sorted.splice(lowerBound(op.key), 1);
        }
      }
      return { version };
    },
    async close() {
      closed = true;
    },
  };
}
