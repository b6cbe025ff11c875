import { type Lease, type Unsubscribe, validateLeaseOwner } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import type { LoadedRun } from "./run-store.js";
import type { ProcessLease } from "./worker-lease.js";

/** The background worker of an engine, and its synchronous twin `runDue`. */
export interface WorkerLoop {
  /** Starts the loop; with `workerId`, first takes back the leases held under it (see `Flows.start`). */
  start(workerId?: string): Promise<void>;
  stop(): Promise<void>;
  /** Processes everything due now without a background worker; resolves to items processed. */
  runDue(): Promise<number>;
  /** True while started. */
  running(): boolean;
  /** The identity claims are made under (`start(workerId)`), if any. */
  owner(): string | undefined;
  /**
   * Reserves up to `count` free slots for items this process leases to itself in the commit
   * that creates them; resolves to how many were reserved (0 while the worker is stopped).
   */
  reserve(count: number): number;
  /** Gives back `count` reserved slots that no lease came for. */
  unreserve(count: number): void;
  /**
   * Processes `lease` in a reserved slot, with its run as just committed (no claim round trip,
   * no re-read). A worker stopped meanwhile releases the item for any claimer instead.
   */
  adopt(lease: Lease, preloaded?: LoadedRun): void;
}

/** What the loop drives. */
export interface WorkerLoopDeps {
  readonly processLease: ProcessLease;
  readonly sweep: () => Promise<number>;
  /** The PubSub channel that wakes this worker from other processes. */
  readonly wakeChannel: string;
  /** Hold the process open while started. */
  readonly keepProcessAlive: boolean;
}

/**
 * Creates the worker loop: claims up to `workerConcurrency` items at a time, processes them
 * concurrently, sweeps every `sweepIntervalMs`, and sleeps when there is nothing to do until the
 * next item is due, a wake-up comes, or `pollIntervalMs` passes.
 */
export function createWorkerLoop(ctx: FlowsContext, deps: WorkerLoopDeps): WorkerLoop {
  const { queue, clock, logger, wakeUps } = ctx;
  const { workerConcurrency, leaseMs, pollIntervalMs, sweepIntervalMs } = ctx.settings;
  let running = false;
  let loop: Promise<void> | undefined;
  let unsubscribe: Unsubscribe | undefined;
  let keepAlive: ReturnType<typeof setInterval> | undefined;
  const active = new Set<Promise<void>>();
  let reserved = 0;
  let nextSweepAt = 0;
  let owner: string | undefined;

  const startTask = (lease: Lease, preloaded?: LoadedRun) => {
    const task: Promise<void> = deps.processLease(lease, preloaded).finally(() => {
      // Only a full worker waits for a slot; new work wakes the loop through enqueue.
      const wasFull = active.size + reserved >= workerConcurrency;
      active.delete(task);
      if (wasFull) wakeUps.wakeLocal();
    });
    active.add(task);
  };

  const workerLoop = async () => {
    while (running) {
      // Noted before looking for work: a wake-up from here on makes the idle wait return at once.
      const seen = wakeUps.generation();
      try {
        if (clock.now() >= nextSweepAt) {
          nextSweepAt = clock.now() + sweepIntervalMs;
          await deps.sweep();
        }
        const free = workerConcurrency - active.size - reserved;
        let claimed = 0;
        if (free > 0) {
          const leases = await queue.claim({
            limit: free,
            leaseMs,
            ...(owner === undefined ? {} : { owner }),
          });
          claimed = leases.length;
          for (const lease of leases) startTask(lease);
        }
        // A full claim may have left more due items; a partial one took all that were due.
        if (claimed > 0 && claimed >= free) continue;
        if (free <= 0 || active.size + reserved >= workerConcurrency) {
          // Every slot is busy: a finishing item wakes the loop.
          if (running) await wakeUps.idle(pollIntervalMs, seen);
          continue;
        }
        const nextAt = await queue.nextAvailableAt();
        const delay =
          nextAt === undefined
            ? pollIntervalMs
            : Math.min(pollIntervalMs, Math.max(1, nextAt - clock.now()));
        if (!running) break;
        await wakeUps.idle(delay, seen);
      } catch (error) {
        logger.error("flows: worker loop error", { error });
        // After an error, back off a full interval even if wake-ups keep coming.
        if (running) await wakeUps.idle(pollIntervalMs, wakeUps.generation());
      }
    }
  };

  return {
    running: () => running,
    owner: () => owner,
    reserve(count) {
      if (!running) return 0;
      const taken = Math.max(0, Math.min(count, workerConcurrency - active.size - reserved));
      reserved += taken;
      return taken;
    },
    unreserve(count) {
      reserved = Math.max(0, reserved - count);
      // A slot came free: a worker that waited for one may claim again.
      if (count > 0) wakeUps.wakeLocal();
    },
    adopt(lease, preloaded) {
      reserved = Math.max(0, reserved - 1);
      if (running) {
        startTask(lease, preloaded);
        return;
      }
      queue.retry(lease).then(
        () => wakeUps.wake(),
        (error: unknown) => logger.warn("flows: releasing a handed-over item failed", { error }),
      );
    },
    async start(workerId) {
      if (running) return;
      if (workerId !== undefined) {
        validateLeaseOwner(workerId, "start.workerId");
        // A crash left these leased to a process that is gone: claimable now, not at lapse.
        const released = (await queue.releaseOwner?.(workerId)) ?? 0;
        if (released > 0) logger.info("flows: took back leases of an earlier worker", { released });
      }
      owner = workerId;
      running = true;
      // A ref'd handle that does nothing: the worker's own timers come from the Clock, which
      // must not keep a process alive, but a started worker is a server and should.
      if (deps.keepProcessAlive) keepAlive = setInterval(() => {}, 1 << 30);
      if (ctx.pubsub)
        unsubscribe = await ctx.pubsub.subscribe(deps.wakeChannel, (message) =>
          wakeUps.received(message),
        );
      await ctx.cron.ensureScheduled();
      nextSweepAt = 0;
      loop = workerLoop();
    },
    async stop() {
      running = false;
      if (keepAlive) clearInterval(keepAlive);
      keepAlive = undefined;
      wakeUps.wakeLocal();
      await loop;
      loop = undefined;
      await Promise.all([...active]);
      await unsubscribe?.();
      unsubscribe = undefined;
      await ctx.runs.flushMarkers();
    },
    async runDue() {
      await ctx.cron.ensureScheduled();
      await ctx.cron.settled();
      let processed = 0;
      for (;;) {
        const leases = await queue.claim({ limit: workerConcurrency, leaseMs });
        if (leases.length === 0) break;
        await Promise.all(leases.map((lease) => deps.processLease(lease)));
        processed += leases.length;
      }
      await ctx.runs.flushMarkers();
      return processed;
    },
  };
}
