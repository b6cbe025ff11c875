import { createJsonCodec } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import type { FlowEvent } from "./event.js";
import { matches } from "./expression.js";
import { ulidFloor } from "./keys.js";
import { type RunRecord, waitKeys } from "./run-state.js";
import type { Lookback } from "./run-transitions/transition.js";
import { decodeWaitEntry } from "./wait-entry.js";
import { candidateWaits, waitIndexKeys } from "./wait-index.js";

/**
 * Events meeting waits. An incoming event is stored first, then matched against the waits and
 * cancel rules registered for its name; a new wait is committed first, then looks back over
 * recent events of its name. So an event and a wait racing each other always meet, and matching
 * twice is harmless because resolution is guarded.
 */
export interface WaitMatching {
  /** Resolves waits and cancellations matched by `events` (listed once per event name). */
  deliver(events: readonly FlowEvent[]): Promise<void>;
  /**
   * Matches a just-registered wait against events that arrived up to `waitLookbackMs` before it
   * (and after the run was created); resolves to the run if the wait was resolved.
   */
  lookback(run: RunRecord, wait: Lookback): Promise<RunRecord | undefined>;
}

const codec = createJsonCodec<unknown>();

/** Creates the wait matching of an engine. */
export function createWaitMatching(ctx: FlowsContext): WaitMatching {
  const { store, keys } = ctx;
  const waitIndex = waitIndexKeys(ctx.prefix);
  return {
    async deliver(events) {
      const byName = new Map<string, FlowEvent[]>();
      for (const event of events)
        byName.set(event.name, [...(byName.get(event.name) ?? []), event]);
      for (const [name, named] of byName) {
        const entries = await candidateWaits(
          ctx.reads,
          waitIndex,
          name,
          named,
          keys.waitsFor(name),
        );
        if (entries.length === 0) continue;
        const now = ctx.clock.now();
        const used = new Set<string>();
        for (const event of named) {
          for (const entry of entries) {
            if (used.has(entry.key)) continue;
            const wait = decodeWaitEntry(entry.value);
            if (wait.expiresAt <= now) continue;
            if (
              wait.condition !== undefined &&
              !matches(wait.condition, { event: wait.triggerEvent, async: event })
            )
              continue;
            used.add(entry.key);
            if (wait.kind === "cancel") {
              await ctx.actions.cancel(wait.runId, {
                name: "FLOWS_CANCELLED",
                message: `cancelled by event ${event.name} (${event.id})`,
              });
            } else if (wait.hash !== undefined) {
              const key = entry.key;
              await ctx.actions.resolvePending(wait.runId, wait.hash, (step) =>
                step.status === "waiting" && waitKeys(step).includes(key)
                  ? { data: event }
                  : undefined,
              );
            }
          }
        }
      }
    },

    async lookback(run, wait) {
      const now = ctx.clock.now();
      const from = Math.max(now - ctx.settings.waitLookbackMs, run.createdAt);
      const own = new Set(run.events.map((event) => event.id));
      const entries = await store.list({
        prefix: keys.eventsByName(wait.event),
        start: keys.eventByName(wait.event, ulidFloor(from)),
      });
      for (const entry of entries) {
        const event = codec.decode(entry.value) as FlowEvent;
        if (own.has(event.id)) continue;
        if (
          wait.condition !== undefined &&
          !matches(wait.condition, { event: run.events[0], async: event })
        )
          continue;
        return ctx.actions.resolvePending(run.id, wait.hash, (step) =>
          step.status === "waiting" ? { data: event } : undefined,
        );
      }
      return undefined;
    },
  };
}
