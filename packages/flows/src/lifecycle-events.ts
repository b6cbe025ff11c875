import type { FlowsContext } from "./engine-context.js";
import type { EventInput } from "./event.js";
import { releaseSingleton } from "./flow-control/admission.js";
import { INTERNAL_EVENTS } from "./function.js";
import { itemId } from "./queue-items.js";
import type { RunRecord } from "./run-state.js";
import { invokedRunsToCancel } from "./run-transitions/cascade-cancel.js";

/** What follows a run's end. */
export interface LifecycleEvents {
  /**
   * Follow-ups of a finished run: its singleton key is released, its deadline item removed, its
   * parent's `step.invoke` resolved, the children a cancelled run still waited for cancelled, and `inngest/function.failed` (always), `.cancelled` and
   * `.finished` (when some function triggers on them) sent. Idempotent (event ids are derived
   * from the run), so redoing it after a crash is harmless.
   */
  afterTerminal(run: RunRecord): Promise<void>;
  /**
   * False when `afterTerminal` has nothing to do for `run` (no singleton key, deadline item,
   * parent or listened lifecycle event): then the run's end and its item's ack may share a
   * commit, since no follow-up work needs the item to stay leased until it is done.
   */
  hasWorkAfter(run: RunRecord): boolean;
}

/** The lifecycle events a finished run sends, in order. */
export function lifecycleEventsOf(
  run: RunRecord,
  listened: (name: string) => boolean,
): EventInput[] {
  // A run started by a lifecycle event emits none itself: a function listening to
  // `inngest/function.finished` would otherwise trigger itself forever.
  const trigger = run.events[0]?.name;
  if (
    trigger === INTERNAL_EVENTS.finished ||
    trigger === INTERNAL_EVENTS.cancelled ||
    trigger === INTERNAL_EVENTS.failed
  )
    return [];
  const event = run.events[0] ?? null;
  const events: EventInput[] = [];
  if (run.status === "failed") {
    events.push({
      name: INTERNAL_EVENTS.failed,
      id: `${run.id}:failed`,
      data: {
        function_id: run.functionId,
        run_id: run.id,
        error: run.error ?? { name: "Error", message: "failed" },
        event,
      },
    });
  }
  if (run.status === "cancelled" && listened(INTERNAL_EVENTS.cancelled)) {
    events.push({
      name: INTERNAL_EVENTS.cancelled,
      id: `${run.id}:cancelled`,
      data: {
        function_id: run.functionId,
        run_id: run.id,
        error: run.error ?? { name: "FLOWS_CANCELLED", message: "cancelled" },
        event,
      },
    });
  }
  if (listened(INTERNAL_EVENTS.finished)) {
    events.push({
      name: INTERNAL_EVENTS.finished,
      id: `${run.id}:finished`,
      data: {
        function_id: run.functionId,
        run_id: run.id,
        status: run.status,
        // The triggering event(s), as Inngest sends them: listeners need not read the run.
        event,
        events: run.events,
        ...(run.output === undefined ? {} : { result: run.output }),
        ...(run.error === undefined ? {} : { error: run.error }),
      },
    });
  }
  return events;
}

/** Creates the lifecycle follow-ups of an engine. */
export function createLifecycleEvents(ctx: FlowsContext): LifecycleEvents {
  return {
    hasWorkAfter(run) {
      return (
        ctx.registry.definition(run.functionId)?.singleton !== undefined ||
        run.finishBy !== undefined ||
        run.parent !== undefined ||
        lifecycleEventsOf(run, (name) => ctx.registry.hasTriggers(name)).length > 0
      );
    },
    async afterTerminal(run) {
      await releaseSingleton(ctx.flowControl, run);
      if (run.finishBy !== undefined) {
        await ctx.queue.remove(itemId({ kind: "deadline", runId: run.id })).catch(() => false);
      }
      if (run.parent) {
        const { runId, hash } = run.parent;
        await ctx.actions.resolvePending(runId, hash, (step) => {
          if (step.status !== "invoking" || step.child?.runId !== run.id) return undefined;
          if (run.status === "completed") return { data: run.output ?? null };
          return { error: run.error ?? { name: "Error", message: `invoked run ${run.status}` } };
        });
      }
      for (const childId of invokedRunsToCancel(run)) {
        await ctx.actions.cancel(childId, {
          name: "FLOWS_CANCELLED",
          message: `cancelled with the run that invoked it (${run.id})`,
        });
      }
      for (const event of lifecycleEventsOf(run, (name) => ctx.registry.hasTriggers(name))) {
        await ctx.ingest.one(event, {});
      }
    },
  };
}
