import { createJsonCodec, type StoreEntry, type StoreOp } from "@troupe/core";
import type { FlowKeys } from "../keys.js";
import { isTerminal, type RunRecord } from "../run-state.js";
import type { ExpiryEntry } from "./expiry-index.js";

/** What the sweeper counts as removed (the `kind` label of `troupe_retention_removed_total`). */
export type RemovedKind =
  | "event"
  | "event_skip"
  | "dedupe"
  | "run"
  | "runs_by_event"
  | "rate_limit"
  | "idempotency"
  | "throttle";

/** The deletes for one due index entry, and what they remove. */
export interface ExpiryPlan {
  /** Deletes to commit together (the index entry's own delete included). */
  readonly ops: readonly StoreOp[];
  /** Records removed, by kind. */
  readonly removed: Partial<Record<RemovedKind, number>>;
}

/** What planning needs besides the entry. */
export interface ExpiryPlanContext {
  readonly keys: FlowKeys;
  readonly now: number;
  readonly dedupeWindowMs: number;
}

const codec = createJsonCodec<unknown>();

/** The key whose current entry the plan of `entry` depends on (a run, a dedupe key), if any. */
export function keyToRead(entry: ExpiryEntry, keys: FlowKeys): string | undefined {
  if (entry.kind === "run") return keys.run(entry.id);
  if (entry.kind === "dedupe") return entry.keys[0];
  return undefined;
}

/**
 * What to delete for a due index entry, given the current entry of {@link keyToRead}. Pure.
 * A run is deleted only once finished (an unfinished run keeps everything; only the stale index
 * entry goes), guarded by the version read; a dedupe key only when its window has passed since
 * it was last set (a key set again meanwhile has a newer entry of its own).
 */
export function planExpiry(
  entry: ExpiryEntry,
  current: StoreEntry | undefined,
  context: ExpiryPlanContext,
): ExpiryPlan {
  // Guarded: when two processes sweep the same entry, one commit wins and only it counts.
  const dropEntry: StoreOp = { type: "delete", key: entry.key, expect: entry.version };
  switch (entry.kind) {
    case "event": {
      const skips = context.keys.eventSkips(entry.id);
      return {
        ops: [...entry.keys.map((key) => ({ type: "delete", key }) as const), dropEntry],
        removed: { event: 1, event_skip: entry.keys.filter((key) => key.startsWith(skips)).length },
      };
    }
    case "skip":
      return {
        ops: [...entry.keys.map((key) => ({ type: "delete", key }) as const), dropEntry],
        removed: { event_skip: entry.keys.length },
      };
    case "dedupe": {
      if (!current) return { ops: [dropEntry], removed: {} };
      const { at, eventId } = codec.decode(current.value) as { at: number; eventId?: string };
      if (at + context.dedupeWindowMs > context.now) {
        // Set again by another event: that one filed its own entry. Still this event's (a clock
        // that stepped back): left for a later pass rather than forgotten.
        return eventId === entry.id ? { ops: [], removed: {} } : { ops: [dropEntry], removed: {} };
      }
      return {
        ops: [{ type: "delete", key: current.key, expect: current.version }, dropEntry],
        removed: { dedupe: 1 },
      };
    }
    case "run": {
      if (!current) return { ops: [dropEntry], removed: {} };
      const run = codec.decode(current.value) as RunRecord;
      // Never delete a run that is still queued, running, sleeping or waiting.
      if (!isTerminal(run.status)) return { ops: [dropEntry], removed: {} };
      const { keys } = context;
      return {
        ops: [
          { type: "delete", key: current.key, expect: current.version },
          { type: "delete", key: keys.runByFunction(run.functionId, run.id) },
          { type: "delete", key: keys.runAll(run.id) },
          ...run.events.map((event) => ({
            type: "delete" as const,
            key: keys.runByEvent(event.id, run.id),
          })),
          dropEntry,
        ],
        removed: { run: 1, runs_by_event: run.events.length },
      };
    }
  }
}
