import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import {
  type CommitResult,
  closedError,
  compareKeys,
  type Expectation,
  invalidArgument,
  keyInRange,
  type ListOptions,
  resolveListRange,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  validateCommit,
  validateKey,
  validateKeys,
} from "@troupe/core";

/** Options of {@link createJsonFileStore}. */
export interface JsonFileStoreOptions {
  /** The JSON file holding the data; created on the first commit. */
  readonly path: string;
}

/** What the file holds: the last version given out, and every key with its value and version. */
interface FileData {
  lastVersion: number;
  entries: Record<string, { value: string; version: number }>;
}

function readData(path: string): FileData {
  if (!existsSync(path)) return { lastVersion: 0, entries: {} };
  return JSON.parse(readFileSync(path, "utf8")) as FileData;
}

/** Writes the whole file to a temporary name, then renames it: a crash leaves the old or the new. */
function writeData(path: string, data: FileData): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(data));
  renameSync(temporary, path);
}

const toEntry = (key: string, stored: { value: string; version: number }): StoreEntry => ({
  key,
  value: new Uint8Array(Buffer.from(stored.value, "base64")),
  version: stored.version,
});

/**
 * A Troupe `Store` on one JSON file. Every call reads the file and every commit rewrites it, with
 * no `await` between the read and the write, so handles on the same file in one process see each
 * other's commits and guarded commits have exactly one winner. Not for several processes (there
 * is no file lock) and not for large data: it shows the contract, not a production engine.
 */
export function createJsonFileStore(options: JsonFileStoreOptions): Store {
  if (typeof options?.path !== "string" || options.path === "") {
    throw invalidArgument("path", "expected the path of a JSON file");
  }
  const { path } = options;
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError(`json-file store ${path}`);
  };

  return {
    name: "json-file",

    async get(key) {
      ensureOpen();
      validateKey(key);
      const stored = readData(path).entries[key];
      return stored && toEntry(key, stored);
    },

    async getMany(keys) {
      ensureOpen();
      validateKeys(keys);
      // One read of the file: every entry comes from the same instant.
      const { entries } = readData(path);
      return keys.map((key) => {
        const stored = entries[key];
        return stored && toEntry(key, stored);
      });
    },

    async list(listOptions: ListOptions = {}) {
      ensureOpen();
      const range = resolveListRange(listOptions);
      if (range.empty) return [];
      const { entries } = readData(path);
      const keys = Object.keys(entries)
        .filter((key) => keyInRange(key, range))
        .sort(compareKeys);
      if (range.reverse) keys.reverse();
      return keys
        .slice(0, range.limit ?? keys.length)
        .map((key) => toEntry(key, entries[key] as { value: string; version: number }));
    },

    async commit(ops: readonly StoreOp[]): Promise<CommitResult> {
      ensureOpen();
      validateCommit(ops);
      const data = readData(path);
      // Every guard is checked against the state before the commit; the first failure aborts it.
      for (const op of ops) {
        if (op.expect === undefined) continue;
        const actual: Expectation = data.entries[op.key]?.version ?? "absent";
        if (actual !== op.expect) throw new StoreConflictError(op.key, op.expect, actual);
      }
      if (!ops.some((op) => op.type !== "check")) return { version: 0 };
      // Versions only grow, across deletes and reopens: the last one is kept in the file.
      const version = data.lastVersion + 1;
      data.lastVersion = version;
      for (const op of ops) {
        if (op.type === "set") {
          data.entries[op.key] = { value: Buffer.from(op.value).toString("base64"), version };
        } else if (op.type === "delete") {
          delete data.entries[op.key];
        }
      }
      writeData(path, data);
      return { version };
    },

    async close() {
      closed = true;
    },
  };
}
