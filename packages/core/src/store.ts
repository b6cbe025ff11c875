import { type Expectation, invalidArgument } from "./errors.js";
import { compareKeys, prefixEnd, validateKey } from "./keys.js";

export type { Expectation } from "./errors.js";

/**
 * A version the store gave a write. Versions are positive integers, unique within one store: a
 * commit gets a version greater than that of every commit that completed before it started, and
 * all keys it writes carry it (two commits running at once on different keys may complete in the
 * other order). A key's versions only grow: a key deleted and written again never gets back an
 * old version, so guards are safe from ABA.
 */
export type Version = number;

/** One stored key. */
export interface StoreEntry {
  /** The key. */
  readonly key: string;
  /** The stored bytes. */
  readonly value: Uint8Array;
  /** The version of the commit that last wrote this key. */
  readonly version: Version;
}

/** Writes `value` under `key`, if the guard (when given) holds. */
export interface SetOp {
  readonly type: "set";
  /** The key: a non-empty string of at most 1024 UTF-8 bytes, with no lone surrogates. */
  readonly key: string;
  /** The bytes to store. */
  readonly value: Uint8Array;
  /** Guard: the key's current version, or "absent". Omitted: write unconditionally. */
  readonly expect?: Expectation;
}

/** Deletes `key` (a no-op when absent), if the guard (when given) holds. */
export interface DeleteOp {
  readonly type: "delete";
  /** The key. */
  readonly key: string;
  /** Guard: the key's current version, or "absent". Omitted: delete unconditionally. */
  readonly expect?: Expectation;
}

/** Writes nothing; aborts the commit unless `key` is as expected (a read-set or fencing guard). */
export interface CheckOp {
  readonly type: "check";
  /** The key. */
  readonly key: string;
  /** The version the key must have, or "absent". */
  readonly expect: Expectation;
}

/** One operation of a commit. */
export type StoreOp = SetOp | DeleteOp | CheckOp;

/** What a successful commit returns. */
export interface CommitResult {
  /** The version every key written by this commit now has (0 for a commit with no writes). */
  readonly version: Version;
}

/** Which keys `list` returns. All bounds combine: the result is their intersection. */
export interface ListOptions {
  /** Only keys that start with this. */
  readonly prefix?: string;
  /** Only keys at or after this one (inclusive). */
  readonly start?: string;
  /** Only keys before this one (exclusive). */
  readonly end?: string;
  /** At most this many entries (a positive integer); default: all. */
  readonly limit?: number;
  /** Largest key first. With `limit`, returns the last entries of the range. */
  readonly reverse?: boolean;
}

/**
 * An ordered key-value store with a version per key and atomic, guarded multi-key commits.
 *
 * Keys are ordered by their UTF-8 bytes (see `compareKeys`). Every adapter passes
 * `describeStore` from `@troupe/testkit`; that suite is the precise contract.
 */
export interface Store {
  /** The adapter's name, for logs and errors (`"memory"`, `"sqlite"`, …). */
  readonly name: string;

  /** The entry under `key`, or undefined when absent. */
  get(key: string): Promise<StoreEntry | undefined>;

  /** The entries under `keys`, in the same order (undefined where absent), read at one instant. */
  getMany(keys: readonly string[]): Promise<(StoreEntry | undefined)[]>;

  /** The entries in a key range, in key order (or reverse order), read at one instant. */
  list(options?: ListOptions): Promise<StoreEntry[]>;

  /**
   * The entries of several key ranges: one array per range, in the order given, each exactly
   * what `list` with those options returns. Optional: callers go through {@link listRanges},
   * which lists each range on its own when an adapter leaves this out. An adapter offers it to
   * read the ranges in fewer round trips than one per range; no two ranges need be read at the
   * same instant.
   */
  listMany?(ranges: readonly ListOptions[]): Promise<StoreEntry[][]>;

  /**
   * Applies `ops` atomically: either every op takes effect, or none does. Every guard is checked
   * against the state before the commit; the first failed guard aborts the whole commit with a
   * `StoreConflictError` naming the key. Concurrent commits guarded on the same version have
   * exactly one winner. A key may appear only once per commit. Resolves once the commit is
   * durable, to the degree the adapter documents.
   */
  commit(ops: readonly StoreOp[]): Promise<CommitResult>;

  /** Releases the adapter's resources; later calls fail with code `CLOSED`. Idempotent. */
  close(): Promise<void>;
}

/**
 * The entries of each of `ranges`, as `store.list` gives them: a lone range through `list` (a
 * batch would only cost more), several through the adapter's {@link Store.listMany} when it has
 * one (one round trip), else one `list` per range, in parallel. Bad options fail with
 * INVALID_ARGUMENT either way.
 */
export async function listRanges(
  store: Pick<Store, "list" | "listMany">,
  ranges: readonly ListOptions[],
): Promise<StoreEntry[][]> {
  if (!Array.isArray(ranges)) throw invalidArgument("ranges", "expected an array of list options");
  if (ranges.length === 1) return [await store.list(checkedRange(ranges[0], 0))];
  if (store.listMany) return store.listMany(ranges);
  return Promise.all(ranges.map((range) => store.list(range)));
}

/** `options` when they are list options (or absent), else INVALID_ARGUMENT naming `ranges[index]`. */
function checkedRange(options: ListOptions | undefined, index: number): ListOptions | undefined {
  if (options !== undefined && (typeof options !== "object" || options === null))
    throw invalidArgument(`ranges[${index}]`, "expected list options");
  return options;
}

/** A validated, normalised `list` range: keys `k` with `from <= k < to` (undefined: unbounded). */
export interface KeyRange {
  readonly from: string | undefined;
  readonly to: string | undefined;
  readonly limit: number | undefined;
  readonly reverse: boolean;
  /** True when no key can match (the bounds exclude each other). */
  readonly empty: boolean;
}

/** Validates `list` options and folds `prefix`, `start` and `end` into one range. For adapters. */
export function resolveListRange(options: ListOptions = {}): KeyRange {
  const { prefix, start, end, limit, reverse = false } = options;
  if (prefix !== undefined && prefix !== "") validateKey(prefix, "list.prefix");
  if (start !== undefined) validateKey(start, "list.start");
  if (end !== undefined) validateKey(end, "list.end");
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw invalidArgument("list.limit", `expected a positive integer, got ${limit}`);
  }
  let from = prefix || undefined;
  let to = prefix ? prefixEnd(prefix) : undefined;
  if (start !== undefined && (from === undefined || compareKeys(start, from) > 0)) from = start;
  if (end !== undefined && (to === undefined || compareKeys(end, to) < 0)) to = end;
  const empty = from !== undefined && to !== undefined && compareKeys(from, to) >= 0;
  return { from, to, limit, reverse: reverse === true, empty };
}

/** Validates the options of a `listMany` call, range by range, as `resolveListRange`. For adapters. */
export function resolveListRanges(ranges: readonly ListOptions[]): KeyRange[] {
  if (!Array.isArray(ranges)) throw invalidArgument("ranges", "expected an array of list options");
  return ranges.map((options, index) => resolveListRange(checkedRange(options, index)));
}

/** True when `key` lies in `range` (ignoring limit). */
export function keyInRange(key: string, range: KeyRange): boolean {
  if (range.from !== undefined && compareKeys(key, range.from) < 0) return false;
  if (range.to !== undefined && compareKeys(key, range.to) >= 0) return false;
  return true;
}

function validateExpectation(expect: unknown, field: string): void {
  if (expect === "absent") return;
  if (typeof expect === "number" && Number.isSafeInteger(expect) && expect > 0) return;
  throw invalidArgument(
    field,
    `expected a positive integer version or "absent", got ${String(expect)}`,
  );
}

/**
 * Validates a commit's ops (shape, keys, guards, no key twice) and throws INVALID_ARGUMENT naming
 * the offending op. Adapters call it before touching the engine.
 */
export function validateCommit(ops: readonly StoreOp[]): void {
  if (!Array.isArray(ops)) throw invalidArgument("ops", "expected an array of operations");
  const seen = new Set<string>();
  ops.forEach((op: StoreOp, index) => {
    const at = `ops[${index}]`;
    if (typeof op !== "object" || op === null) throw invalidArgument(at, "expected an operation");
    validateKey(op.key, `${at}.key`);
    if (seen.has(op.key)) {
      throw invalidArgument(
        `${at}.key`,
        `key ${JSON.stringify(op.key)} appears more than once in one commit`,
      );
    }
    seen.add(op.key);
    switch (op.type) {
      case "set":
        if (!(op.value instanceof Uint8Array)) {
          throw invalidArgument(`${at}.value`, "expected a Uint8Array");
        }
        if (op.expect !== undefined) validateExpectation(op.expect, `${at}.expect`);
        break;
      case "delete":
        if (op.expect !== undefined) validateExpectation(op.expect, `${at}.expect`);
        break;
      case "check":
        validateExpectation(op.expect, `${at}.expect`);
        break;
      default:
        throw invalidArgument(
          `${at}.type`,
          `expected "set", "delete" or "check", got ${JSON.stringify((op as { type: unknown }).type)}`,
        );
    }
  });
}
