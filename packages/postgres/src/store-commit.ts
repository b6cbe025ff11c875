import { type CommitResult, StoreConflictError, type StoreOp, TroupeError } from "@troupe/core";
import type pg from "pg";

const KIND: Record<StoreOp["type"], string> = { set: "s", delete: "d", check: "c" };

/** The four array parameters of `store_commit(keys, kinds, values, expects)` for `ops`. */
export function storeCommitArgs(ops: readonly StoreOp[]): unknown[] {
  return [
    ops.map((op) => Buffer.from(op.key, "utf8")),
    ops.map((op) => KIND[op.type]),
    ops.map((op) => (op.type === "set" ? Buffer.from(op.value) : null)),
    ops.map((op) => (op.expect === undefined ? null : op.expect === "absent" ? 0 : op.expect)),
  ];
}

/**
 * What `store_commit` answered (`{version}`, or `{-1, op index, actual version}` for a failed
 * guard) as a commit result; a failed guard throws the `StoreConflictError` naming its key.
 */
export function storeCommitOutcome(
  what: string,
  ops: readonly StoreOp[],
  answer: readonly string[] | undefined,
): CommitResult {
  const [first, index, actual] = (answer ?? []).map(Number);
  if (first === undefined) throw new TroupeError("INTERNAL", `${what}: commit returned nothing`);
  if (first >= 0) return { version: first };
  const op = ops[(index ?? 1) - 1];
  if (!op || op.expect === undefined) {
    throw new TroupeError("INTERNAL", `${what}: commit reported a conflict on no guard`);
  }
  throw new StoreConflictError(op.key, op.expect, actual ? actual : "absent");
}

// Deadlocks cannot happen (locks are taken in one order), but a failed-over or overloaded server
// may still abort a commit with these; the commit rolled back, so running it again is safe.
const RETRYABLE = new Set(["40P01", "40001"]);

/** True when a commit failed with an error after which running it again is safe. */
export function retryableCommitError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && RETRYABLE.has(code);
}

/** Where a PostgreSQL Store keeps its data: the pool it was given, or its URL, and its schema. */
export interface StoreHome {
  readonly connection: string | pg.Pool;
  readonly schema: string;
}

const homes = new WeakMap<object, StoreHome>();

/** Records where `store` (made by `createPostgresStore`) keeps its data. */
export function recordStoreHome(store: object, home: StoreHome): void {
  homes.set(store, home);
}

/** Where `store` keeps its data, when it is a PostgreSQL Store made by this package. */
export function storeHome(store: object): StoreHome | undefined {
  return homes.get(store);
}
