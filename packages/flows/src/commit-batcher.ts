import { type CommitResult, type Store, StoreConflictError, type StoreOp } from "@troupe/core";

interface Pending {
  readonly ops: readonly StoreOp[];
  readonly keys: ReadonlySet<string>;
  resolve(result: CommitResult): void;
  reject(error: unknown): void;
}

/** Commits through one Store, merging commits that wait at the same time into one. */
export interface CommitBatcher {
  /** Same contract as `Store.commit` for the caller: all of `ops` or none, guards checked. */
  commit(ops: readonly StoreOp[]): Promise<CommitResult>;
}

/**
 * Group commit at the engine level: commits requested while another is in flight (or within
 * the same event-loop turn) are sent as ONE Store commit, so many concurrent runs share one
 * transaction and one durable flush. Commits touching the same key never share a batch. When a
 * merged commit fails a guard, only the commit that owns the key is rejected and the rest are
 * committed again; any other failure makes every commit of the batch retry on its own, so each
 * caller sees exactly the outcome its own commit would have had.
 */
export function createCommitBatcher(store: Store, maxOps = 1000): CommitBatcher {
  let waiting: Pending[] = [];
  let running = false;

  const commitAlone = async (pending: Pending) => {
    try {
      pending.resolve(await store.commit(pending.ops));
    } catch (error) {
      pending.reject(error);
    }
  };

  const commitTogether = async (batch: Pending[]): Promise<void> => {
    const [only] = batch;
    if (batch.length === 1 && only) return commitAlone(only);
    try {
      const result = await store.commit(batch.flatMap((pending) => pending.ops));
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
    commit(ops) {
      return new Promise<CommitResult>((resolve, reject) => {
        waiting.push({ ops, keys: new Set(ops.map((op) => op.key)), resolve, reject });
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
