import { randomUUID } from "node:crypto";
import {
  type Clock,
  type Codec,
  createJsonCodec,
  invalidArgument,
  type Logger,
  noopLogger,
  parseWith,
  type Store,
  StoreConflictError,
  type StoreEntry,
  type Timer,
  TroupeError,
  validateNodeId,
} from "@troupe/core";
import { z } from "zod";

/** What a node publishes about itself in the Store: who it is, what it hosts, how long it lives. */
export interface NodeInfo {
  /** The node's id (the Transport address of the node). */
  readonly nodeId: string;
  /** Free-form contact information (a URL, a host name); Troupe's transports route by node id. */
  readonly address?: string;
  /** Actor types this node hosts; `["*"]` hosts every type. */
  readonly capabilities: readonly string[];
  /**
   * A random id per join. A node that lost its lease and joined again gets a new one, so claims
   * made under the old incarnation count as dead even though the node id is live again.
   */
  readonly incarnation: string;
  /** The node holds its lease until this time (ms since the epoch, on the writer's clock). */
  readonly leaseUntil: number;
  /** When this incarnation joined (ms since the epoch). */
  readonly joinedAt: number;
}

/** Why a node stopped holding its lease. */
export interface LeaseLoss {
  /** The incarnation whose lease was lost. */
  readonly incarnation: string;
  /** `lapsed`: not renewed in time; `conflict`: the record was changed or removed by someone else. */
  readonly reason: "lapsed" | "conflict";
}

/** Options of {@link createMembership}. */
export interface MembershipOptions {
  /** Where node records live (shared by every node of the cluster). */
  readonly store: Store;
  /** Time source for leases and heartbeats. */
  readonly clock: Clock;
  /** This node's id: 1-128 letters, digits or `._-`, unique in the cluster. */
  readonly nodeId: string;
  /** Actor types this node hosts. Default `["*"]` (every type). */
  readonly capabilities?: readonly string[];
  /** Free-form contact information published with the record. */
  readonly address?: string;
  /** Key prefix shared by the cluster's records. Default `"actors/"`. */
  readonly prefix?: string;
  /** How long a lease lasts after each renewal, in ms. Default 10,000. */
  readonly leaseMs?: number;
  /** How often the lease is renewed, in ms; less than `leaseMs`. Default `leaseMs / 3`. */
  readonly heartbeatMs?: number;
  /** How long a read of the node list is reused, in ms. Default `heartbeatMs`. */
  readonly refreshMs?: number;
  /**
   * How far apart node clocks may be, in ms. Other nodes treat a lease as lapsed only this long
   * after its `leaseUntil`, so a node never loses its actors while it still believes it holds
   * its lease. Default 0 (one clock, as in tests); set it to your clock-sync bound in production.
   */
  readonly maxClockSkewMs?: number;
  /** Join again with a new incarnation after losing the lease. Default true. */
  readonly rejoin?: boolean;
  /** Where warnings go. Default: discarded. */
  readonly logger?: Logger;
}

/**
 * A node's membership of the cluster: a lease record in the Store (`<prefix>n/<nodeId>`),
 * renewed with compare-and-set heartbeats, and a cached view of the other live nodes.
 */
export interface Membership {
  /** This node's id. */
  readonly nodeId: string;
  /** The key prefix of the cluster. */
  readonly prefix: string;
  /** How long a lease lasts after each renewal, in ms. */
  readonly leaseMs: number;
  /** How long after its `leaseUntil` another node's lease counts as lapsed, in ms. */
  readonly maxClockSkewMs: number;
  /** The current incarnation (changes on every join), or undefined before the first join. */
  readonly incarnation: string | undefined;
  /** Writes this node's record; resolves once the node holds a lease. Idempotent. */
  join(): Promise<void>;
  /** True while this node holds its lease by its own clock (joined, not lapsed, not closed). */
  holdsLease(): boolean;
  /** Renews the lease now (the heartbeat timer calls this; tests may too). */
  heartbeat(): Promise<void>;
  /** Live nodes (this one included while it holds its lease), cached for `refreshMs`. */
  liveNodes(options?: { readonly fresh?: boolean }): Promise<readonly NodeInfo[]>;
  /** The stored record of `nodeId` with its Store version, read now. */
  readNode(nodeId: string): Promise<{ info: NodeInfo; version: number } | undefined>;
  /** True when `info`'s lease has lapsed by this node's clock (with the clock-skew margin). */
  lapsed(info: NodeInfo): boolean;
  /** The Store key of `nodeId`'s record. */
  nodeKey(nodeId: string): string;
  /** Calls `listener` whenever this node loses its lease; returns a function that unsubscribes. */
  onLeaseLost(listener: (loss: LeaseLoss) => void): () => void;
  /** Stops heartbeats and deletes this node's record (leaving the cluster). Idempotent. */
  close(): Promise<void>;
}

const nodeInfoSchema = z.object({
  nodeId: z.string(),
  address: z.string().optional(),
  capabilities: z.array(z.string()),
  incarnation: z.string(),
  leaseUntil: z.number(),
  joinedAt: z.number(),
});

/** The codec of node records (validated on read). */
export const nodeInfoCodec: Codec<NodeInfo> = createJsonCodec(nodeInfoSchema) as Codec<NodeInfo>;

const optionsSchema = z.object({
  nodeId: z.string(),
  capabilities: z.array(z.string().min(1)).optional(),
  address: z.string().optional(),
  prefix: z.string().min(1).optional(),
  leaseMs: z.number().int().positive().optional(),
  heartbeatMs: z.number().int().positive().optional(),
  refreshMs: z.number().int().nonnegative().optional(),
  maxClockSkewMs: z.number().int().nonnegative().optional(),
  rejoin: z.boolean().optional(),
});

/** Parses options with zod and names the offending option in the error. */
export function parseClusterOptions<T>(where: string, schema: z.ZodType<T>, options: unknown): T {
  return parseWith(schema, options, `${where}.options`);
}

/** True when a node with `capabilities` hosts actors of `type`. */
export function hostsType(capabilities: readonly string[], type: string): boolean {
  return capabilities.includes("*") || capabilities.includes(type);
}

/**
 * Joins the cluster: see {@link Membership}. Call `join()` before use. Records of nodes whose
 * lease lapsed long ago (ten leases) are deleted, with compare-and-set, by whoever lists nodes.
 */
export function createMembership(options: MembershipOptions): Membership {
  parseClusterOptions("createMembership", optionsSchema, options);
  validateNodeId(options.nodeId, "createMembership.options.nodeId");
  const { store, clock, nodeId } = options;
  const prefix = options.prefix ?? "actors/";
  const leaseMs = options.leaseMs ?? 10_000;
  const heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(leaseMs / 3));
  if (heartbeatMs >= leaseMs) {
    throw invalidArgument(
      "createMembership.options.heartbeatMs",
      `must be less than leaseMs (${leaseMs}), got ${heartbeatMs}`,
    );
  }
  const refreshMs = options.refreshMs ?? heartbeatMs;
  const skewMs = options.maxClockSkewMs ?? 0;
  const rejoin = options.rejoin ?? true;
  const capabilities = [...(options.capabilities ?? ["*"])];
  const logger = (options.logger ?? noopLogger).child({ nodeId });
  const nodesPrefix = `${prefix}n/`;
  const nodeKey = (id: string) => `${nodesPrefix}${id}`;
  const ownKey = nodeKey(nodeId);

  let incarnation: string | undefined;
  let joinedAt = 0;
  let leaseUntil = 0;
  let version = 0;
  let joined = false;
  let closed = false;
  let timer: Timer | undefined;
  let cache: { at: number; nodes: readonly NodeInfo[] } | undefined;
  // Joins, heartbeats and leaving run one at a time, so each compare-and-set starts from the
  // version the previous one wrote.
  let chain: Promise<unknown> = Promise.resolve();
  const listeners = new Set<(loss: LeaseLoss) => void>();

  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const next = chain.then(work, work);
    chain = next.catch(() => undefined);
    return next;
  };

  const lapsed = (info: NodeInfo) => clock.now() >= info.leaseUntil + skewMs;

  const record = (until: number, of = incarnation ?? ""): NodeInfo => ({
    nodeId,
    ...(options.address === undefined ? {} : { address: options.address }),
    capabilities,
    incarnation: of,
    leaseUntil: until,
    joinedAt,
  });

  const decode = (entry: StoreEntry): NodeInfo | undefined => {
    try {
      return nodeInfoCodec.decode(entry.value);
    } catch (error) {
      logger.warn("cluster: ignoring a malformed node record", { key: entry.key, error });
      return undefined;
    }
  };

  const schedule = () => {
    timer?.cancel();
    if (closed || !joined) return;
    timer = clock.setTimer(heartbeatMs, () => {
      heartbeat()
        .catch((error: unknown) => logger.warn("cluster: heartbeat failed", { error }))
        .finally(schedule);
    });
  };

  const lose = (reason: LeaseLoss["reason"]) => {
    const lost = incarnation ?? "";
    joined = false;
    leaseUntil = 0;
    cache = undefined;
    logger.warn("cluster: this node lost its lease", { reason, incarnation: lost });
    for (const listener of [...listeners]) {
      try {
        listener({ incarnation: lost, reason });
      } catch (error) {
        logger.error("cluster: a lease-loss listener threw", { error });
      }
    }
  };

  // One attempt to write a fresh incarnation; true when this node now holds a lease.
  const tryJoin = async (): Promise<boolean> => {
    // A record of this node's own last incarnation may be replaced at once; another live one
    // (a second process started with the same id) only once its lease lapses.
    const previous = incarnation;
    const current = await store.get(ownKey);
    const info = current ? decode(current) : undefined;
    if (current && info && !lapsed(info) && info.incarnation !== previous) {
      logger.warn("cluster: another live process holds this node id; waiting for its lease", {
        incarnation: info.incarnation,
        leaseUntil: info.leaseUntil,
      });
      return false;
    }
    const next = randomUUID();
    const now = clock.now();
    const until = now + leaseMs;
    try {
      const result = await store.commit([
        {
          type: "set",
          key: ownKey,
          value: nodeInfoCodec.encode({ ...record(until, next), joinedAt: now }),
          expect: current ? current.version : "absent",
        },
      ]);
      version = result.version;
      incarnation = next;
      joinedAt = now;
      if (closed) {
        // close() ran while this join was in flight: leave again at once.
        await store.commit([{ type: "delete", key: ownKey, expect: version }]).catch(() => {});
        return false;
      }
      leaseUntil = until;
      joined = true;
      cache = undefined;
      return true;
    } catch (error) {
      if (StoreConflictError.isInstance(error)) return false;
      throw error;
    }
  };

  let joining: Promise<void> | undefined;
  const startJoin = (retryErrors: boolean): Promise<void> => {
    joining ??= joinLoop(retryErrors).finally(() => {
      joining = undefined;
    });
    return joining;
  };

  // A first join reports Store errors to its caller; a rejoin after a lost lease has no caller,
  // so it keeps trying (the Store may be what made the lease lapse).
  const joinLoop = async (retryErrors: boolean) => {
    while (!closed) {
      let done = false;
      try {
        done = await tryJoin();
      } catch (error) {
        if (!retryErrors) throw error;
        logger.warn("cluster: joining failed; retrying", { error });
      }
      if (done) {
        schedule();
        logger.info("cluster: joined", { incarnation, leaseUntil });
        return;
      }
      await clock.sleep(heartbeatMs);
    }
    throw new TroupeError("CLOSED", `membership of node ${JSON.stringify(nodeId)} is closed`);
  };

  const heartbeat = () =>
    serial(async () => {
      if (closed || !joined) return;
      const previousUntil = leaseUntil;
      if (clock.now() >= previousUntil) {
        lose("lapsed");
      } else {
        const until = clock.now() + leaseMs;
        try {
          const result = await store.commit([
            {
              type: "set",
              key: ownKey,
              value: nodeInfoCodec.encode(record(until)),
              expect: version,
            },
          ]);
          version = result.version;
          // A renewal that lands after the old lease ran out leaves a gap in which other nodes
          // may have taken this node's actors: treat it as a loss and rejoin under a new
          // incarnation, so claims made before the gap are dead everywhere.
          if (clock.now() >= previousUntil) {
            leaseUntil = until;
            lose("lapsed");
          } else {
            leaseUntil = until;
            return;
          }
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
          lose("conflict");
        }
      }
      if (rejoin && !closed) {
        // Rejoin in the background: the heartbeat chain must not wait for another holder.
        void startJoin(true).catch((error: unknown) => {
          if (!closed) logger.error("cluster: rejoining failed", { error });
        });
      }
    });

  const readNode = async (id: string) => {
    const entry = await store.get(nodeKey(id));
    if (!entry) return undefined;
    const info = decode(entry);
    return info ? { info, version: entry.version } : undefined;
  };

  const liveNodes = async (listOptions: { readonly fresh?: boolean } = {}) => {
    const now = clock.now();
    if (!listOptions.fresh && cache && now - cache.at < refreshMs) return cache.nodes;
    const entries = await store.list({ prefix: nodesPrefix });
    const nodes: NodeInfo[] = [];
    const forgotten: StoreEntry[] = [];
    for (const entry of entries) {
      const info = decode(entry);
      if (!info) continue;
      if (info.nodeId === nodeId) {
        if (joined && info.incarnation === incarnation && now < leaseUntil) nodes.push(info);
      } else if (!lapsed(info)) {
        nodes.push(info);
      } else if (now >= info.leaseUntil + skewMs + 10 * leaseMs) {
        forgotten.push(entry);
      }
    }
    cache = { at: now, nodes };
    for (const entry of forgotten) {
      store
        .commit([{ type: "delete", key: entry.key, expect: entry.version }])
        .catch(() => undefined);
    }
    return nodes;
  };

  return {
    nodeId,
    prefix,
    leaseMs,
    maxClockSkewMs: skewMs,
    get incarnation() {
      return incarnation;
    },
    join() {
      if (closed) return Promise.reject(new TroupeError("CLOSED", "membership is closed"));
      if (joined) return Promise.resolve();
      return startJoin(false);
    },
    holdsLease: () => joined && !closed && clock.now() < leaseUntil,
    heartbeat,
    liveNodes,
    readNode,
    lapsed,
    nodeKey,
    onLeaseLost(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      if (closed) return chain.then(() => undefined);
      closed = true;
      timer?.cancel();
      return serial(async () => {
        if (!joined) return;
        joined = false;
        try {
          await store.commit([{ type: "delete", key: ownKey, expect: version }]);
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
        }
      });
    },
  };
}
