import { invalidArgument } from "./errors.js";
import {
  distinctLeaseRefs,
  type EnqueueItem,
  type Lease,
  type LeaseRef,
  type Queue,
  validateLeaseOwner,
} from "./queue.js";
import type { CommitResult, Store, StoreOp } from "./store.js";

/** What {@link StorePairedQueue.commitWithStore} takes besides the ops and items. */
export interface PairedCommitOptions {
  /**
   * Items to hand to the caller already leased, so a worker in this process starts on them
   * without a claim round trip. Each item whose id is listed and that this commit creates is
   * stored leased for `leaseMs` (its first attempt) and comes back in
   * {@link PairedCommitResult.leases}; other items are stored waiting as usual.
   */
  readonly lease?: {
    /** Ids of items in `items` to lease to the caller. */
    readonly ids: readonly string[];
    /** How long the leases last, in ms (a positive integer). */
    readonly leaseMs: number;
    /**
     * The worker identity the leases are held under, as `ClaimOptions.owner`: a restarted
     * worker's `releaseOwner` takes them back like claimed ones.
     */
    readonly owner?: string | undefined;
  };
  /**
   * Leases to acknowledge in the same transaction, only if the ops are applied, as `ackMany`
   * would: each lease still held finishes its item and comes back in
   * {@link PairedCommitResult.acked}; a lease no longer held is left alone (no error). Acks apply
   * to items queued before this commit: an item of `items` with an acknowledged item's id is not
   * enqueued by it. How a run's last commit and the acknowledgement of its queue item become one.
   */
  readonly ack?: readonly LeaseRef[];
}

/** The outcome of {@link StorePairedQueue.commitWithStore}. */
export interface PairedCommitResult extends CommitResult {
  /**
   * The leases of the items asked for in {@link PairedCommitOptions.lease} that this commit
   * created, in the order their ids were given. An item already in the queue (dedupe) is not
   * leased; an adapter may also lease none at all (a fallback path), so a caller treats every
   * item without a lease here as waiting for any claimer.
   */
  readonly leases: readonly Lease[];
  /** The leases of {@link PairedCommitOptions.ack} that were held and are now acknowledged. */
  readonly acked: readonly LeaseRef[];
}

/**
 * An optional capability of a {@link Queue} that keeps its items in the same database as a
 * {@link Store}: a Store commit and an enqueue in ONE transaction (one round trip, one durable
 * flush). Engines use it, when {@link pairsWith} says so, to store new work with the state that
 * calls for it; with any other pair of adapters they commit, then enqueue. Adapters that offer
 * it pass `describeStorePairing` from `@troupe/testkit`.
 */
export interface StorePairedQueue extends Queue {
  /** True when {@link commitWithStore} commits on `store`'s data (same database, same keys). */
  pairsWith(store: Store): boolean;
  /**
   * Commits `ops` exactly as the paired store's `commit` would (same guards, same
   * `StoreConflictError`, same versions) and, only if they are applied, enqueues `items` as
   * `enqueueMany` would: both or neither. Items without an id get a new one; an item whose id is
   * already queued is left as it is. With `options.lease`, the listed new items come back leased;
   * with `options.ack`, held leases are acknowledged in the same transaction.
   * Bad input fails with INVALID_ARGUMENT naming the field before anything changes.
   */
  commitWithStore(
    ops: readonly StoreOp[],
    items: readonly EnqueueItem[],
    options?: PairedCommitOptions,
  ): Promise<PairedCommitResult>;
}

/** True when `queue` offers {@link StorePairedQueue.commitWithStore} (for some store). */
export function isStorePairedQueue(queue: Queue): queue is StorePairedQueue {
  const candidate = queue as Partial<StorePairedQueue>;
  return (
    typeof candidate.pairsWith === "function" && typeof candidate.commitWithStore === "function"
  );
}

/** A bound {@link StorePairedQueue.commitWithStore}. */
export type PairedCommit = StorePairedQueue["commitWithStore"];

/**
 * The queue's commit-with-store, bound to it, when the queue pairs with `store`; otherwise
 * undefined, and the caller commits on the store and enqueues after.
 */
export function storePairing(queue: Queue, store: Store): PairedCommit | undefined {
  if (!isStorePairedQueue(queue) || !queue.pairsWith(store)) return undefined;
  return (ops, items, options) => queue.commitWithStore(ops, items, options);
}

/** Validates {@link PairedCommitOptions}. */
export function validatePairedCommitOptions(options: PairedCommitOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null)
    throw invalidArgument("options", "expected an object");
  if (options.ack !== undefined) distinctLeaseRefs(options.ack, "options.ack");
  const lease = options.lease;
  if (lease === undefined) return;
  if (typeof lease !== "object" || lease === null)
    throw invalidArgument("options.lease", "expected { ids, leaseMs }");
  if (!Array.isArray(lease.ids)) throw invalidArgument("options.lease.ids", "expected an array");
  lease.ids.forEach((id: unknown, index) => {
    if (typeof id !== "string" || id.length === 0)
      throw invalidArgument(`options.lease.ids[${index}]`, "expected a non-empty string");
  });
  if (!Number.isInteger(lease.leaseMs) || lease.leaseMs < 1)
    throw invalidArgument(
      "options.lease.leaseMs",
      `expected a positive integer, got ${String(lease.leaseMs)}`,
    );
  if (lease.owner !== undefined) validateLeaseOwner(lease.owner, "options.lease.owner");
}
