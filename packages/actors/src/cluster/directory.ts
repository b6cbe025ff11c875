import {
  type Clock,
  createJsonCodec,
  invalidArgument,
  type Logger,
  noopLogger,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import { z } from "zod";
import type { ActorAddress, ActorDirectory, Ownership } from "../directory.js";
import { listedNodes, type PeerDiscovery } from "./discovery.js";
import {
  hostsType,
  type Membership,
  type NodeInfo,
  nodeInfoCodec,
  parseClusterOptions,
} from "./membership.js";
import { createNodeWatch } from "./node-watch.js";
import { type Placement, randomPlacement } from "./placement.js";

/** Options of {@link createClusterDirectory}. */
export interface ClusterDirectoryOptions {
  /** The Store shared by the cluster (the same one the membership writes to). */
  readonly store: Store;
  /** Time source (the membership's). */
  readonly clock: Clock;
  /** This node's membership. The directory joins it on first use and closes it on `close`. */
  readonly membership: Membership;
  /** This node's id; when given it must equal the membership's. */
  readonly nodeId?: string;
  /** Chooses a node for actors nobody owns. Default {@link randomPlacement}. */
  readonly placement?: Placement;
  /**
   * Where the platform lists the nodes (e.g. DNS of a headless Service): new actors are placed
   * only on live nodes it lists, or on every live node when it lists none of them or cannot be
   * read. Ownership still follows leases alone. Default: none (every live node).
   */
  readonly discovery?: PeerDiscovery;
  /** Key prefix of directory entries. Default: the membership's prefix. */
  readonly prefix?: string;
  /** How long a remote owner found by `locate` is reused without a Store read, in ms. Default 60,000. */
  readonly cacheMs?: number;
  /** Most remote owners remembered; the oldest are dropped beyond it. Default 100,000. */
  readonly maxCachedOwners?: number;
  /** Where warnings go. Default: discarded. */
  readonly logger?: Logger;
}

/** The cluster's {@link ActorDirectory}, with hooks for the actor system. */
export interface ClusterDirectory extends ActorDirectory {
  /** This node's membership. */
  readonly membership: Membership;
  /** The epoch of this node's claim on `address`, when it holds one. */
  ownedEpoch(address: ActorAddress): number | undefined;
  /** Addresses this node holds claims on. */
  owned(): ActorAddress[];
  /**
   * Calls `listener` with every address this node held when it lost its lease: the system must
   * deactivate them without saving (their state writes would fail the fence anyway).
   */
  onOwnershipLost(listener: (addresses: readonly ActorAddress[]) => void): () => void;
  /**
   * Calls `onLapsed` once node `nodeId` counts as dead (lease lapsed with the skew margin, record
   * gone, or a new incarnation); see {@link ActorDirectory.watchNode}. Returns a function that
   * stops watching.
   */
  watchNode(nodeId: string, onLapsed: () => void): () => void;
}

const entrySchema = z.object({
  nodeId: z.string(),
  incarnation: z.string(),
  claimedAt: z.number(),
});
type DirectoryEntry = z.infer<typeof entrySchema>;
const entryCodec = createJsonCodec(entrySchema);

const optionsSchema = z.object({
  nodeId: z.string().optional(),
  prefix: z.string().min(1).optional(),
  cacheMs: z.number().int().nonnegative().optional(),
  maxCachedOwners: z.number().int().positive().optional(),
  placement: z.function().optional(),
  discovery: z.object({ peers: z.function(), close: z.function() }).optional(),
});

const MAX_CLAIM_ATTEMPTS = 8;

type ClaimOutcome =
  | { readonly kind: "claimed"; readonly ownership: Ownership }
  | { readonly kind: "owned"; readonly ownership: Ownership };

/**
 * The directory of a cluster. Entry `<prefix>d/<type>/<key>` names the owning node and its
 * incarnation. A claim is one Store commit that expects the entry absent, or — to take over from
 * a node whose lease lapsed — expects the entry's exact version *and* the dead node's record at
 * the version that was read, so a renewal racing the takeover makes the takeover fail. There is
 * no blind write: of any number of concurrent claims exactly one commits. The epoch is the
 * version that commit wrote; `fence` guards state writes on it.
 */
export function createClusterDirectory(options: ClusterDirectoryOptions): ClusterDirectory {
  parseClusterOptions("createClusterDirectory", optionsSchema, options);
  const { store, clock, membership } = options;
  const nodeId = membership.nodeId;
  if (options.nodeId !== undefined && options.nodeId !== nodeId) {
    throw invalidArgument(
      "createClusterDirectory.options.nodeId",
      `must equal the membership's node id ${JSON.stringify(nodeId)}, got ${JSON.stringify(options.nodeId)}`,
    );
  }
  const prefix = options.prefix ?? membership.prefix;
  const placement = options.placement ?? randomPlacement();
  const cacheMs = options.cacheMs ?? 60_000;
  const maxCachedOwners = options.maxCachedOwners ?? 100_000;
  const logger = (options.logger ?? noopLogger).child({ nodeId });

  /** Claims held by this node: map key → epoch. */
  const owned = new Map<string, { address: ActorAddress; epoch: number; incarnation: string }>();
  /** Owners found elsewhere: map key → ownership, node incarnation and when it was read. */
  const remote = new Map<string, { ownership: Ownership; incarnation: string; at: number }>();
  const lostListeners = new Set<(addresses: readonly ActorAddress[]) => void>();
  const nodeWatch = createNodeWatch({ membership, clock, logger });
  let closed = false;
  // Set by `forget` (a node answered `moved` or was gone): the next look at the node list reads
  // it from the Store instead of the cache, so a node that just left is not chosen again.
  let nodesStale = false;
  const liveNodes = () => {
    const fresh = nodesStale;
    nodesStale = false;
    return membership.liveNodes({ fresh });
  };

  const mapKey = (address: ActorAddress) => `${address.type}\u0000${address.key}`;
  // The type is URI-encoded so a `/` in it cannot make two addresses share an entry.
  const entryKey = (address: ActorAddress) =>
    `${prefix}d/${encodeURIComponent(address.type)}/${address.key}`;

  const unsubscribe = membership.onLeaseLost(() => {
    const lost = [...owned.values()].map((claim) => claim.address);
    owned.clear();
    remote.clear();
    if (lost.length === 0) return;
    for (const listener of [...lostListeners]) {
      try {
        listener(lost);
      } catch (error) {
        logger.error("cluster: an ownership-loss listener threw", { error });
      }
    }
  });

  const ensureOpen = () => {
    if (closed) throw new TroupeError("CLOSED", `the directory of node ${nodeId} is closed`);
  };

  const ensureJoined = async () => {
    if (!membership.holdsLease()) await membership.join();
  };

  const decode = (entry: StoreEntry): DirectoryEntry | undefined => {
    try {
      return entryCodec.decode(entry.value);
    } catch (error) {
      logger.warn("cluster: a malformed directory entry will be replaced", {
        key: entry.key,
        error,
      });
      return undefined;
    }
  };

  const ownClaim = (address: ActorAddress): Ownership | undefined => {
    const claim = owned.get(mapKey(address));
    if (!claim) return undefined;
    if (membership.holdsLease() && claim.incarnation === membership.incarnation) {
      return { nodeId, epoch: claim.epoch };
    }
    owned.delete(mapKey(address));
    return undefined;
  };

  /** The live owner recorded in `entry`, or the ops that take the entry over from a dead one. */
  const inspect = async (
    entry: StoreEntry | undefined,
  ): Promise<
    | { live: true; owner: DirectoryEntry; version: number }
    | { live: false; guard: StoreOp[]; epochBefore: number }
  > => {
    if (!entry) return { live: false, guard: [], epochBefore: 0 };
    const owner = decode(entry);
    if (!owner) return { live: false, guard: [], epochBefore: entry.version };
    const node = await membership.readNode(owner.nodeId);
    if (node && node.info.incarnation === owner.incarnation && !membership.lapsed(node.info)) {
      return { live: true, owner, version: entry.version };
    }
    // A lapsed lease of the owner's incarnation could still be renewed (by a node whose clock
    // runs behind ours, or a heartbeat already in flight), so the takeover rewrites the owner's
    // record as it was read: the commit fails if the record changed since, and the owner's next
    // heartbeat, which expects the version it wrote, fails too, so the owner loses its lease and
    // rejoins under a new incarnation instead of renewing claims that were taken over. A record
    // of another incarnation (the node joined again) needs no guard: incarnations never come back.
    const guard: StoreOp[] = !node
      ? [{ type: "check", key: membership.nodeKey(owner.nodeId), expect: "absent" }]
      : node.info.incarnation !== owner.incarnation
        ? []
        : [
            {
              type: "set",
              key: membership.nodeKey(owner.nodeId),
              value: nodeInfoCodec.encode(node.info),
              expect: node.version,
            },
          ];
    return { live: false, guard, epochBefore: entry.version };
  };

  const claimOnce = async (address: ActorAddress): Promise<ClaimOutcome> => {
    ensureOpen();
    await ensureJoined();
    const key = entryKey(address);
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const incarnation = membership.incarnation;
      if (incarnation === undefined || !membership.holdsLease()) {
        throw new TroupeError(
          "UNAVAILABLE",
          `node ${nodeId} does not hold a cluster lease, so it cannot claim ${describe(address)}`,
          { details: { nodeId, address } },
        );
      }
      const entry = await store.get(key);
      const state = await inspect(entry);
      if (state.live) {
        if (state.owner.nodeId === nodeId && state.owner.incarnation === incarnation) {
          owned.set(mapKey(address), { address, epoch: state.version, incarnation });
          return { kind: "claimed", ownership: { nodeId, epoch: state.version } };
        }
        remember(address, state.owner, state.version);
        return {
          kind: "owned",
          ownership: { nodeId: state.owner.nodeId, epoch: state.version },
        };
      }
      const value = entryCodec.encode({ nodeId, incarnation, claimedAt: clock.now() });
      const ops: StoreOp[] = [
        ...state.guard,
        { type: "set", key, value, expect: entry ? entry.version : "absent" },
      ];
      let epoch: number;
      try {
        epoch = (await store.commit(ops)).version;
      } catch (error) {
        if (StoreConflictError.isInstance(error)) continue;
        throw error;
      }
      if (!membership.holdsLease() || membership.incarnation !== incarnation) {
        // The lease ran out while the claim was in flight: other nodes may already treat the
        // claim as dead, so give it back rather than activate.
        await store.commit([{ type: "delete", key, expect: epoch }]).catch(() => undefined);
        throw new TroupeError(
          "UNAVAILABLE",
          `node ${nodeId} lost its cluster lease while claiming ${describe(address)}`,
          { details: { nodeId, address } },
        );
      }
      if (state.epochBefore > 0) {
        logger.info("cluster: took over an actor from a dead node", { address, epoch });
      }
      owned.set(mapKey(address), { address, epoch, incarnation });
      remote.delete(mapKey(address));
      return { kind: "claimed", ownership: { nodeId, epoch } };
    }
    throw new TroupeError(
      "STORE_CONFLICT",
      `could not claim ${describe(address)}: the directory entry kept changing (${MAX_CLAIM_ATTEMPTS} attempts)`,
      { details: { key, address } },
    );
  };

  const remember = (address: ActorAddress, owner: DirectoryEntry, epoch: number) => {
    const id = mapKey(address);
    remote.delete(id);
    // A Map iterates in insertion order, so the first key is the owner read longest ago.
    if (remote.size >= maxCachedOwners) {
      const oldest = remote.keys().next();
      if (!oldest.done) remote.delete(oldest.value);
    }
    remote.set(id, {
      ownership: { nodeId: owner.nodeId, epoch },
      incarnation: owner.incarnation,
      at: clock.now(),
    });
  };

  const cachedRemote = async (address: ActorAddress): Promise<Ownership | undefined> => {
    const cached = remote.get(mapKey(address));
    if (!cached) return undefined;
    if (clock.now() - cached.at >= cacheMs) {
      remote.delete(mapKey(address));
      return undefined;
    }
    const nodes = await liveNodes();
    const live = nodes.some(
      (node) => node.nodeId === cached.ownership.nodeId && node.incarnation === cached.incarnation,
    );
    if (live) return cached.ownership;
    remote.delete(mapKey(address));
    return undefined;
  };

  const locate = async (address: ActorAddress): Promise<Ownership> => {
    ensureOpen();
    const mine = ownClaim(address);
    const cached = mine ? undefined : await cachedRemote(address);
    if (cached) return cached;
    const entry = await store.get(entryKey(address));
    // The system locates an actor only when it has no activation of it, so checking a claim we
    // remember costs one read per activation, and a node whose claim was taken over while it was
    // stalled learns it here instead of activating on a dead epoch.
    if (mine && entry?.version === mine.epoch) return mine;
    if (mine) owned.delete(mapKey(address));
    const state = await inspect(entry);
    if (state.live) {
      if (state.owner.nodeId === nodeId && state.owner.incarnation === membership.incarnation) {
        owned.set(mapKey(address), {
          address,
          epoch: state.version,
          incarnation: state.owner.incarnation,
        });
        return { nodeId, epoch: state.version };
      }
      remember(address, state.owner, state.version);
      return { nodeId: state.owner.nodeId, epoch: state.version };
    }
    await ensureJoined();
    const capable = [...(await liveNodes())]
      .filter((node) => hostsType(node.capabilities, address.type))
      .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    const candidates = await discovered(capable);
    if (candidates.length === 0) {
      throw new TroupeError(
        "UNAVAILABLE",
        `no live node hosts actor type ${JSON.stringify(address.type)}`,
        { details: { address } },
      );
    }
    const chosen = choose(address, candidates);
    if (chosen !== nodeId) return { nodeId: chosen, epoch: 0 };
    // Another node may have claimed it since we read: then the claim reports that owner.
    return (await claimOnce(address)).ownership;
  };

  // Narrows placement to the nodes the platform lists; never to nothing, since a listing that
  // names no live node (not yet updated, or naming other addresses) says nothing about them.
  const discovered = async (capable: readonly NodeInfo[]): Promise<readonly NodeInfo[]> => {
    if (options.discovery === undefined || capable.length === 0) return capable;
    const listed = await options.discovery.peers();
    if (listed === undefined) return capable;
    const chosen = listedNodes(capable, listed);
    if (chosen.length > 0) return chosen;
    logger.warn("cluster: discovery lists none of the live nodes; placing on every live node", {
      live: capable.map((node) => node.address ?? node.nodeId),
    });
    return capable;
  };

  const choose = (address: ActorAddress, candidates: readonly NodeInfo[]): string => {
    const chosen = placement(address, candidates, nodeId);
    if (candidates.some((node) => node.nodeId === chosen)) return chosen;
    logger.warn("cluster: placement chose a node that is not a live candidate; using the first", {
      chosen,
      address,
    });
    return (candidates[0] as NodeInfo).nodeId;
  };

  return {
    nodeId,
    membership,
    locate,
    async claim(address) {
      const outcome = await claimOnce(address);
      if (outcome.kind === "claimed") return outcome.ownership;
      throw new TroupeError(
        "STORE_CONFLICT",
        `${describe(address)} is owned by live node ${JSON.stringify(outcome.ownership.nodeId)}`,
        {
          details: {
            key: entryKey(address),
            owner: outcome.ownership.nodeId,
            epoch: outcome.ownership.epoch,
          },
        },
      );
    },
    async release(address, epoch) {
      const claim = owned.get(mapKey(address));
      if (claim?.epoch === epoch) owned.delete(mapKey(address));
      if (!Number.isSafeInteger(epoch) || epoch <= 0) return;
      try {
        await store.commit([{ type: "delete", key: entryKey(address), expect: epoch }]);
      } catch (error) {
        if (!StoreConflictError.isInstance(error)) throw error;
      }
    },
    forget(address) {
      remote.delete(mapKey(address));
      nodesStale = true;
    },
    fence(address, epoch) {
      if (!Number.isSafeInteger(epoch) || epoch <= 0) {
        throw invalidArgument("epoch", `expected the positive epoch of a claim, got ${epoch}`);
      }
      return [{ type: "check", key: entryKey(address), expect: epoch }];
    },
    ownedEpoch(address) {
      return ownClaim(address)?.epoch;
    },
    owned() {
      return [...owned.values()].map((claim) => claim.address);
    },
    onOwnershipLost(listener) {
      lostListeners.add(listener);
      return () => lostListeners.delete(listener);
    },
    watchNode: (target, onLapsed) => nodeWatch.watch(target, onLapsed),
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      nodeWatch.close();
      const claims = [...owned.values()];
      owned.clear();
      remote.clear();
      await Promise.all(
        claims.map((claim) =>
          store
            .commit([{ type: "delete", key: entryKey(claim.address), expect: claim.epoch }])
            .catch(() => undefined),
        ),
      );
      await membership.close();
    },
  };
}

function describe(address: ActorAddress): string {
  return `actor ${address.type}/${JSON.stringify(address.key)}`;
}
