import {
  type CommitResult,
  type EnqueueItem,
  type Queue,
  type Store,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";

/**
 * An optional capability of a {@link Queue} that lives in the same database as the engine's
 * {@link Store} (the PostgreSQL queue has it): a Store commit and an enqueue in ONE transaction.
 * The engine uses it, when `pairsWith(store)` says so, to store new runs together with their
 * first queue items; with any other pair of adapters it commits, then enqueues.
 */
export interface StorePairedQueue extends Queue {
  /** True when {@link commitWithStore} commits on `store`'s data. */
  pairsWith(store: Store): boolean;
  /**
   * Commits `ops` as `store.commit` would (same guards, `StoreConflictError`, versions) and, only
   * if they are applied, enqueues `items` as `enqueueMany` would: both or neither.
   */
  commitWithStore(ops: readonly StoreOp[], items: readonly EnqueueItem[]): Promise<CommitResult>;
}

/** The queue's commit-with-store capability when it pairs with `store`, else undefined. */
export function pairedCommit(
  queue: Queue,
  store: Store,
): StorePairedQueue["commitWithStore"] | undefined {
  const candidate = queue as Partial<StorePairedQueue>;
  if (typeof candidate.pairsWith !== "function" || typeof candidate.commitWithStore !== "function")
    return undefined;
  if (!candidate.pairsWith.call(queue, store)) return undefined;
  const commitWithStore = candidate.commitWithStore;
  return (ops, items) => commitWithStore.call(queue, ops, items);
}

interface Pending {
  readonly ops: readonly StoreOp[];
  readonly items: readonly EnqueueItem[];
  readonly keys: ReadonlySet<string>;
  resolve(result: CommitResult): void;
  reject(error: unknown): void;
}

/** Commits through one Store, merging commits that wait at the same time into one. */
export interface CommitBatcher {
  /**
   * Same contract as `Store.commit` for the caller: all of `ops` or none, guards checked. With
   * `items` (only when {@link pairsQueue}) the items are enqueued in the same transaction.
   */
  commit(ops: readonly StoreOp[], items?: readonly EnqueueItem[]): Promise<CommitResult>;
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
  maxOps = 1000,
  paired?: StorePairedQueue["commitWithStore"],
): CommitBatcher {
  let waiting: Pending[] = [];
  let running = false;

  const send = (ops: readonly StoreOp[], items: readonly EnqueueItem[]) =>
    paired && items.length > 0 ? paired(ops, items) : store.commit(ops);

  const commitAlone = async (pending: Pending) => {
    try {
      pending.resolve(await send(pending.ops, pending.items));
    } catch (error) {
      pending.reject(error);
    }
  };

  const commitTogether = async (batch: Pending[]): Promise<void> => {
    const [only] = batch;
    if (batch.length === 1 && only) return commitAlone(only);
    try {
      const result = await send(
        batch.flatMap((pending) => pending.ops),
        batch.flatMap((pending) => pending.items),
      );
      for (const pending of batch) pending.resolve(result);
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
    commit(ops, items = []) {
      if (items.length > 0 && !paired)
        return Promise.reject(
          new TroupeError("INTERNAL", "commit batcher: queue items given, but no paired queue"),
        );
      return new Promise<CommitResult>((resolve, reject) => {
        waiting.push({ ops, items, keys: new Set(ops.map((op) => op.key)), resolve, reject });
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
