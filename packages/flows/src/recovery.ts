import { createJsonCodec, StoreConflictError } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import type { FlowEvent } from "./event.js";
import { deriveItems } from "./queue-items.js";

/** How many markers one sweep redoes at most. */
const MARKERS_PER_SWEEP = 1000;

const codec = createJsonCodec<unknown>();

/**
 * Recovery, run by every started worker every `sweepIntervalMs` (and by `flows.sweep()`): redoes
 * the work after commits whose process died before finishing it (markers older than
 * `sweepGraceMs`) and wakes parked items of concurrency keys whose holders died. Resolves to the
 * markers redone.
 */
export function createRecovery(ctx: FlowsContext): () => Promise<number> {
  return async () => {
    const cutoff = ctx.clock.now() - ctx.settings.sweepGraceMs;
    let handled = 0;
    for (const { key, version, marker } of await ctx.runs.listMarkers(MARKERS_PER_SWEEP)) {
      if (marker.at > cutoff) continue;
      for (const runId of marker.runIds) {
        const loaded = await ctx.runs.load(runId);
        if (loaded) await ctx.enqueue(deriveItems(loaded.run, ctx.clock.now()));
      }
      if (marker.flow) await ctx.ingest.followUp(marker.flow);
      if (marker.eventIds !== undefined && marker.eventIds.length > 0) {
        const stored = await ctx.store.getMany(marker.eventIds.map((id) => ctx.keys.event(id)));
        await ctx.waits.deliver(
          stored.flatMap((entry) => (entry ? [codec.decode(entry.value) as FlowEvent] : [])),
        );
      }
      await ctx.store.commit([{ type: "delete", key, expect: version }]).catch((error: unknown) => {
        if (!StoreConflictError.isInstance(error)) throw error;
      });
      handled++;
    }
    // Parked items of concurrency keys whose holders died: woken once their slots expired.
    await ctx.execution.concurrency.sweep();
    // Expired flow-control keys are the retention sweeper's (retention/retention-sweeper.ts).
    return handled;
  };
}
