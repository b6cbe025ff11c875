import { parseWith, type Store } from "@troupe/core";
import { z } from "zod";
import {
  checkExpression,
  durationInput,
  durationWithin,
  expressionInput,
  listKeyedStates,
} from "./parse-option.js";

const SECOND = 1000;
const MINUTE = 60_000;

/** `batchEvents` as users write it. */
export const batchEventsSchema = z.strictObject({
  maxSize: z.number().int().min(2).max(1000),
  timeout: durationInput,
  key: expressionInput.optional(),
  if: expressionInput.optional(),
});

/** `batchEvents` as `FunctionConfig` takes it. */
export type BatchEventsOption = z.input<typeof batchEventsSchema>;

/** `batchEvents` in a function definition. */
export interface BatchEventsDefinition {
  readonly maxSize: number;
  readonly timeoutMs: number;
  readonly key?: string;
  readonly if?: string;
}

/**
 * Validates `batchEvents`: maxSize 2..1000 (Inngest's server rejects batches of 1; its plans cap
 * at 500), timeout 1 s..5 min (Inngest's documented range, paid plans). Errors name
 * `field.maxSize`, `field.timeout` …
 */
export function parseBatchEvents(input: unknown, field: string): BatchEventsDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(batchEventsSchema, input, field);
  const timeoutMs = durationWithin(parsed.timeout, `${field}.timeout`, SECOND, 5 * MINUTE);
  if (parsed.key !== undefined) checkExpression(parsed.key, `${field}.key`);
  if (parsed.if !== undefined) checkExpression(parsed.if, `${field}.if`);
  return {
    maxSize: parsed.maxSize,
    timeoutMs,
    ...(parsed.key === undefined ? {} : { key: parsed.key }),
    ...(parsed.if === undefined ? {} : { if: parsed.if }),
  };
}

/**
 * One open batch. Every change is a guarded write of this record (in the same commit as the
 * events it adds), so two ingesters adding at once conflict and one retries: an event lands in
 * exactly one batch. `g` (the first event's id) names the batch for its flush item.
 */
export interface BatchState {
  /** The key's value. */
  readonly key: string;
  /** The batch: the id of its first event. */
  readonly g: string;
  /** When the first event arrived, ms. */
  readonly first: number;
  /** When the batch flushes if it does not fill up first, ms. */
  readonly deadline: number;
  /** The events' ids in arrival order. */
  readonly events: string[];
}

/** An open batch as `getFlowControlState` shows it. */
export interface PendingBatch {
  /** The key's value ("" without a key). */
  readonly key: string;
  /** Events in the batch so far. */
  readonly size: number;
  /** Their ids in arrival order. */
  readonly eventIds: readonly string[];
  /** When the first event arrived, ms. */
  readonly firstAt: number;
  /** When the batch runs unless it fills up first, ms. */
  readonly runAt: number;
}

/** Open batches of a function, at most `limit`, in key-hash order. */
export async function listPendingBatches(
  store: Store,
  prefix: string,
  functionId: string,
  limit = 1000,
): Promise<PendingBatch[]> {
  return listKeyedStates(store, prefix, "b", functionId, limit, (state: BatchState) => ({
    key: state.key,
    size: state.events.length,
    eventIds: state.events,
    firstAt: state.first,
    runAt: state.deadline,
  }));
}
