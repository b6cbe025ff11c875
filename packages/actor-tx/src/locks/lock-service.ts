import {
  type Clock,
  invalidArgument,
  jsonCodec,
  type Metrics,
  noopMetrics,
  parseWith,
  type Store,
  StoreConflictError,
  systemClock,
  type Timer,
  ulid,
} from "@troupe/core";
import { z } from "zod";
import { txError } from "../errors.js";
import {
  FREE,
  type LockMode,
  type LockRecord,
  liveHolders,
  releaseLock,
  renewLock,
  requestLock,
} from "./lock-record.js";
import { describeCycle, findDeadlock, type Waiter } from "./wait-graph.js";

/** Options of {@link createLockService}. */
export interface LockServiceOptions {
  /** Where lock and wait records live (shared by every node). */
  readonly store: Store;
  /** This node's id (recorded with holders and waiters). Default: a ULID. */
  readonly nodeId?: string;
  /** Default `"locks/"`. */
  readonly prefix?: string;
  /** Default 10,000: a holder that stops renewing loses the lock this long after its last renewal. */
  readonly leaseMs?: number;
  /** Default 1,000: how often this node looks for wait-for cycles through its waiters. */
  readonly probeIntervalMs?: number;
  /** Default probeIntervalMs / 4: how often a waiter looks at the lock again. */
  readonly pollMs?: number;
  readonly clock?: Clock;
  /** Counters `actors_lock_waits_total`, `actors_lock_deadlocks_total`. */
  readonly metrics?: Metrics;
}

/** What `acquire` takes besides the name. */
export interface AcquireOptions {
  /** Who asks: a transaction, a request, an actor (an owner may hold many locks). */
  readonly owner: string;
  /** Default "exclusive". */
  readonly mode?: LockMode;
  /** Default 30,000: give up with `LOCK_TIMEOUT`. */
  readonly timeoutMs?: number;
}

/** A granted lock. Its lease is renewed in the background until it is released. */
export interface LockHandle {
  readonly name: string;
  readonly owner: string;
  readonly mode: LockMode;
  /**
   * The fencing token: larger for every grant of this lock. Pass it with every write to the
   * guarded resource and have the resource refuse tokens smaller than the largest it saw.
   */
  readonly token: number;
  /** True once a renewal found the grant gone (the lease ran out first). */
  readonly lost: boolean;
  /** Releases the lock (a no-op when it was lost). */
  release(): Promise<void>;
}

/** Named exclusive and reader/writer locks with leases, fencing tokens and deadlock detection. */
export interface LockService {
  /**
   * Waits for the lock and returns it. Rejects with `DEADLOCK` (naming the cycle) when this
   * waiter is the youngest on a wait-for cycle, `LOCK_TIMEOUT` after `timeoutMs`, and
   * `INVALID_ARGUMENT` for a name that is not a non-empty string.
   */
  acquire(name: string, options: AcquireOptions): Promise<LockHandle>;
  /** One deadlock probe now (the background probe runs every `probeIntervalMs`). */
  probeNow(): Promise<number>;
  /** Stops probing and renewing; held locks lapse at their lease end unless released first. */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  nodeId: z.string().min(1).optional(),
  prefix: z.string().min(1).optional(),
  leaseMs: z.number().int().positive().optional(),
  probeIntervalMs: z.number().int().positive().optional(),
  pollMs: z.number().int().positive().optional(),
});

const holderSchema = z.object({
  owner: z.string(),
  mode: z.enum(["exclusive", "shared"]),
  token: z.number(),
  leaseUntil: z.number(),
  node: z.string(),
});
const recordSchema = z.object({ token: z.number(), holders: z.array(holderSchema) });
const waitSchema = z.object({
  owner: z.string(),
  lock: z.string(),
  since: z.number(),
  node: z.string(),
  leaseUntil: z.number(),
});

interface LocalWaiter {
  readonly waiter: Waiter;
  failure: unknown;
  wake: (() => void) | undefined;
}

/** A lock service on `store`; every node of a cluster creates one on the same Store and prefix. */
export function createLockService(options: LockServiceOptions): LockService {
  const checked = parseWith(optionsSchema, options, "createLockService");
  const { store } = options;
  const clock = options.clock ?? systemClock;
  const nodeId = checked.nodeId ?? ulid();
  const prefix = checked.prefix ?? "locks/";
  const leaseMs = checked.leaseMs ?? 10_000;
  const probeIntervalMs = checked.probeIntervalMs ?? 1_000;
  const pollMs = checked.pollMs ?? Math.max(1, Math.floor(probeIntervalMs / 4));
  const metrics = options.metrics ?? noopMetrics;
  const waitsTotal = metrics.counter("actors_lock_waits_total", {
    help: "Lock requests that had to wait",
  });
  const deadlocksTotal = metrics.counter("actors_lock_deadlocks_total", {
    help: "Waiters failed with DEADLOCK",
  });
  const probesTotal = metrics.counter("actors_lock_probes_total", {
    help: "Deadlock probes run over this node's waiters",
  });
  const lockKey = (name: string) => `${prefix}l/${name}`;
  const waitKey = (owner: string) => `${prefix}w/${owner}`;
  const waiters = new Map<string, LocalWaiter>();
  const renewals = new Set<Timer>();
  let closed = false;

  const readLock = async (name: string) => {
    const entry = await store.get(lockKey(name));
    const record: LockRecord =
      entry === undefined ? FREE : parseWith(recordSchema, jsonCodec.decode(entry.value), name);
    return { record, version: entry?.version };
  };
  const writeLock = (name: string, version: number | undefined, record: LockRecord, extra = []) =>
    store.commit([
      {
        type: "set",
        key: lockKey(name),
        value: jsonCodec.encode(record),
        expect: version ?? "absent",
      },
      ...extra,
    ]);

  const makeHandle = (name: string, owner: string, mode: LockMode, token: number): LockHandle => {
    let lost = false;
    let released = false;
    let timer: Timer | undefined;
    const renew = async () => {
      for (;;) {
        const { record, version } = await readLock(name);
        const next = renewLock(record, owner, token, clock.now(), leaseMs);
        if (next === undefined) {
          lost = true;
          return;
        }
        try {
          await writeLock(name, version, next);
          return;
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
        }
      }
    };
    const schedule = () => {
      if (closed || released || lost) return;
      timer = clock.setTimer(Math.floor(leaseMs / 3), () => {
        if (timer !== undefined) renewals.delete(timer);
        renew()
          .catch(() => {})
          .finally(schedule);
      });
      renewals.add(timer);
    };
    schedule();
    return {
      name,
      owner,
      mode,
      token,
      get lost() {
        return lost;
      },
      async release() {
        released = true;
        if (timer !== undefined) {
          timer.cancel();
          renewals.delete(timer);
        }
        for (;;) {
          const { record, version } = await readLock(name);
          const next = releaseLock(record, owner, token, clock.now());
          if (!next.released) return;
          try {
            await writeLock(name, version, next.record);
            return;
          } catch (error) {
            if (!StoreConflictError.isInstance(error)) throw error;
          }
        }
      },
    };
  };

  const acquire = async (name: string, request: AcquireOptions): Promise<LockHandle> => {
    if (typeof name !== "string" || name.length === 0) {
      throw invalidArgument("name", `a lock name is a non-empty string, got ${typeof name}`);
    }
    const owner = (request as { owner?: unknown } | undefined)?.owner;
    if (typeof owner !== "string" || owner.length === 0) {
      throw invalidArgument("owner", `a lock owner is a non-empty string, got ${typeof owner}`);
    }
    const mode = request.mode ?? "exclusive";
    if (mode !== "exclusive" && mode !== "shared") {
      throw invalidArgument("mode", `expected "exclusive" or "shared", got ${String(mode)}`);
    }
    if (waiters.has(owner)) {
      throw invalidArgument("owner", `${owner} is already waiting for a lock on this node`);
    }
    const deadline = clock.now() + (request.timeoutMs ?? 30_000);
    let local: LocalWaiter | undefined;
    let waitLeaseUntil = 0;
    try {
      for (;;) {
        if (local?.failure !== undefined) throw local.failure;
        const { record, version } = await readLock(name);
        const now = clock.now();
        const result = requestLock(record, { owner, mode, node: nodeId }, now, leaseMs);
        if (result.granted) {
          try {
            await writeLock(
              name,
              version,
              result.record,
              local === undefined ? [] : ([{ type: "delete", key: waitKey(owner) }] as never),
            );
          } catch (error) {
            if (StoreConflictError.isInstance(error)) continue;
            throw error;
          }
          return makeHandle(name, owner, mode, result.holder.token);
        }
        if (now >= deadline) {
          throw txError("LOCK_TIMEOUT", `lock ${JSON.stringify(name)}: ${owner} waited too long`, {
            lock: name,
            owner,
            holders: result.blockers,
          });
        }
        if (local === undefined) {
          local = {
            waiter: { owner, lock: name, since: now, node: nodeId },
            failure: undefined,
            wake: undefined,
          };
          waiters.set(owner, local);
          waitsTotal.inc();
        }
        // The wait record carries a lease too, so a dead node's waiters drop out of the graph.
        if (waitLeaseUntil - now < leaseMs / 2) {
          waitLeaseUntil = now + leaseMs;
          await store.commit([
            {
              type: "set",
              key: waitKey(owner),
              value: jsonCodec.encode({ ...local.waiter, leaseUntil: waitLeaseUntil }),
            },
          ]);
        }
        const current = local;
        await new Promise<void>((resolve) => {
          const timer = clock.setTimer(Math.min(pollMs, deadline - now), () => resolve());
          current.wake = () => {
            timer.cancel();
            resolve();
          };
        });
        current.wake = undefined;
      }
    } finally {
      if (local !== undefined) {
        waiters.delete(owner);
        await store.commit([{ type: "delete", key: waitKey(owner) }]).catch(() => {});
      }
    }
  };

  const probeNow = async (): Promise<number> => {
    if (waiters.size === 0) return 0;
    probesTotal.inc();
    const now = clock.now();
    const waitEntries = await store.list({ prefix: `${prefix}w/` });
    const all: Waiter[] = [];
    for (const entry of waitEntries) {
      const parsed = waitSchema.safeParse(jsonCodec.decode(entry.value));
      if (parsed.success && parsed.data.leaseUntil > now) all.push(parsed.data);
    }
    const names = [...new Set(all.map((w) => w.lock))];
    const records = await store.getMany(names.map(lockKey));
    const holders = new Map<string, readonly string[]>();
    names.forEach((name, i) => {
      const entry = records[i];
      if (entry === undefined) return;
      const parsed = recordSchema.safeParse(jsonCodec.decode(entry.value));
      if (parsed.success)
        holders.set(
          name,
          liveHolders(parsed.data, now).map((h) => h.owner),
        );
    });
    let failed = 0;
    for (const local of waiters.values()) {
      if (local.failure !== undefined) continue;
      const deadlock = findDeadlock(local.waiter.owner, all, holders);
      if (deadlock === undefined || deadlock.victim.owner !== local.waiter.owner) continue;
      local.failure = txError(
        "DEADLOCK",
        `lock ${JSON.stringify(local.waiter.lock)}: ${local.waiter.owner} was chosen to break a deadlock (the youngest waiter): ${describeCycle(deadlock)}`,
        { cycle: deadlock.cycle, victim: local.waiter.owner },
      );
      deadlocksTotal.inc();
      failed += 1;
      local.wake?.();
    }
    return failed;
  };

  let probeTimer: Timer | undefined;
  const scheduleProbe = () => {
    if (closed) return;
    probeTimer = clock.setTimer(probeIntervalMs, () => {
      probeNow()
        .catch(() => {})
        .finally(scheduleProbe);
    });
  };
  scheduleProbe();

  return {
    acquire,
    probeNow,
    async close() {
      closed = true;
      probeTimer?.cancel();
      for (const timer of renewals) timer.cancel();
      renewals.clear();
    },
  };
}
