import { type Lease, TroupeError } from "@troupe/core";
import { createAckBatcher } from "./ack-batcher.js";
import type { FlowsContext } from "./engine-context.js";
import { fireFlowControlItem } from "./flow-control/admission.js";
import type { LeaseGate } from "./flow-control/execution.js";
import { decodeItem, deriveItems, type Item, type RunItem } from "./queue-items.js";
import { isTerminal, type RunRecord } from "./run-state.js";
import type { LoadedRun } from "./run-store.js";
import type { AdvanceRun } from "./worker-advance.js";

/**
 * Processes one claimed queue item to the end: acknowledged, retried later, or left to lapse.
 * `preloaded` is the item's run as this process just committed it (an item leased in the
 * commit that created the run), used instead of reading the run again.
 */
export type ProcessLease = (lease: Lease, preloaded?: LoadedRun) => Promise<void>;

const isRunItem = (item: Item): item is RunItem => "runId" in item;

/** Creates the worker's lease processing over `advance`. */
export function createLeaseProcessing(ctx: FlowsContext, advance: AdvanceRun): ProcessLease {
  const { queue, logger } = ctx;
  const { leaseMs, maxInlineSteps } = ctx.settings;
  // Items settled by concurrent leases in the same turn are acknowledged in one ackMany.
  const acks = createAckBatcher(queue);

  /** Enqueues what the run's state calls for, then acknowledges or re-arms the lease's item. */
  const settle = async (lease: Lease, run: RunRecord | undefined) => {
    try {
      if (run && isTerminal(run.status)) await ctx.lifecycle.afterTerminal(run);
      const derived = run ? deriveItems(run, ctx.clock.now()) : [];
      const own = derived.find((item) => item.id === lease.id);
      await ctx.enqueue(derived.filter((item) => item.id !== lease.id));
      if (own) {
        await queue.retry(
          lease,
          own.availableAt === undefined ? {} : { availableAt: own.availableAt },
        );
        // The idle worker learns the item's new due time.
        ctx.wakeUps.wakeLocal();
      } else await acks.ack(lease);
    } catch (error) {
      // A lost lease means another worker holds the item now; it will redo this harmlessly.
      if (!TroupeError.isInstance(error, "LEASE_LOST")) throw error;
    }
  };

  /** Extends the lease every `leaseMs / 2` while the item is processed. */
  const keepLease = (lease: Lease) => {
    const state = { lost: false, stopped: false };
    const keeper = {
      state,
      /** Called after each extension (concurrency slots follow the lease). */
      onExtended: undefined as (() => Promise<void>) | undefined,
      stop: () => {
        state.stopped = true;
        timer.cancel();
      },
    };
    let timer = ctx.clock.setTimer(Math.floor(leaseMs / 2), function tick() {
      if (state.stopped) return;
      queue.extend(lease, leaseMs).then(
        () => {
          keeper.onExtended?.().catch((error: unknown) => {
            logger.warn("flows: extending concurrency slots failed", { error });
          });
          if (!state.stopped) timer = ctx.clock.setTimer(Math.floor(leaseMs / 2), tick);
        },
        () => {
          state.lost = true;
        },
      );
    });
    return keeper;
  };

  return async (lease, preloaded) => {
    let item: Item;
    try {
      item = decodeItem(lease.payload);
    } catch (error) {
      logger.error("flows: dropping an unreadable queue item", { id: lease.id, error });
      await acks.ack(lease).catch(() => undefined);
      return;
    }
    const keeper = keepLease(lease);
    let gate: LeaseGate | undefined;
    try {
      if (item.kind === "cron") {
        await ctx.cron.fire(item);
        await acks.ack(lease).catch(() => undefined);
        return;
      }
      if (item.kind === "debounce" || item.kind === "batch") {
        const firing = await fireFlowControlItem(ctx.flowControl, item);
        if (firing.committed) await ctx.ingest.dispatch(firing.committed);
        if (firing.retryAt === undefined) await acks.ack(lease).catch(() => undefined);
        else {
          await queue.retry(lease, { availableAt: firing.retryAt }).catch(() => undefined);
          ctx.wakeUps.wakeLocal();
        }
        return;
      }
      if (!isRunItem(item)) return;
      let current: RunItem = item;
      let saved = preloaded?.run.id === item.runId ? preloaded : undefined;
      let resume: unknown;
      gate = { lease };
      const held = gate;
      keeper.onExtended = () => ctx.execution.extend(held);
      for (let inline = 0; ; inline++) {
        const result = await advance(current, saved, gate, resume);
        resume = undefined;
        if (result.parked && result.run) {
          // Parked in the Store behind a full concurrency key; a release re-enqueues it.
          await acks.ack(lease).catch(() => undefined);
          await ctx.execution.afterPark(gate, result.run);
          gate = undefined;
          return;
        }
        if (
          result.next &&
          isRunItem(result.next) &&
          inline < maxInlineSteps &&
          !keeper.state.lost
        ) {
          current = result.next;
          saved = result.saved;
          resume = result.resume;
          continue;
        }
        // Acknowledged with the run's last commit: nothing to enqueue, nothing to ack.
        if (!result.acked) await settle(lease, result.run);
        const settled = gate;
        gate = undefined;
        await ctx.execution.release(settled, result.run);
        return;
      }
    } catch (error) {
      // Leave the item leased: it is retried when the lease lapses (the state is the truth).
      logger.error("flows: processing an item failed; it will be retried", { id: lease.id, error });
    } finally {
      keeper.stop();
      // Slots go back even when processing failed, so a failing store call cannot pin a key.
      if (gate?.held) {
        await ctx.execution.release(gate, undefined).catch((error: unknown) => {
          logger.warn("flows: releasing concurrency slots failed; they expire with the lease", {
            error,
          });
        });
      }
    }
  };
}
