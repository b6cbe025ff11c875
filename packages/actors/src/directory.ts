// Changes since the seam was first agreed (additive only): `ActorDirectory.onOwnershipLost` is
// optional; when a directory has it, the actor system subscribes and drops the activations named.
// `ActorDirectory.watchNode` is optional; when a directory has it, remote calls in flight to a
// node whose lease lapses fail over instead of waiting for their timeout.
import type { StoreOp } from "@troupe/core";
import { z } from "zod";

/**
 * An actor's address: its type name and its key, normalised to a string (`""` for actors without
 * a key, the decimal form for integer keys).
 */
export interface ActorAddress {
  /** The actor type's `name`. */
  readonly type: string;
  /** The key as a string. */
  readonly key: string;
}

/** Who hosts an activation, and the fencing epoch of that claim. */
export interface Ownership {
  /** The node that owns (or is to own) the activation. */
  readonly nodeId: string;
  /**
   * The fencing token of the claim: the Store version of the directory entry written by the claim.
   * A state write commits only while the directory entry still has this version (see `fence`).
   */
  readonly epoch: number;
}

/**
 * Where activations live. The actor system asks it before every activation and when routing a call;
 * the single-node implementation claims everything for the local node, the cluster one keeps node
 * leases and places actors on live nodes. All writes go through the Store with compare-and-set, so
 * two nodes can never both hold a claim.
 */
export interface ActorDirectory {
  /** This node's id. */
  readonly nodeId: string;
  /**
   * The current owner of `address`. When no live node owns it, a node is chosen by placement; when
   * that node is this one, the claim is made here and returned with its epoch, otherwise the
   * returned ownership is a placement hint (`epoch` 0) that the chosen node confirms by claiming.
   */
  locate(address: ActorAddress): Promise<Ownership>;
  /**
   * Claims `address` for this node before activating it. Resolves with the epoch, or rejects with a
   * TroupeError `STORE_CONFLICT` naming the live owner when another live node holds it.
   */
  claim(address: ActorAddress): Promise<Ownership>;
  /** Drops this node's claim at deactivation; a no-op when the claim is no longer ours. */
  release(address: ActorAddress, epoch: number): Promise<void>;
  /** Forgets a cached owner (after a remote node answered that it does not own the actor). */
  forget(address: ActorAddress): void;
  /**
   * Guard ops to commit with a state write: they fail the commit unless the claim of `epoch` is
   * still the current one, so an old owner can never overwrite a newer owner's state.
   */
  fence(address: ActorAddress, epoch: number): StoreOp[];
  /**
   * How state writes are fenced. `"ops"` (the default): `fence`'s guard ops join each state commit,
   * so claims and states share one Store. `"token"`: claims live in another Store; the state Store
   * keeps a fence record per actor raised to each new epoch (see `StateStore`).
   */
  readonly fencing?: "ops" | "token";
  /** Stops heartbeats and releases this node's claims (graceful shutdown). */
  close(): Promise<void>;
  /**
   * Optional: calls `listener` with the addresses whose claims this node lost (its lease lapsed).
   * The actor system drops those activations without saving and routes their waiting calls
   * afresh. Returns an unsubscribe function.
   */
  onOwnershipLost?(listener: (addresses: readonly ActorAddress[]) => void): () => void;
  /**
   * Optional (cluster): calls `onLapsed` once node `nodeId` counts as dead — its lease lapsed
   * (with the clock-skew margin), it left, or it came back under a new incarnation — and has had
   * a short grace to answer, so a call still in flight to it will get no answer. The actor system
   * watches the target of every remote call while it waits. Returns a function that stops
   * watching.
   */
  watchNode?(nodeId: string, onLapsed: () => void): () => void;
}

/** A call travelling between nodes. Arguments and results are JSON values. */
export interface RemoteCall {
  /** The target actor. */
  readonly address: ActorAddress;
  /** The action to run. */
  readonly action: string;
  /** The action's arguments. */
  readonly args: readonly unknown[];
  /** True for a one-way send: the target acknowledges receipt, not completion. */
  readonly oneWay: boolean;
  /** Ids of the calls up the chain, for reentrancy (A → B → A does not deadlock). */
  readonly chain: readonly string[];
  /** Time left for the call in ms. */
  readonly timeoutMs: number;
}

/** The shape of a {@link RemoteCall}, checked where a call enters a node. */
export const remoteCallSchema = z.object({
  address: z.object({ type: z.string().min(1), key: z.string() }),
  action: z.string().min(1),
  args: z.array(z.unknown()),
  oneWay: z.boolean(),
  chain: z.array(z.string()),
  timeoutMs: z.number().positive(),
});

/** A node's answer to a {@link RemoteCall}. */
export type RemoteReply =
  | { readonly kind: "ok"; readonly value: unknown }
  | {
      readonly kind: "error";
      readonly error: { readonly name: string; readonly message: string; readonly code?: string };
    }
  | { readonly kind: "moved" };

/**
 * How calls reach other nodes. The actor system hands it outgoing calls, and gives it a handler
 * that runs an incoming call locally (answering `moved` when this node does not own the actor).
 */
export interface ActorRemoting {
  /** Sends `call` to `nodeId` and resolves with its reply. */
  send(nodeId: string, call: RemoteCall): Promise<RemoteReply>;
  /** Starts serving calls addressed to this node. */
  listen(handler: (call: RemoteCall) => Promise<RemoteReply>): Promise<void>;
  /** Stops serving and sending. */
  close(): Promise<void>;
}
