import { type Clock, type Store, StoreConflictError, systemClock, TroupeError } from "@troupe/core";
import type { ActorAddress, ActorDirectory, Ownership } from "./directory.js";

/** Options of {@link createLocalDirectory}. */
export interface LocalDirectoryOptions {
  /** Where claims are kept (the same Store the actors' state lives in). */
  readonly store: Store;
  /** This node's id. */
  readonly nodeId: string;
  /** Time source for the claim records. Default: the system clock. */
  readonly clock?: Clock;
  /** Key prefix of the claim entries. Default `"actors/dir/"`. */
  readonly prefix?: string;
}

const encoder = new TextEncoder();
const CLAIM_ATTEMPTS = 8;

/** The Store key of an address's directory entry under `prefix`. */
export function directoryKey(prefix: string, address: ActorAddress): string {
  return `${prefix}${address.type}/${address.key}`;
}

/**
 * The single-node directory: every actor belongs to this node. A claim is a compare-and-set on
 * the actor's directory key, and its epoch is the version that commit wrote; a claim always takes
 * the entry over, because on one node any other holder is a stale process (a paused old owner,
 * or a crashed one). Its later state writes then fail the `fence` check and are rejected.
 */
export function createLocalDirectory(options: LocalDirectoryOptions): ActorDirectory {
  const { store, nodeId } = options;
  const clock = options.clock ?? systemClock;
  const prefix = options.prefix ?? "actors/dir/";

  const claim = async (address: ActorAddress): Promise<Ownership> => {
    const key = directoryKey(prefix, address);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const entry = await store.get(key);
      const value = encoder.encode(JSON.stringify({ nodeId, claimedAt: clock.now() }));
      try {
        const { version } = await store.commit([
          { type: "set", key, value, expect: entry?.version ?? "absent" },
        ]);
        return { nodeId, epoch: version };
      } catch (error) {
        // Someone claimed between our read and our write: read again and take it over.
        if (!StoreConflictError.isInstance(error)) throw error;
      }
    }
    throw new TroupeError(
      "UNAVAILABLE",
      `actor ${address.type}/${address.key}: the directory claim kept conflicting (${CLAIM_ATTEMPTS} attempts)`,
      { details: { address } },
    );
  };

  return {
    nodeId,
    locate: claim,
    claim,
    async release(address, epoch) {
      try {
        await store.commit([{ type: "delete", key: directoryKey(prefix, address), expect: epoch }]);
      } catch (error) {
        // Another process claimed it since: the entry is no longer ours to remove.
        if (!StoreConflictError.isInstance(error)) throw error;
      }
    },
    forget() {},
    fence(address, epoch) {
      return [{ type: "check", key: directoryKey(prefix, address), expect: epoch }];
    },
    async close() {},
  };
}
