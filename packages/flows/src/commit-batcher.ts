import {
  type CommitResult,
  type EnqueueItem,
  type Lease,
  type LeaseRef,
  type PairedCommit,
  type Store,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";

/** What a {@link CommitBatcher} commit carries besides Store ops (only with a paired queue). */
export interface BatchedCommitExtras {
  /** Queue items enqueued in the same transaction. */
  readonly items?: readonly EnqueueItem[];
  /** Ids of `items` to get back leased (for `leaseMs`), for a worker of this process. */
  readonly leaseIds?: readonly string[];
  /** Leases to acknowledge in the same transaction if the ops apply (held ones only). */
  readonly ack?: readonly LeaseRef[];
}

/** The outcome of a {@link CommitBatcher} commit. */
export interface BatchedCommitResult extends CommitResult {
  /** Leases of this commit's `leaseIds` items that the queue created leased. */
  readonly leases: readonly Lease[];
  /** This commit's `ack` leases that were held and are now acknowledged. */
  readonly acked: readonly LeaseRef[];
}

interface Pending {
  readonly ops: readonly StoreOp[];
  readonly items: readonly EnqueueItem[];
  readonly leaseIds: readonly string[];
  readonly acks: readonly LeaseRef[];
  readonly keys: ReadonlySet<string>;
  resolve(result: BatchedCommitResult): void;
  reject(error: unknown): void;
}

/** Commits through one Store, merging commits that wait at the same time into one. */
export interface CommitBatcher {
  /**
   * Same contract as `Store.commit` for the caller: all of `ops` or none, guards checked. With
   * `extras.items` (only when {@link pairsQueue}) the items are enqueued in the same transaction,
   * and those named in `extras.leaseIds` may come back leased.
   */
  commit(ops: readonly StoreOp[], extras?: BatchedCommitExtras): Promise<BatchedCommitResult>;
  /** True when commits can carry queue items (the queue pairs with the store). */
  readonly pairsQueue: boolean;
}

/**
 * Group commit at the engine level: commits requested while another is in flight (or within
 * the same event-loop turn) are sent as ONE Store commit, so many concurrent runs share one
 * transaction and one durable flush. Commits touching the same key never share a batch. When a
 * merged commit fails a guard, only the commit that owns the key is rejected and the rest are
 * committed again; any other failure makes every commit of the batch retry on its own, so each
 * caller sees exactly the outcome its own commit would have had.
 */
export function createCommitBatcher(
  store: Store,
  options: {
    readonly maxOps?: number;
    /** The queue's commit-with-store, when the queue pairs with `store`. */
    readonly paired?: PairedCommit | undefined;
    /** How long leases handed back by a paired commit last. */
    readonly leaseMs?: number;
    /** The worker identity handed-back leases are held under (read at each commit). */
    readonly leaseOwner?: () => string | undefined;
  } = {},
): CommitBatcher {
  const { maxOps = 1000, paired, leaseMs = 30_000 } = options;
  let waiting: Pending[] = [];
  let running = false;

  const send = async (batch: readonly Pending[]): Promise<BatchedCommitResult> => {
    const ops = batch.flatMap((pending) => pending.ops);
    const items = batch.flatMap((pending) => pending.items);
    const ack = batch.flatMap((pending) => pending.acks);
    if (!paired || (items.length === 0 && ack.length === 0))
      return { ...(await store.commit(ops)), leases: [], acked: [] };
    const ids = batch.flatMap((pending) => pending.leaseIds);
    return paired(ops, items, {
      ...(ids.length > 0 ? { lease: { ids, leaseMs, owner: options.leaseOwner?.() } } : {}),
      ...(ack.length > 0 ? { ack } : {}),
    });
  };
  const refKey = (ref: LeaseRef) => JSON.stringify([ref.id, ref.leaseId]);
  // Each commit of a batch gets the leases of its own items only.
  const resolveAll = (batch: readonly Pending[], result: BatchedCommitResult) => {
    const byId = new Map(result.leases.map((lease) => [lease.id, lease]));
    const acked = new Set(result.acked.map(refKey));
    for (const pending of batch) {
      const leases = pending.leaseIds.flatMap((id) => {
        const lease = byId.get(id);
        byId.delete(id);
        return lease ? [lease] : [];
      });
      const ownAcked = pending.acks.filter((ref) => acked.has(refKey(ref)));
      pending.resolve({ version: result.version, leases, acked: ownAcked });
    }
  };

  const commitAlone = async (pending: Pending) => {
    try {
      resolveAll([pending], await send([pending]));
    } catch (error) {
      pending.reject(error);
    }
  };

  const commitTogether = async (batch: Pending[]): Promise<void> => {
    const [only] = batch;
    if (batch.length === 1 && only) return commitAlone(only);
    try {
      resolveAll(batch, await send(batch));
    } catch (error) {
      if (StoreConflictError.isInstance(error)) {
        const owner = batch.find((pending) => pending.keys.has(error.key));
        if (owner) {
          owner.reject(error);
          const others = batch.filter((pending) => pending !== owner);
          if (others.length > 0) await commitTogether(others);
          return;
        }
      }
      for (const pending of batch) await commitAlone(pending);
    }
  };

  const drain = async () => {
    while (waiting.length > 0) {
      const batch: Pending[] = [];
      const rest: Pending[] = [];
      const used = new Set<string>();
      let size = 0;
      for (const pending of waiting) {
        const clash = [...pending.keys].some((key) => used.has(key));
        if (clash || (batch.length > 0 && size + pending.ops.length > maxOps)) {
          rest.push(pending);
          continue;
        }
        batch.push(pending);
        size += pending.ops.length;
        for (const key of pending.keys) used.add(key);
      }
      waiting = rest;
      await commitTogether(batch);
    }
    running = false;
  };

  return {
    pairsQueue: paired !== undefined,
    commit(ops, extras = {}) {
      const items = extras.items ?? [];
      const acks = extras.ack ?? [];
      if ((items.length > 0 || acks.length > 0) && !paired)
        return Promise.reject(
          new TroupeError(
            "INTERNAL",
            "commit batcher: queue items or acks given, but no paired queue",
          ),
        );
      const leaseIds = extras.leaseIds ?? [];
      return new Promise<BatchedCommitResult>((resolve, reject) => {
        const keys = new Set(ops.map((op) => op.key));
        waiting.push({ ops, items, leaseIds, acks, keys, resolve, reject });
        if (running) return;
        running = true;
        // Let the other runs of this event-loop turn join the first batch.
        setImmediate(() => {
          void drain();
        });
      });
    },
  };
}
