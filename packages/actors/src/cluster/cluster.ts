import { type Clock, type Logger, type Store, systemClock, type Transport } from "@troupe/core";
import type { ActorRemoting } from "../directory.js";
import { type ClusterDirectory, createClusterDirectory } from "./directory.js";
import type { PeerDiscovery } from "./discovery.js";
import { createMembership, type Membership } from "./membership.js";
import type { Placement } from "./placement.js";
import { createTransportRemoting } from "./remoting.js";

/** Options of {@link createClusterNode}. */
export interface ClusterNodeOptions {
  /** The Store every node shares (leases, directory, and usually the actors' state). */
  readonly store: Store;
  /**
   * The Store the actor system keeps states in, when it is not `store` — e.g. the directory on
   * etcd and the states on PostgreSQL. State writes are then fenced by token (the claim's epoch
   * raised into a fence record in this Store) instead of by guard ops on the directory entry.
   */
  readonly stateStore?: Store;
  /** The Transport every node shares (NATS across processes, memory within one). */
  readonly transport: Transport;
  /** This node's id, unique in the cluster: 1-128 letters, digits or `._-`. */
  readonly nodeId: string;
  /** Time source. Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Actor types this node hosts: type names or the definitions themselves. Default `["*"]`
   * (every type, so every node must register every type); `[]` makes a client-only node.
   */
  readonly capabilities?: readonly (string | { readonly name: string })[];
  /** Free-form contact information published with the node record. */
  readonly address?: string;
  /** Key prefix of the cluster's records. Default `"actors/"`. */
  readonly prefix?: string;
  /** Node lease length in ms. Default 10,000. */
  readonly leaseMs?: number;
  /** Lease renewal interval in ms. Default `leaseMs / 3`. */
  readonly heartbeatMs?: number;
  /** Bound on clock differences between nodes, in ms. Default 0. */
  readonly maxClockSkewMs?: number;
  /** Where unowned actors go. Default random among capable nodes. */
  readonly placement?: Placement;
  /**
   * Where the platform lists the nodes (e.g. {@link createDnsDiscovery}): new actors go only to
   * live nodes it lists, matched by `address`. Closed with the node.
   */
  readonly discovery?: PeerDiscovery;
  /** Transport timeout for calls that carry no time limit, in ms. Default 10,000. */
  readonly requestTimeoutMs?: number;
  /** Where warnings go. Default: discarded. */
  readonly logger?: Logger;
}

/** The three cluster parts of one node, ready for `createActorSystem({ directory, remoting })`. */
export interface ClusterNode {
  /** This node's id. */
  readonly nodeId: string;
  /** The node's lease and view of the cluster. */
  readonly membership: Membership;
  /** The directory: pass it as the actor system's `directory`. */
  readonly directory: ClusterDirectory;
  /** Node-to-node calls: pass it as the actor system's `remoting`. */
  readonly remoting: ActorRemoting;
  /**
   * Joins the cluster (writes the lease record); resolves once the node holds its lease. Call
   * it after creating the actor system: it first waits for the system to serve calls, so the
   * node becomes a placement target only once it can answer.
   */
  join(): Promise<void>;
  /** Stops serving calls, releases claims and leaves the cluster. Close the actor system first. */
  close(): Promise<void>;
}

/**
 * Wires a membership, a cluster directory and Transport remoting for one node. Typical use:
 *
 * ```ts
 * const node = createClusterNode({ store, transport, nodeId: "node-1" });
 * const system = createActorSystem({ store, queue, actors: [Counter],
 *   nodeId: node.nodeId, directory: node.directory, remoting: node.remoting });
 * await node.join();
 * ```
 */
export function createClusterNode(options: ClusterNodeOptions): ClusterNode {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const membership = createMembership({
    store: options.store,
    clock,
    nodeId: options.nodeId,
    ...(options.capabilities === undefined
      ? {}
      : {
          capabilities: options.capabilities.map((type) =>
            typeof type === "string" ? type : type.name,
          ),
        }),
    ...(options.address === undefined ? {} : { address: options.address }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
    ...(options.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: options.maxClockSkewMs }),
    ...(logger === undefined ? {} : { logger }),
  });
  const claims = createClusterDirectory({
    store: options.store,
    clock,
    membership,
    ...(options.placement === undefined ? {} : { placement: options.placement }),
    ...(options.discovery === undefined ? {} : { discovery: options.discovery }),
    ...(logger === undefined ? {} : { logger }),
  });
  const separate = options.stateStore !== undefined && options.stateStore !== options.store;
  const directory: ClusterDirectory = separate ? { ...claims, fencing: "token" } : claims;
  const remoting = createTransportRemoting({
    transport: options.transport,
    nodeId: options.nodeId,
    ...(options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs }),
    ...(logger === undefined ? {} : { logger }),
  });
  // The actor system starts listening in the background; joining waits for it, so other nodes
  // place actors here only once this node answers calls.
  let listening: Promise<void> | undefined;
  const served: ActorRemoting = {
    send: (nodeId, call) => remoting.send(nodeId, call),
    listen(handler) {
      listening = remoting.listen(handler);
      return listening;
    },
    close: () => remoting.close(),
  };
  let closed = false;
  return {
    nodeId: options.nodeId,
    membership,
    directory,
    remoting: served,
    async join() {
      await listening;
      await membership.join();
    },
    async close() {
      if (closed) return;
      closed = true;
      options.discovery?.close();
      await remoting.close();
      await directory.close();
    },
  };
}
