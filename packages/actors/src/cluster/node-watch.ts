import type { Clock, Logger, Timer } from "@troupe/core";
import type { Membership } from "./membership.js";

/** Watches other nodes' leases on behalf of calls in flight to them. */
export interface NodeWatch {
  /**
   * Calls `onLapsed` once `nodeId` counts as dead — its record is gone, its lease lapsed (with
   * the clock-skew margin), or it joined again under a new incarnation — and a grace of a third
   * of the lease has passed without the call being answered. Returns a function that stops
   * watching.
   */
  watch(nodeId: string, onLapsed: () => void): () => void;
  /** Stops every watch (nothing is called any more). */
  close(): void;
}

interface Watched {
  readonly listeners: Set<() => void>;
  /** The incarnation the calls were sent to, once known. */
  incarnation: string | undefined;
  timer: Timer | undefined;
}

/**
 * How long calls still waiting on a node that was found lapsed get to be answered before they
 * are told: one default heartbeat (a third of the lease).
 */
export function lapseGraceMs(leaseMs: number): number {
  return Math.max(1, Math.floor(leaseMs / 3));
}

/**
 * One watcher per node with calls in flight, however many calls: it sleeps until the node's lease
 * would lapse unless renewed (`leaseUntil + maxClockSkewMs`, from the cached node list, so a call
 * costs no Store read), then reads the node's record. Renewed: it sleeps until the new lease
 * would lapse. Lapsed, gone or reborn: the calls still waiting on the node after a grace of
 * {@link lapseGraceMs} are told. A node that dies is thus given up within
 * `leaseMs + maxClockSkewMs + leaseMs / 3` of its last renewal, never later. A watcher whose calls
 * all finished ends at its next wake-up.
 */
export function createNodeWatch(options: {
  readonly membership: Membership;
  readonly clock: Clock;
  readonly logger: Logger;
}): NodeWatch {
  const { membership, clock, logger } = options;
  const watched = new Map<string, Watched>();
  const graceMs = lapseGraceMs(membership.leaseMs);
  let closed = false;

  const sleepUntilLapse = (nodeId: string, entry: Watched, leaseUntil: number) => {
    if (closed) return;
    const delay = Math.max(1, leaseUntil + membership.maxClockSkewMs - clock.now());
    entry.timer = clock.setTimer(delay, () => {
      entry.timer = undefined;
      void check(nodeId, entry);
    });
  };

  const end = (nodeId: string, entry: Watched) => {
    if (watched.get(nodeId) === entry) watched.delete(nodeId);
    entry.timer?.cancel();
    entry.timer = undefined;
  };

  const check = async (nodeId: string, entry: Watched) => {
    if (closed) return;
    if (entry.listeners.size === 0) {
      end(nodeId, entry);
      return;
    }
    let record: Awaited<ReturnType<Membership["readNode"]>>;
    try {
      record = await membership.readNode(nodeId);
    } catch (error) {
      // The Store is unreachable: look again a heartbeat later rather than declare a node dead.
      logger.warn("cluster: could not read a node record while calls wait on it", {
        node: nodeId,
        error,
      });
      sleepUntilLapse(nodeId, entry, clock.now() + Math.max(1, Math.floor(membership.leaseMs / 3)));
      return;
    }
    const info = record?.info;
    const alive =
      info !== undefined &&
      !membership.lapsed(info) &&
      (entry.incarnation === undefined || entry.incarnation === info.incarnation);
    if (alive) {
      entry.incarnation ??= info.incarnation;
      sleepUntilLapse(nodeId, entry, info.leaseUntil);
      return;
    }
    end(nodeId, entry);
    // The node's last chance to answer: one that merely stalled notices its own lapse at its
    // next heartbeat and fails its calls (LEASE_LOST), and a request that never reached a dead
    // node gets the Transport's "nobody listens" answer. Calls answered meanwhile have stopped
    // watching; the rest are told now.
    clock.setTimer(graceMs, () => {
      const listeners = [...entry.listeners];
      entry.listeners.clear();
      for (const listener of listeners) {
        try {
          listener();
        } catch (error) {
          logger.error("cluster: a node-lapse listener threw", { error });
        }
      }
    });
  };

  const start = async (nodeId: string, entry: Watched) => {
    let leaseUntil: number | undefined;
    try {
      const info = (await membership.liveNodes()).find((node) => node.nodeId === nodeId);
      if (info !== undefined) {
        entry.incarnation = info.incarnation;
        leaseUntil = info.leaseUntil;
      }
    } catch {
      // Fall through to a direct read of the record.
    }
    if (leaseUntil === undefined) await check(nodeId, entry);
    else sleepUntilLapse(nodeId, entry, leaseUntil);
  };

  return {
    watch(nodeId, onLapsed) {
      let entry = watched.get(nodeId);
      if (entry === undefined) {
        entry = { listeners: new Set(), incarnation: undefined, timer: undefined };
        watched.set(nodeId, entry);
        entry.listeners.add(onLapsed);
        void start(nodeId, entry);
      } else entry.listeners.add(onLapsed);
      const listeners = entry.listeners;
      return () => {
        listeners.delete(onLapsed);
      };
    },
    close() {
      closed = true;
      for (const [nodeId, entry] of watched) end(nodeId, entry);
      watched.clear();
    },
  };
}
